import { MpayError } from '@mpay/protocol';
import { CompactEncrypt } from 'jose';
import { encodeUtf8 } from '../encoding.ts';
import { cryptoEngine, type P256PublicMembers } from '../engine.ts';
import { importPrivateKey } from '../keys/import.ts';
import type { PrivateJwk, PublicJwk } from '../keys/jwk.ts';
import { computedHere, sealCompact } from './compact.ts';
import type { DecryptionKey } from './decrypt.ts';
import { decryptDirect } from './decrypt.ts';
import { type EncryptOptions, encryptDirect, recipientOf } from './encrypt.ts';
import { readJweHeader } from './header.ts';

/**
 * A key for the answer to a request encrypted with ECDH-ES, derived from the
 * request's own key agreement, as Oblivious HTTP derives its response key
 * from the request's encryption context (RFC 9458 §4.4). Both ends hold
 * Z = ECDH(the request's ephemeral key, the recipient's key); the answer key
 * is HKDF-SHA-256(Z, no salt, info = `answerKeyLabel` ‖ the request's
 * protected header as sent, which holds that ephemeral key), 32 bytes. The
 * label keeps it apart from the request's own content key (JWE's Concat KDF
 * over the same Z). The answer then travels as `dir` + A256GCM: no
 * ephemeral key of its own in its header (about 250 characters less), one
 * key agreement fewer on each side, and only the requester (holding the
 * ephemeral private key, in memory for the request's lifetime) and the
 * recipient can read it, whatever becomes of the requester's long-term keys.
 */
export const answerKeyLabel = 'mpay/answer-key/v1\n';

const answerKeyBits = 256;
const p256Bits = 256;

/** HKDF's info for the answer key of the request `jwe`: the label and the request's protected header as sent. */
function answerKeyInfo(jwe: string): Uint8Array {
  return encodeUtf8(answerKeyLabel + jwe.slice(0, jwe.indexOf('.')));
}

async function answerKeyFrom(sharedSecret: ArrayBuffer, protectedHeader: string): Promise<Uint8Array> {
  const material = await crypto.subtle.importKey('raw', sharedSecret, 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: new Uint8Array(0),
      info: encodeUtf8(answerKeyLabel + protectedHeader),
    },
    material,
    answerKeyBits,
  );
  return new Uint8Array(bits);
}

/** The request and the key its answer will come under (keep it with the request, for a retry). */
export interface RequestWithAnswerKey {
  readonly jwe: string;
  readonly answerKey: Uint8Array;
}

/**
 * Encrypts a request to a party's P-256 key as `encryptTo` does (its
 * algorithm, A256GCM, its kid), with an ephemeral key made here so that the
 * answer key can be derived from it.
 */
export async function encryptToWithAnswerKey(
  plaintext: Uint8Array | string,
  recipientPublicJwk: PublicJwk,
  options: EncryptOptions = {},
): Promise<RequestWithAnswerKey> {
  const recipient = await recipientOf(recipientPublicJwk, options.contentType);
  const bytes = typeof plaintext === 'string' ? encodeUtf8(plaintext) : plaintext;
  const own = cryptoEngine().jwe;
  if (own !== undefined && computedHere(recipient.header.alg)) {
    const { compact, z } = sealCompact(own, bytes, recipient.header, recipient.cryptoKey);
    if (z === undefined) throw new MpayError('CRYPTO_KEY_INVALID');
    return { jwe: compact, answerKey: own.hkdfSha256(z, answerKeyInfo(compact), answerKeyBits / 8) };
  }
  // Extractable: jose writes its public half into the header. It lives as long as this call.
  const ephemeral = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, [
    'deriveBits',
  ]);
  const jwe = await new CompactEncrypt(bytes)
    .setProtectedHeader({ ...recipient.header })
    .setKeyManagementParameters({ epk: ephemeral.privateKey })
    .encrypt(recipient.cryptoKey);
  const sharedSecret = await crypto.subtle.deriveBits(
    { name: 'ECDH', public: recipient.cryptoKey },
    ephemeral.privateKey,
    p256Bits,
  );
  return { jwe, answerKey: await answerKeyFrom(sharedSecret, jwe.slice(0, jwe.indexOf('.'))) };
}

/**
 * The recipient's side: the answer key of a request it received, from its
 * ephemeral key and the recipient's private key (the one the request's kid
 * names). Derive it only for a request that decrypted: the key proves
 * nothing by itself. Any fault: CRYPTO_DECRYPTION_FAILED.
 */
export async function answerKeyOf(jwe: unknown, privateKey: PrivateJwk | DecryptionKey): Promise<Uint8Array> {
  const header = readJweHeader(jwe, 'key-agreement', {}) as unknown as { kid?: string; epk: JsonWebKey };
  const recipient = 'cryptoKey' in privateKey ? privateKey : await importPrivateKey(privateKey);
  if (header.kid !== undefined && header.kid !== recipient.kid)
    throw new MpayError('CRYPTO_DECRYPTION_FAILED');
  const own = cryptoEngine().jwe;
  if (own !== undefined) {
    try {
      const { kty, crv, x, y } = header.epk as P256PublicMembers;
      const z = own.agreement(recipient.cryptoKey, { kty, crv, x, y });
      return own.hkdfSha256(z, answerKeyInfo(jwe as string), answerKeyBits / 8);
    } catch (cause) {
      throw new MpayError('CRYPTO_DECRYPTION_FAILED', undefined, { cause });
    }
  }
  try {
    const { kty, crv, x, y } = header.epk;
    const ephemeral = await crypto.subtle.importKey(
      'jwk',
      { kty, crv, x, y },
      { name: 'ECDH', namedCurve: 'P-256' },
      false,
      [],
    );
    const sharedSecret = await crypto.subtle.deriveBits(
      { name: 'ECDH', public: ephemeral },
      recipient.cryptoKey,
      p256Bits,
    );
    const compact = jwe as string;
    return await answerKeyFrom(sharedSecret, compact.slice(0, compact.indexOf('.')));
  } catch (cause) {
    throw new MpayError('CRYPTO_DECRYPTION_FAILED', undefined, { cause });
  }
}

/** The answer, under the request's answer key: `dir` + A256GCM, no kid (the requester knows which request it answers). */
export function encryptAnswer(plaintext: Uint8Array | string, answerKey: Uint8Array): Promise<string> {
  return encryptDirect(plaintext, answerKey);
}

/** Opens an answer made by `encryptAnswer`; CRYPTO_DECRYPTION_FAILED under any other key. */
export function decryptAnswer(jwe: unknown, answerKey: Uint8Array): Promise<Uint8Array> {
  return decryptDirect(jwe, answerKey);
}
