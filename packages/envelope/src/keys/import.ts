import { MpayError } from '@mpay/protocol';
import { calculateJwkThumbprint, importJWK } from 'jose';
import type { KeyAgreementAlgorithm, SigningAlgorithm } from '../algorithms.ts';
import { type PrivateJwk, type PublicJwk, parsePrivateJwk, parsePublicJwk } from './jwk.ts';

/** A WebCrypto key with the algorithm it is bound to and its key id. */
export type ImportedKey =
  | {
      readonly use: 'sig';
      readonly alg: SigningAlgorithm;
      readonly kid: string;
      readonly cryptoKey: CryptoKey;
    }
  | {
      readonly use: 'enc';
      readonly alg: KeyAgreementAlgorithm;
      readonly kid: string;
      readonly cryptoKey: CryptoKey;
    };

/** RFC 7638 JWK thumbprint: base64url SHA-256 over the required members. */
export async function jwkThumbprint(jwk: PublicJwk): Promise<string> {
  const { kty, crv, x, y } = jwk;
  const members = y === undefined ? { kty, crv, x } : { kty, crv, x, y };
  const key = JSON.stringify([kty, crv, x, y ?? null]);
  const known = thumbprints.get(key);
  if (known !== undefined) return known;
  const thumbprint = await calculateJwkThumbprint(members, 'sha256');
  rememberBounded(thumbprints, key, thumbprint, thumbprintsMax);
  return thumbprint;
}

/**
 * Thumbprints computed already, by the members they hash: a pure function of
 * public values, asked again for every certificate and binding a payment
 * checks. At most thumbprintsMax, the oldest out first.
 */
const thumbprints = new Map<string, string>();
export const thumbprintsMax = 4_096;

function rememberBounded<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.set(key, value);
  if (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}

/**
 * Imports a public JWK after the allow-list checks of `parsePublicJwk`. An
 * invalid point (not on the curve, wrong size) fails with CRYPTO_KEY_INVALID.
 * The kid is the JWK's own, or its RFC 7638 thumbprint when it has none.
 */
export async function importPublicKey(value: unknown): Promise<ImportedKey> {
  const jwk = parsePublicJwk(value);
  const key = cacheKeyOf(jwk);
  const cached = importedPublicKeys.get(key);
  if (cached !== undefined) {
    // Most recently used last: the oldest is evicted first.
    importedPublicKeys.delete(key);
    importedPublicKeys.set(key, cached);
    return cached;
  }
  const imported = importParsed(jwk);
  rememberBounded(importedPublicKeys, key, imported, importedPublicKeysMax);
  // A key that fails to import is not remembered: the next call fails the same way, afresh.
  imported.catch(() => importedPublicKeys.delete(key));
  return imported;
}

/**
 * Public keys imported already, by their whole parsed JWK: a payment verifies
 * the same merchants', banks' and FSP's keys again and again, and each import
 * (and thumbprint) costs as much as a verification. A CryptoKey is immutable
 * and not extractable, and a public key is no secret, so sharing one is safe;
 * the map holds at most importedPublicKeysMax, least recently used out first.
 * Revocation is not a property of the key: it is checked where keys are
 * looked up (certificates, bindings), never skipped by this cache.
 */
const importedPublicKeys = new Map<string, Promise<ImportedKey>>();
export const importedPublicKeysMax = 4_096;

function cacheKeyOf(jwk: PublicJwk): string {
  return JSON.stringify([jwk.kty, jwk.crv, jwk.x, jwk.y ?? null, jwk.alg, jwk.use, jwk.kid ?? null]);
}

/**
 * Imports a private JWK; the CryptoKey is not extractable. A service signs
 * and decrypts with the same JWK object for its whole life, and an import
 * costs several times a signature: the import is remembered for that object
 * (weakly, so a key dropped by its holder goes with it), and used again only
 * while the object still holds exactly the members it was imported from.
 * Nothing is kept by the key's value, so no private key outlives its holder
 * here.
 */
export async function importPrivateKey(value: unknown): Promise<ImportedKey> {
  const jwk = parsePrivateJwk(value);
  if (typeof value !== 'object' || value === null) return importParsed(jwk);
  const members = JSON.stringify([cacheKeyOf(jwk), jwk.d]);
  const cached = importedPrivateKeys.get(value);
  if (cached !== undefined && cached.members === members) return cached.imported;
  const imported = importParsed(jwk);
  importedPrivateKeys.set(value, { members, imported });
  imported.catch(() => {
    if (importedPrivateKeys.get(value)?.imported === imported) importedPrivateKeys.delete(value);
  });
  return imported;
}

const importedPrivateKeys = new WeakMap<
  object,
  { readonly members: string; readonly imported: Promise<ImportedKey> }
>();

async function importParsed(jwk: PublicJwk | PrivateJwk): Promise<ImportedKey> {
  const kid = jwk.kid ?? (await jwkThumbprint(jwk));
  let cryptoKey: CryptoKey;
  try {
    const { kid: _kid, use: _use, ...material } = jwk;
    const key = await importJWK({ ...material, ext: false }, jwk.alg, { extractable: false });
    if (!(key instanceof CryptoKey)) throw new TypeError('expected a CryptoKey');
    cryptoKey = key;
  } catch (cause) {
    throw new MpayError('CRYPTO_KEY_INVALID', undefined, { cause });
  }
  return jwk.use === 'sig'
    ? { use: 'sig', alg: jwk.alg as SigningAlgorithm, kid, cryptoKey }
    : { use: 'enc', alg: jwk.alg as KeyAgreementAlgorithm, kid, cryptoKey };
}
