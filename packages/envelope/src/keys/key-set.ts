import { MpayError } from '@mpay/protocol';
import { isPlainRecord } from '../encoding.ts';
import { type PublicJwk, parsePublicJwk } from './jwk.ts';

export interface PublicJwkSet {
  readonly keys: readonly PublicJwk[];
}

/** Resolves a kid to the public key to verify with; undefined when unknown. */
export type PublicKeyResolver = (kid: string) => Promise<PublicJwk | CryptoKey | undefined>;

/**
 * An RFC 7517 JWK Set of public keys for publication. Every key must pass the
 * allow-list, be public, and carry a distinct kid.
 */
export function publicJwkSet(keys: readonly unknown[]): PublicJwkSet {
  return parseSet({ keys });
}

/**
 * A resolver over a JWK Set received from elsewhere. The whole set is refused
 * (CRYPTO_KEY_INVALID or CRYPTO_ALGORITHM_REJECTED) when any key is private,
 * outside the allow-list, without a kid, or shares its kid with another key:
 * an ambiguous set has no safe reading.
 */
export function keyResolverFromJwkSet(set: unknown): PublicKeyResolver {
  const byKid = new Map(parseSet(set).keys.map((jwk) => [jwk.kid!, jwk]));
  return async (kid) => byKid.get(kid);
}

function parseSet(set: unknown): PublicJwkSet {
  if (!isPlainRecord(set) || !Array.isArray(set.keys)) throw new MpayError('CRYPTO_KEY_INVALID', 'keys');
  const keys = set.keys.map((key) => parsePublicJwk(key));
  const kids = new Set<string>();
  for (const key of keys) {
    if (key.kid === undefined || kids.has(key.kid)) throw new MpayError('CRYPTO_KEY_INVALID', 'kid');
    kids.add(key.kid);
  }
  return Object.freeze({ keys: Object.freeze(keys) });
}
