import { MpayError } from '@mpay/protocol';
import { base64Decode, base64Encode, concatBytes, utf8Encode } from '../bytes.ts';
import { sha256 } from '../hash/sha256.ts';
import { noteKeyLengthMax } from '../limits.ts';
import { isValidKeyName } from './key-name.ts';

/**
 * The text encoding of signed-note keys (c2sp.org/signed-note, Go's
 * golang.org/x/mod/sumdb/note): `<name>+<hex key ID>+<base64(type || key)>`,
 * and `PRIVATE+KEY+` before it for a signer key. Shared by every key type.
 */

/** Signature types of c2sp.org/signed-note this package implements. */
export const signatureTypes = Object.freeze({
  /** Ed25519 note signatures (the log's own checkpoint signature). */
  ed25519: 0x01,
  /** c2sp.org/tlog-cosignature v1: timestamped Ed25519 cosignatures (witnesses). */
  cosignatureV1: 0x04,
});

export const signerKeyPrefix = 'PRIVATE+KEY+';

export interface KeyText {
  readonly name: string;
  /** uint32 key ID. */
  readonly keyHash: number;
  readonly signatureType: number;
  /** The key material after the type byte. */
  readonly key: Uint8Array;
}

export function keyInvalid(detail: string): MpayError {
  return new MpayError('CRYPTO_KEY_INVALID', detail);
}

/** Key ID = first 4 bytes, big-endian, of SHA-256(name || 0x0A || type byte || public key). */
export async function keyHash(name: string, typedPublicKey: Uint8Array): Promise<number> {
  const digest = await sha256(concatBytes(utf8Encode(`${name}\n`), typedPublicKey));
  return new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0);
}

export function formatKeyHash(hash: number): string {
  return hash.toString(16).padStart(8, '0');
}

/** Splits `name+hash+base64` (the base64 part may itself contain '+'); the key must be 1 type byte + 32 bytes. */
export function parseKeyText(text: string): KeyText {
  if (typeof text !== 'string' || text.length > noteKeyLengthMax) throw keyInvalid('key text');
  const [name = '', hashHex = ''] = text.split('+', 2);
  const typed = base64Decode(text.slice(name.length + hashHex.length + 2));
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(hashHex) || typed === undefined) {
    throw keyInvalid('key encoding');
  }
  // Both implemented types hold 32 bytes: the seed in a signer key, the public key in a verifier key.
  if (typed.length !== 33) throw keyInvalid('key algorithm');
  return { name, keyHash: Number.parseInt(hashHex, 16), signatureType: typed[0]!, key: typed.subarray(1) };
}

export function typedKey(signatureType: number, key: Uint8Array): Uint8Array {
  return concatBytes(new Uint8Array([signatureType]), key);
}

/** `<name>+<hash>+<base64(type || key)>`, with the prefix for a signer key. */
export function formatKeyText(name: string, hash: number, signatureType: number, key: Uint8Array): string {
  return `${name}+${formatKeyHash(hash)}+${base64Encode(typedKey(signatureType, key))}`;
}
