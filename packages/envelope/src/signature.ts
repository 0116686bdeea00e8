import { MpayError } from '@mpay/protocol';
import type { SigningAlgorithm } from './algorithms.ts';
import { importPublicKey } from './keys/import.ts';
import type { PublicJwk } from './keys/jwk.ts';

/** The WebCrypto parameters `jose` uses for each allowed JWS algorithm. */
const verifyParameters: Readonly<Record<SigningAlgorithm, AlgorithmIdentifier | EcdsaParams>> = Object.freeze(
  {
    ES256: { name: 'ECDSA', hash: 'SHA-256' },
    EdDSA: { name: 'Ed25519' },
  },
);

/**
 * The primitive under JWS verification: imports `publicKey` through the same
 * allow-list and import code the envelope uses, then runs the WebCrypto
 * verification `jose` runs for `alg` (ES256 signatures in the IEEE P1363 r||s
 * form). True only for a valid signature. A key outside the policy throws
 * (CRYPTO_ALGORITHM_REJECTED / CRYPTO_KEY_INVALID). Used by the Wycheproof tests.
 */
export async function verifyRawSignature(
  alg: SigningAlgorithm,
  publicKey: PublicJwk,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const imported = await importPublicKey(publicKey);
  if (imported.use !== 'sig' || imported.alg !== alg) throw new MpayError('CRYPTO_KEY_INVALID', 'alg');
  try {
    return await globalThis.crypto.subtle.verify(
      verifyParameters[alg],
      imported.cryptoKey,
      signature as Uint8Array<ArrayBuffer>,
      data as Uint8Array<ArrayBuffer>,
    );
  } catch {
    return false;
  }
}
