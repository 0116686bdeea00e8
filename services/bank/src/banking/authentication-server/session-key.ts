import { decodeBase64url } from '@mpay/envelope';
import {
  bankingSessionInfo,
  bankingSessionKeyBytes,
  type EphemeralPublicJwk,
  MpayError,
  parseEphemeralPublicJwk,
} from '@mpay/protocol';

/**
 * The session key of a banking login (the spec's "Session key"): both sides
 * compute
 *
 *   HKDF-SHA-256(ikm  = ECDH P-256 shared secret (the 32-byte x coordinate),
 *                salt = the OPAQUE session key (serenity's `sessionKey`, base64url-decoded),
 *                info = utf8(bankingSessionInfo(bank, party, sessionId)), 32 bytes)
 *
 * so the key needs both the password login (OPAQUE) and the device's fresh
 * ECDH share signed by its bound key: an attacker who learns one of them
 * learns nothing about the key. WebCrypto only (globalThis.crypto), as the
 * device computes it too.
 */

/** ECDH P-256 shared secret: the x coordinate, 256 bits. */
const sharedSecretBits = 256;
/** serenity-kit's OPAQUE session key (KE output, SHA-512): 64 bytes. */
const opaqueSessionKeyBytes = 64;

/** A fresh ECDH P-256 key pair whose private half never leaves memory (not extractable). */
export interface BankingEcdhKeyPair {
  readonly privateKey: CryptoKey;
  readonly publicJwk: EphemeralPublicJwk;
}

export async function generateBankingEcdhKeyPair(): Promise<BankingEcdhKeyPair> {
  const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
  const exported = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const { kty, crv, x, y } = exported;
  return {
    privateKey: pair.privateKey,
    publicJwk: parseEphemeralPublicJwk({ kty, crv, x, y }, 'ephemeralJwk'),
  };
}

async function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, lengthBytes: number) {
  const key = await crypto.subtle.importKey('raw', ikm as BufferSource, 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: salt as BufferSource, info: info as BufferSource },
    key,
    lengthBytes * 8,
  );
  return new Uint8Array(bits);
}

export interface BankingSessionKeyInput {
  /** This side's ECDH P-256 private key (a CryptoKey with deriveBits). */
  readonly ecdhPrivate: CryptoKey;
  /** The other side's ECDH P-256 public key. */
  readonly peerPublicJwk: EphemeralPublicJwk;
  /** The OPAQUE session key, base64url, as serenity-kit returns it on either side. */
  readonly opaqueSessionKey: string;
  readonly bankId: string;
  readonly partyId: string;
  readonly sessionId: string;
}

/**
 * The 32-byte session key (dir + A256GCM). CRYPTO_KEY_INVALID for a peer key
 * that is not a point of P-256 or an OPAQUE session key of the wrong shape.
 */
export async function deriveBankingSessionKey(input: BankingSessionKeyInput): Promise<Uint8Array> {
  const salt = decodeBase64url(input.opaqueSessionKey);
  if (salt === undefined || salt.length !== opaqueSessionKeyBytes) {
    throw new MpayError('CRYPTO_KEY_INVALID', 'opaqueSessionKey');
  }
  const peer = parseEphemeralPublicJwk(input.peerPublicJwk, 'peerPublicJwk');
  let sharedSecret: Uint8Array;
  try {
    // importKey checks that the point is on the curve (no invalid-curve attack on our share).
    const peerKey = await crypto.subtle.importKey(
      'jwk',
      { kty: peer.kty, crv: peer.crv, x: peer.x, y: peer.y },
      { name: 'ECDH', namedCurve: 'P-256' },
      false,
      [],
    );
    sharedSecret = new Uint8Array(
      await crypto.subtle.deriveBits({ name: 'ECDH', public: peerKey }, input.ecdhPrivate, sharedSecretBits),
    );
  } catch (cause) {
    throw new MpayError('CRYPTO_KEY_INVALID', 'peerPublicJwk', { cause });
  }
  const info = new TextEncoder().encode(bankingSessionInfo(input.bankId, input.partyId, input.sessionId));
  const key = await hkdfSha256(sharedSecret, salt, info, bankingSessionKeyBytes);
  sharedSecret.fill(0);
  if (key.length !== bankingSessionKeyBytes) throw new Error('assertion failed: a session key has 32 bytes');
  return key;
}
