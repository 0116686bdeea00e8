import { MpayError } from '@mpay/protocol';
import { compactDecrypt } from 'jose';
import {
  CONTENT_ENCRYPTION_ALGORITHM,
  isKeyAgreementAlgorithm,
  type KeyAgreementAlgorithm,
} from '../algorithms.ts';
import { cryptoEngine } from '../engine.ts';
import { importPrivateKey, jwkThumbprint } from '../keys/import.ts';
import type { PrivateJwk } from '../keys/jwk.ts';
import { computedHere, openCompact } from './compact.ts';
import { requireSessionKey } from './encrypt.ts';
import { type DecryptOptions, type JweProtectedHeader, readJweHeader } from './header.ts';

/** An already imported private key-agreement key. */
export interface DecryptionKey {
  readonly cryptoKey: CryptoKey;
  readonly kid: string;
  readonly alg: KeyAgreementAlgorithm;
}

export interface DecryptDirectOptions extends DecryptOptions {
  /** When set, the JWE's `kid` must be exactly this. */
  readonly kid?: string;
}

function fail(): never {
  throw new MpayError('CRYPTO_DECRYPTION_FAILED');
}

/**
 * Decrypts a JWE addressed to one of our keys, chosen by the header's `kid`
 * (required). No matching key, a key bound to another algorithm, or any
 * cryptographic failure: CRYPTO_DECRYPTION_FAILED, without saying which.
 */
export async function decryptWith(
  jwe: unknown,
  privateKeys: readonly (PrivateJwk | DecryptionKey)[],
  options: DecryptOptions = {},
): Promise<Uint8Array> {
  const header = readJweHeader(jwe, 'key-agreement', options);
  if (header.kid === undefined) fail();
  for (const candidate of privateKeys) {
    const kid =
      'cryptoKey' in candidate ? candidate.kid : (candidate.kid ?? (await jwkThumbprint(candidate)));
    if (kid === header.kid) return open(jwe as string, header, await resolveDecryptionKey(candidate));
  }
  return fail();
}

/**
 * Decrypts with one given key, whatever the header's kid (which, if present,
 * must still name this key). The layer under `decryptWith`; also what the
 * Wycheproof vectors, which carry no kid, run through.
 */
export async function decryptCompact(
  jwe: unknown,
  privateKey: PrivateJwk | DecryptionKey,
  options: DecryptOptions = {},
): Promise<Uint8Array> {
  const header = readJweHeader(jwe, 'key-agreement', options);
  const key = await resolveDecryptionKey(privateKey);
  if (header.kid !== undefined && header.kid !== key.kid) fail();
  return open(jwe as string, header, key);
}

/** Decrypts a `dir` + A256GCM JWE with a 32-byte session key. */
export async function decryptDirect(
  jwe: unknown,
  sessionKey: Uint8Array,
  options: DecryptDirectOptions = {},
): Promise<Uint8Array> {
  requireSessionKey(sessionKey);
  const header = readJweHeader(jwe, 'direct', options);
  if (options.kid !== undefined && header.kid !== options.kid) fail();
  return decryptChecked(jwe as string, header, sessionKey);
}

async function open(jwe: string, header: JweProtectedHeader, key: DecryptionKey): Promise<Uint8Array> {
  // A key is bound to one algorithm; the sender may not pick another.
  if (header.alg !== key.alg) fail();
  return decryptChecked(jwe, header, key.cryptoKey);
}

async function decryptChecked(
  jwe: string,
  header: JweProtectedHeader,
  key: CryptoKey | Uint8Array,
): Promise<Uint8Array> {
  const own = cryptoEngine().jwe;
  if (own !== undefined && computedHere(header.alg)) return openCompact(own, jwe, header, key).plaintext;
  try {
    const { plaintext } = await compactDecrypt(jwe, key, {
      keyManagementAlgorithms: [header.alg],
      contentEncryptionAlgorithms: [CONTENT_ENCRYPTION_ALGORITHM],
    });
    return plaintext;
  } catch (cause) {
    throw new MpayError('CRYPTO_DECRYPTION_FAILED', undefined, { cause });
  }
}

async function resolveDecryptionKey(candidate: PrivateJwk | DecryptionKey): Promise<DecryptionKey> {
  if ('cryptoKey' in candidate) {
    if (!isKeyAgreementAlgorithm(candidate.alg)) throw new MpayError('CRYPTO_ALGORITHM_REJECTED', 'alg');
    if (candidate.cryptoKey.type !== 'private') throw new MpayError('CRYPTO_KEY_INVALID');
    return candidate;
  }
  const imported = await importPrivateKey(candidate);
  if (imported.use !== 'enc') throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  return imported;
}
