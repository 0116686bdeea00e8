import { MpayError } from '@mpay/protocol';
import type { KeyUse } from '../algorithms.ts';
import { importPublicKey, jwkThumbprint } from '../keys/import.ts';
import { type PublicJwk, parsePublicJwk } from '../keys/jwk.ts';

/** JWS `typ` of a key certificate; a message verifier (typ 'mpay+jws') never accepts one. */
export const CERTIFICATE_TYPE = 'mpay-key-certificate+jws';

/** The signed members of a key certificate, and no others. */
export interface KeyCertificatePayload {
  /** The FSP (gateway) that vouches for the keys. */
  readonly iss: string;
  /** The party the keys belong to. */
  readonly sub: string;
  /** Issued at, not before, expires at: seconds since the epoch. */
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
  readonly serialNumber: string;
  readonly signingJwk: PublicJwk;
  readonly encryptionJwk: PublicJwk;
}

export const CERTIFICATE_MEMBERS: readonly string[] = [
  'encryptionJwk',
  'exp',
  'iat',
  'iss',
  'nbf',
  'serialNumber',
  'signingJwk',
  'sub',
];

const serialNumberPattern = /^[A-Za-z0-9_-]{1,64}$/;

export function isSerialNumber(value: unknown): value is string {
  return typeof value === 'string' && serialNumberPattern.test(value);
}

export function isSeconds(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * A public key fit to be certified for `use`: allow-listed, a valid point, and
 * a kid equal to its RFC 7638 thumbprint (added when missing), so a
 * certificate cannot pair a kid with a different key.
 */
export async function certifiableKey(value: unknown, use: KeyUse): Promise<PublicJwk> {
  const jwk = parsePublicJwk(value);
  if (jwk.use !== use) throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  const thumbprint = await jwkThumbprint(jwk);
  if (jwk.kid !== undefined && jwk.kid !== thumbprint) throw new MpayError('CRYPTO_KEY_INVALID', 'kid');
  await importPublicKey(jwk);
  return Object.freeze({ ...jwk, kid: thumbprint });
}
