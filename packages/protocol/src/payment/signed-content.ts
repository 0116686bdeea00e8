import { canonicalize } from '../canonical/index.ts';

/** Claim names the envelope adds to every signed payload (RFC 7519 names plus `txn`, `nonce`). */
export const envelopeClaimNames: readonly string[] = Object.freeze([
  'iss',
  'aud',
  'txn',
  'iat',
  'exp',
  'nonce',
]);

/**
 * True when a verified JWS payload, without the envelope claims, is exactly
 * `content` in canonical form. This is how a signature is tied to the message
 * it travels with: change one field of the message and it no longer matches.
 */
export function signedContentMatches(payload: Readonly<Record<string, unknown>>, content: object): boolean {
  const signed: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(payload))
    if (!envelopeClaimNames.includes(name)) signed[name] = value;
  return canonicalize(signed) === canonicalize(content);
}
