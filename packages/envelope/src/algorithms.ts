import { MpayError } from '@mpay/protocol';

/**
 * The only algorithms mpay accepts. Everything not listed is rejected with
 * CRYPTO_ALGORITHM_REJECTED before any cryptography runs: `none`, every HMAC
 * (HS*, the classic public-key-as-secret confusion), every RSA (RS*, PS*,
 * RSA-OAEP, RSA1_5; rejected at every modulus size, so there is no key-size
 * rule to get wrong), P-192, P-384, P-521, secp256k1, X25519/X448, AES key wrap
 * without key agreement, and every content encryption other than A256GCM.
 */

/** JWS algorithms (RFC 7515/7518/8037). ES256 is the default; EdDSA means Ed25519 only. */
export const SIGNING_ALGORITHMS = ['ES256', 'EdDSA'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];
export const SIGNING_ALGORITHM_DEFAULT: SigningAlgorithm = 'ES256';

/** JWE key management with a recipient's P-256 public key (RFC 7518 §4.6). */
export const KEY_AGREEMENT_ALGORITHMS = ['ECDH-ES', 'ECDH-ES+A256KW'] as const;
export type KeyAgreementAlgorithm = (typeof KEY_AGREEMENT_ALGORITHMS)[number];
export const KEY_AGREEMENT_ALGORITHM_DEFAULT: KeyAgreementAlgorithm = 'ECDH-ES';

/** JWE key management with a shared 256-bit session key (RFC 7518 §4.5). */
export const DIRECT_ALGORITHM = 'dir';
export const SESSION_KEY_LENGTH_BYTES = 32;

/** The one JWE content encryption (RFC 7518 §5.3). */
export const CONTENT_ENCRYPTION_ALGORITHM = 'A256GCM';

export type KeyUse = 'sig' | 'enc';
export type KeyAlgorithm = SigningAlgorithm | KeyAgreementAlgorithm;

/** The key type and curve each allowed algorithm requires. */
export const keyTypeForAlgorithm: Readonly<
  Record<KeyAlgorithm, { kty: 'EC' | 'OKP'; crv: string; use: KeyUse }>
> = Object.freeze({
  ES256: { kty: 'EC', crv: 'P-256', use: 'sig' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519', use: 'sig' },
  'ECDH-ES': { kty: 'EC', crv: 'P-256', use: 'enc' },
  'ECDH-ES+A256KW': { kty: 'EC', crv: 'P-256', use: 'enc' },
});

/**
 * Protected header parameters we accept; any other name is rejected. This
 * shuts out `crit`, `b64`, `zip`, and every way of naming a key from the
 * message itself (`jwk`, `jku`, `x5u`, `x5c`, `x5t`): keys come from our own
 * registry, never from the message.
 */
export const JWS_HEADER_PARAMETERS: ReadonlySet<string> = new Set(['alg', 'kid', 'typ']);
export const JWE_HEADER_PARAMETERS: ReadonlySet<string> = new Set(['alg', 'enc', 'kid', 'epk', 'cty', 'typ']);

export function isSigningAlgorithm(value: unknown): value is SigningAlgorithm {
  return typeof value === 'string' && (SIGNING_ALGORITHMS as readonly string[]).includes(value);
}

export function isKeyAgreementAlgorithm(value: unknown): value is KeyAgreementAlgorithm {
  return typeof value === 'string' && (KEY_AGREEMENT_ALGORITHMS as readonly string[]).includes(value);
}

export function isKeyAlgorithm(value: unknown): value is KeyAlgorithm {
  return isSigningAlgorithm(value) || isKeyAgreementAlgorithm(value);
}

export function requireSigningAlgorithm(value: unknown): SigningAlgorithm {
  if (!isSigningAlgorithm(value)) throw new MpayError('CRYPTO_ALGORITHM_REJECTED', 'alg');
  return value;
}

/** Rejects a header carrying any parameter outside `allowed`. */
export function requireHeaderParameters(header: Record<string, unknown>, allowed: ReadonlySet<string>): void {
  for (const name of Object.keys(header)) {
    if (!allowed.has(name)) throw new MpayError('CRYPTO_ALGORITHM_REJECTED', 'header');
  }
}
