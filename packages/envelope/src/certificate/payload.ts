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
  /**
   * The subject's display name as the FSP registered it (`isCertifiedName`):
   * what a wallet shows as the payee. Optional, so that certificates issued
   * before it existed still verify; a wallet shows no certified name for them.
   */
  readonly name?: string;
}

/** The members every certificate has (sorted); `CERTIFICATE_OPTIONAL_MEMBERS` may come in addition. */
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

export const CERTIFICATE_OPTIONAL_MEMBERS: readonly string[] = ['name'];

/** Whether `payload` has every certificate member, and no member a certificate does not define. */
export function hasCertificateMembers(payload: Readonly<Record<string, unknown>>): boolean {
  const members = Object.keys(payload);
  return (
    CERTIFICATE_MEMBERS.every((member) => members.includes(member)) &&
    members.every(
      (member) => CERTIFICATE_MEMBERS.includes(member) || CERTIFICATE_OPTIONAL_MEMBERS.includes(member),
    )
  );
}

/**
 * Longest certified display name, in UTF-16 code units (as the FSP's registry
 * measures the display name it accepts).
 */
export const CERTIFIED_NAME_LENGTH_MAX = 100;

/**
 * What a certified name may not contain, because a wallet shows it as the
 * payee and the customer must read what the FSP certified: control
 * characters (C0, DEL, C1), line and paragraph separators, bidirectional
 * marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F,
 * U+202A–U+202E, U+2066–U+2069: they make text read differently from what it
 * is), invisible characters that hide a difference (U+200B zero width space,
 * U+2060–U+2064, U+FEFF), the non-characters U+FFFE and U+FFFF, and unpaired
 * surrogates (with the `u` flag the surrogate range matches only those).
 * An explicit list rather than a Unicode category, so that every runtime,
 * whatever its Unicode version, accepts exactly the same names.
 */
const forbiddenInName =
  /[\p{Cc}\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufffe\uffff]|[\ud800-\udfff]/u;

/**
 * The one rule for a certified display name, at issue and at verification:
 * 1 to `CERTIFIED_NAME_LENGTH_MAX` UTF-16 code units, no leading or trailing
 * white space, and none of the characters `forbiddenInName` lists.
 */
export function isCertifiedName(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= CERTIFIED_NAME_LENGTH_MAX &&
    value.trim() === value &&
    !forbiddenInName.test(value)
  );
}

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
