import { assert } from '@mpay/protocol';
import { concatBytes } from '../bytes.ts';

/** Ed25519 through WebCrypto, so the same code runs in Node and browsers. */

export const ed25519SeedBytes = 32;
export const ed25519PublicKeyBytes = 32;
export const ed25519SignatureBytes = 64;

/** PKCS #8 wrapping of a raw Ed25519 seed (RFC 8410): WebCrypto imports private keys only this way. */
const pkcs8SeedPrefix = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

export interface Ed25519KeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: Uint8Array;
}

function base64UrlToBytes(text: string): Uint8Array {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

/** Imports a 32-byte seed; derives the public key through a JWK export of the private key. */
export async function importSeed(seed: Uint8Array): Promise<Ed25519KeyPair> {
  assert(seed.length === ed25519SeedBytes, 'Ed25519 seed is 32 bytes');
  const extractable = await crypto.subtle.importKey(
    'pkcs8',
    concatBytes(pkcs8SeedPrefix, seed),
    'Ed25519',
    true,
    ['sign'],
  );
  const jwk = await crypto.subtle.exportKey('jwk', extractable);
  assert(typeof jwk.x === 'string', 'Ed25519 JWK has x');
  const publicKey = base64UrlToBytes(jwk.x);
  assert(publicKey.length === ed25519PublicKeyBytes, 'Ed25519 public key is 32 bytes');
  const privateKey = await crypto.subtle.importKey(
    'pkcs8',
    concatBytes(pkcs8SeedPrefix, seed),
    'Ed25519',
    false,
    ['sign'],
  );
  return { privateKey, publicKey };
}

/** A fresh key pair, returned as its seed (what the signer key text stores). */
export async function generateSeed(): Promise<Uint8Array> {
  const pair = (await crypto.subtle.generateKey('Ed25519', true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
  assert(pkcs8.length === pkcs8SeedPrefix.length + ed25519SeedBytes, 'PKCS #8 Ed25519 key is 48 bytes');
  return pkcs8.slice(pkcs8SeedPrefix.length);
}

export async function importPublicKey(publicKey: Uint8Array): Promise<CryptoKey> {
  assert(publicKey.length === ed25519PublicKeyBytes, 'Ed25519 public key is 32 bytes');
  return crypto.subtle.importKey('raw', concatBytes(publicKey), 'Ed25519', false, ['verify']);
}

export async function sign(privateKey: CryptoKey, message: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign('Ed25519', privateKey, concatBytes(message)));
}

/** False for a wrong-length signature instead of an exception, as Go's ed25519.Verify. */
export async function verify(
  publicKey: CryptoKey,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (signature.length !== ed25519SignatureBytes) return false;
  return crypto.subtle.verify('Ed25519', publicKey, concatBytes(signature), concatBytes(message));
}
