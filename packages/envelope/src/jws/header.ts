import { canonicalize, MpayError } from '@mpay/protocol';
import {
  JWS_HEADER_PARAMETERS,
  requireHeaderParameters,
  requireSigningAlgorithm,
  type SigningAlgorithm,
} from '../algorithms.ts';
import { decodeBase64url, decodeUtf8, parseJsonObject } from '../encoding.ts';
import { isIdentifier } from '../limits.ts';

/** The JWS Protected Header mpay writes and accepts: exactly these members. */
export interface JwsProtectedHeader {
  readonly alg: SigningAlgorithm;
  readonly kid: string;
  /** Always present on mpay messages and certificates. */
  readonly typ?: string;
}

/** Media type of a signed mpay message (RFC 7515 §4.1.9). */
export const MESSAGE_TYPE = 'mpay+jws';
const typPattern = /^[A-Za-z0-9.+_-]{1,64}$/;

export function isMediaType(value: unknown): value is string {
  return typeof value === 'string' && typPattern.test(value);
}

/** The compact segments of a JWS, each strictly base64url, or undefined. */
export function splitCompact(
  jws: string,
): { header: Uint8Array; payload: Uint8Array; signature: Uint8Array } | undefined {
  const segments = jws.split('.');
  if (segments.length !== 3) return undefined;
  const [header, payload, signature] = segments.map((segment) => decodeBase64url(segment));
  if (header === undefined || payload === undefined || signature === undefined) return undefined;
  return { header, payload, signature };
}

/**
 * Parses and checks a protected header before any key is looked up: only
 * `alg`, `kid`, `typ`; `alg` in the allow-list; canonical JSON (RFC 8785, so
 * no duplicate member names that another parser could read differently); a
 * kid; `typ` the expected one (absent when none is expected). Throws
 * CRYPTO_ALGORITHM_REJECTED for a forbidden algorithm or parameter,
 * CRYPTO_VERIFICATION_FAILED for anything else.
 */
export function parseProtectedHeader(
  bytes: Uint8Array,
  expectedType: string | undefined,
): JwsProtectedHeader {
  const header = parseJsonObject(bytes);
  if (header === undefined) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  requireHeaderParameters(header, JWS_HEADER_PARAMETERS);
  const alg = requireSigningAlgorithm(header.alg);
  if (canonicalizeOrUndefined(header) !== decodeUtf8(bytes))
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  if (!isIdentifier(header.kid) || header.typ !== expectedType)
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  return Object.freeze(
    expectedType === undefined ? { alg, kid: header.kid } : { alg, kid: header.kid, typ: expectedType },
  );
}

function canonicalizeOrUndefined(value: unknown): string | undefined {
  try {
    return canonicalize(value);
  } catch {
    return undefined;
  }
}
