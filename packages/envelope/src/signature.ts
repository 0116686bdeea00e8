import { MpayError } from '@mpay/protocol';
import type { SigningAlgorithm } from './algorithms.ts';
import { type CryptoEngine, cryptoEngine } from './engine.ts';
import { importPublicKey } from './keys/import.ts';
import type { PublicJwk } from './keys/jwk.ts';

/**
 * The primitive under JWS verification: imports `publicKey` through the same
 * allow-list and import code the envelope uses, then verifies with `engine`
 * (this process's by default) as `verifyCompactSignature` does (ES256
 * signatures in the IEEE P1363 r||s form). True only for a valid signature. A
 * key outside the policy throws (CRYPTO_ALGORITHM_REJECTED /
 * CRYPTO_KEY_INVALID). Used by the Wycheproof tests, through both engines.
 */
export async function verifyRawSignature(
  alg: SigningAlgorithm,
  publicKey: PublicJwk,
  data: Uint8Array,
  signature: Uint8Array,
  engine: CryptoEngine = cryptoEngine(),
): Promise<boolean> {
  const imported = await importPublicKey(publicKey);
  if (imported.use !== 'sig' || imported.alg !== alg) throw new MpayError('CRYPTO_KEY_INVALID', 'alg');
  return engine.verify(alg, imported.cryptoKey, signature, data);
}
