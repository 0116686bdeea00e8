import { MpayError } from '@mpay/protocol';
import {
  CONTENT_ENCRYPTION_ALGORITHM,
  DIRECT_ALGORITHM,
  isKeyAgreementAlgorithm,
  JWE_HEADER_PARAMETERS,
  type KeyAgreementAlgorithm,
  requireHeaderParameters,
} from '../algorithms.ts';
import { decodeBase64url, isPlainRecord, parseJsonObject } from '../encoding.ts';
import { isMediaType } from '../jws/header.ts';
import { isIdentifier, jweCompactLengthLimit, resolveLimit } from '../limits.ts';

export interface JweProtectedHeader {
  readonly alg: KeyAgreementAlgorithm | typeof DIRECT_ALGORITHM;
  readonly enc: typeof CONTENT_ENCRYPTION_ALGORITHM;
  readonly kid?: string;
  readonly cty?: string;
  readonly typ?: string;
}

export type JweKind = 'key-agreement' | 'direct';

export interface DecryptOptions {
  /** Longest compact JWE accepted, in characters; default 256 KiB, at most 16 MiB. */
  readonly compactLengthMax?: number;
}

function fail(): never {
  throw new MpayError('CRYPTO_DECRYPTION_FAILED');
}

/**
 * Checks a compact JWE before any key is touched: length, five strictly
 * base64url segments, a header with only allow-listed parameters (no `zip`,
 * `crit`, `jku`, `jwk`, …), `alg` of the expected kind, `enc` A256GCM, and for
 * key agreement an ephemeral key on P-256. A forbidden algorithm, parameter or
 * curve is CRYPTO_ALGORITHM_REJECTED; anything else CRYPTO_DECRYPTION_FAILED.
 */
export function readJweHeader(jwe: unknown, kind: JweKind, options: DecryptOptions): JweProtectedHeader {
  const compactLengthMax = resolveLimit('compactLengthMax', options.compactLengthMax, jweCompactLengthLimit);
  if (typeof jwe !== 'string' || jwe.length > compactLengthMax) fail();
  const segments = jwe.split('.').map((segment) => decodeBase64url(segment));
  if (segments.length !== 5 || segments.some((segment) => segment === undefined)) fail();
  const header = parseJsonObject(segments[0]!);
  if (header === undefined) fail();
  requireHeaderParameters(header, JWE_HEADER_PARAMETERS);
  const { alg, enc, kid, cty, typ, epk } = header;
  const algorithmAllowed = kind === 'direct' ? alg === DIRECT_ALGORITHM : isKeyAgreementAlgorithm(alg);
  if (!algorithmAllowed || enc !== CONTENT_ENCRYPTION_ALGORITHM) {
    throw new MpayError('CRYPTO_ALGORITHM_REJECTED', 'alg');
  }
  if (kid !== undefined && !isIdentifier(kid)) fail();
  if ((cty !== undefined && !isMediaType(cty)) || (typ !== undefined && !isMediaType(typ))) fail();
  if (kind === 'direct' ? epk !== undefined : !isEphemeralKey(epk)) fail();
  return header as unknown as JweProtectedHeader;
}

/** An ephemeral public key (RFC 7518 §4.6.1.1) on P-256 and nothing private; jose validates the point. */
function isEphemeralKey(epk: unknown): boolean {
  if (!isPlainRecord(epk)) return false;
  if (epk.kty !== 'EC' || epk.crv !== 'P-256') throw new MpayError('CRYPTO_ALGORITHM_REJECTED', 'epk');
  const members = Object.keys(epk);
  return members.every((name) => ['kty', 'crv', 'x', 'y'].includes(name)) && members.length === 4;
}
