import { canonicalBytes, MpayError } from '@mpay/protocol';
import { type ClaimsExpectations, type ClaimsOptions, type MessageClaims, verifyClaims } from '../claims.ts';
import { bytesEqual, parseJsonObject } from '../encoding.ts';
import { type JwsProtectedHeader, MESSAGE_TYPE, splitCompact } from './header.ts';
import { type VerificationKeyResolver, verifyCompactSignature } from './verify-compact.ts';

export interface VerifyOptions extends ClaimsOptions {
  /** Expected JWS `typ`; default 'mpay+jws'. */
  readonly typ?: string;
  /** Longest compact JWS accepted, in characters; default 64 KiB, at most 1 MiB. */
  readonly compactLengthMax?: number;
}

export interface VerifiedPayload {
  /** The whole signed object, claims included. */
  readonly payload: Readonly<Record<string, unknown>>;
  readonly claims: MessageClaims;
  readonly header: JwsProtectedHeader;
  readonly kid: string;
}

/**
 * Verifies a message signed by `signPayload`: signature (see
 * `verifyCompactSignature`), payload is a JSON object in exactly its RFC 8785
 * canonical form (any other spelling is refused, even with a valid signature),
 * then `verifyClaims`. Replay detection (nonce seen before) is the caller's.
 */
export async function verifyPayload(
  jws: unknown,
  resolveKey: VerificationKeyResolver,
  expectations: ClaimsExpectations,
  options: VerifyOptions = {},
): Promise<VerifiedPayload> {
  const { header, payloadBytes } = await verifyCompactSignature(jws, resolveKey, {
    typ: options.typ ?? MESSAGE_TYPE,
    compactLengthMax: options.compactLengthMax,
  });
  const payload = parseCanonicalObject(payloadBytes);
  if (payload === undefined) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  const claims = verifyClaims(payload, expectations, options);
  return Object.freeze({ payload: Object.freeze(payload), claims, header, kid: header.kid });
}

/** The JSON object in `bytes` if `bytes` are its canonical form, else undefined. */
export function parseCanonicalObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  const value = parseJsonObject(bytes);
  if (value === undefined) return undefined;
  try {
    return bytesEqual(canonicalBytes(value), bytes) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * FOR DISPLAY AND DEBUGGING ONLY: header and payload of a compact JWS with no
 * signature, policy or claims check at all. Never base a decision on it.
 */
export function decodeUnverified(jws: string): { header: unknown; payload: unknown } | undefined {
  const segments = typeof jws === 'string' ? splitCompact(jws) : undefined;
  if (segments === undefined) return undefined;
  return { header: parseJsonObject(segments.header), payload: parseJsonObject(segments.payload) };
}
