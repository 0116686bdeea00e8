import { MpayError } from '@mpay/protocol';
import {
  isKeyAlgorithm,
  type KeyAlgorithm,
  type KeyUse,
  keyTypeForAlgorithm,
  type SigningAlgorithm,
} from '../algorithms.ts';
import { decodeBase64url, isPlainRecord } from '../encoding.ts';
import { isIdentifier } from '../limits.ts';

/** A public key as mpay stores and exchanges it: always bound to one algorithm. */
export interface PublicJwk {
  readonly kty: 'EC' | 'OKP';
  readonly crv: 'P-256' | 'Ed25519';
  readonly x: string;
  readonly y?: string;
  readonly alg: KeyAlgorithm;
  readonly use: KeyUse;
  readonly kid?: string;
}

export interface PrivateJwk extends PublicJwk {
  readonly d: string;
}

export type PublicSigningJwk = PublicJwk & { readonly alg: SigningAlgorithm; readonly use: 'sig' };

const COORDINATE_LENGTH_BYTES = 32;
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'];
const keyOperations: Readonly<Record<KeyUse, readonly string[]>> = {
  sig: ['sign', 'verify'],
  enc: ['deriveBits', 'deriveKey'],
};

/**
 * Checks a JWK against the allow-list and returns it reduced to the members
 * mpay uses. `alg` is required: a key is bound to one algorithm, so a P-256 key
 * registered for ECDH can never be used to verify ECDSA, nor the reverse.
 * Throws CRYPTO_ALGORITHM_REJECTED for a key type, curve or algorithm outside
 * the allow-list (RSA and oct keys included) and CRYPTO_KEY_INVALID for a
 * malformed key. Point validity is checked on import (WebCrypto).
 */
export function parsePublicJwk(value: unknown): PublicJwk {
  const jwk = requireRecord(value);
  const normalized = normalize(jwk);
  if (privateMembers.some((name) => jwk[name] !== undefined))
    throw new MpayError('CRYPTO_KEY_INVALID', 'private');
  return normalized;
}

export function parsePrivateJwk(value: unknown): PrivateJwk {
  const jwk = requireRecord(value);
  const normalized = normalize(jwk);
  if (privateMembers.some((name) => name !== 'd' && jwk[name] !== undefined)) {
    throw new MpayError('CRYPTO_KEY_INVALID', 'private');
  }
  requireCoordinate(jwk.d);
  return { ...normalized, d: jwk.d as string };
}

/** The public half of a private JWK. */
export function publicPart(jwk: PrivateJwk): PublicJwk {
  const { d: _d, ...publicJwk } = jwk;
  return publicJwk;
}

function requireRecord(value: unknown): Record<string, unknown> {
  if (!isPlainRecord(value)) throw new MpayError('CRYPTO_KEY_INVALID', 'jwk');
  return value;
}

function normalize(jwk: Record<string, unknown>): PublicJwk {
  if (jwk.kty !== 'EC' && jwk.kty !== 'OKP') throw new MpayError('CRYPTO_ALGORITHM_REJECTED', 'kty');
  if (!isKeyAlgorithm(jwk.alg)) throw new MpayError('CRYPTO_ALGORITHM_REJECTED', 'alg');
  const expected = keyTypeForAlgorithm[jwk.alg];
  if (jwk.kty !== expected.kty || jwk.crv !== expected.crv)
    throw new MpayError('CRYPTO_ALGORITHM_REJECTED', 'crv');
  if (jwk.use !== undefined && jwk.use !== expected.use) throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  requireKeyOperations(jwk.key_ops, expected.use);
  if (jwk.kid !== undefined && !isIdentifier(jwk.kid)) throw new MpayError('CRYPTO_KEY_INVALID', 'kid');
  requireCoordinate(jwk.x);
  if (expected.kty === 'EC') requireCoordinate(jwk.y);
  else if (jwk.y !== undefined) throw new MpayError('CRYPTO_KEY_INVALID', 'y');
  return {
    kty: expected.kty,
    crv: expected.crv as PublicJwk['crv'],
    x: jwk.x as string,
    ...(expected.kty === 'EC' ? { y: jwk.y as string } : {}),
    alg: jwk.alg,
    use: expected.use,
    ...(jwk.kid === undefined ? {} : { kid: jwk.kid as string }),
  };
}

function requireKeyOperations(value: unknown, use: KeyUse): void {
  if (value === undefined) return;
  const allowed = keyOperations[use];
  if (!Array.isArray(value) || !value.every((operation) => allowed.includes(operation))) {
    throw new MpayError('CRYPTO_KEY_INVALID', 'key_ops');
  }
}

function requireCoordinate(value: unknown): void {
  const bytes = typeof value === 'string' ? decodeBase64url(value) : undefined;
  if (bytes?.length !== COORDINATE_LENGTH_BYTES) throw new MpayError('CRYPTO_KEY_INVALID', 'coordinate');
}
