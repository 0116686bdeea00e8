import { assert, MpayError } from '@mpay/protocol';
import { isPlainRecord, randomBase64url } from './encoding.ts';
import {
  clockSkewSecondsLimit,
  isIdentifier,
  maxAgeSecondsLimit,
  nowSeconds,
  resolveLimit,
} from './limits.ts';

/**
 * The claims every signed mpay payload carries, so that a signature names who
 * signed it, for whom, for which transaction, when, and once (DESIGN.md: a
 * signed message must not be re-encryptable to someone else or replayable).
 */
export interface MessageClaims {
  /** Issuer: the signing party's id. */
  readonly iss: string;
  /** Audience: the one party id the message is for. */
  readonly aud: string;
  /** Transaction id the message belongs to. */
  readonly txn: string;
  /** Issued at, seconds since the epoch. */
  readonly iat: number;
  /** Expires at, seconds since the epoch. */
  readonly exp: number;
  /** At least 128 random bits, base64url; the gateway rejects a nonce seen before. */
  readonly nonce: string;
}

export const CLAIM_NAMES: readonly (keyof MessageClaims)[] = ['iss', 'aud', 'txn', 'iat', 'exp', 'nonce'];

export const NONCE_LENGTH_BYTES = 16;
/** 16 bytes are 22 base64url characters; accept up to 64 bytes. */
const noncePattern = /^[A-Za-z0-9_-]{22,86}$/;

export interface ClaimsInput {
  readonly issuer: string;
  readonly audience: string;
  readonly transactionId: string;
  readonly expiresInSeconds: number;
  /** Clock in milliseconds since the epoch; defaults to Date.now. */
  readonly now?: () => number;
}

export interface ClaimsExpectations {
  readonly audience: string;
  readonly issuer?: string;
  readonly transactionId?: string;
}

export interface ClaimsOptions {
  /** Default 60, at most 300. */
  readonly clockSkewSeconds?: number;
  /** Longest accepted lifetime (exp - iat) and age (now - iat, plus skew). Default 300, at most 86 400. */
  readonly maxAgeSeconds?: number;
  /** Clock in milliseconds since the epoch; defaults to Date.now. */
  readonly now?: () => number;
}

/** Fresh claims for a message about to be signed, with a new random nonce. */
export function issueClaims(input: ClaimsInput): MessageClaims {
  assert(isIdentifier(input.issuer), 'issuer must be a non-empty identifier');
  assert(isIdentifier(input.audience), 'audience must be a non-empty identifier');
  assert(isIdentifier(input.transactionId), 'transactionId must be a non-empty identifier');
  const expiresInSeconds = resolveLimit('expiresInSeconds', input.expiresInSeconds, {
    ...maxAgeSecondsLimit,
    default: Number.NaN,
  });
  const iat = nowSeconds(input.now);
  return Object.freeze({
    iss: input.issuer,
    aud: input.audience,
    txn: input.transactionId,
    iat,
    exp: iat + expiresInSeconds,
    nonce: randomBase64url(NONCE_LENGTH_BYTES),
  });
}

/**
 * Checks the claims of a verified payload. Throws CLAIMS_INVALID (detail: the
 * claim name) for a missing, malformed or unexpected claim and MESSAGE_EXPIRED
 * for a message past its expiry or older than the accepted age. Replay (a
 * nonce seen before) is the caller's check; this only requires the nonce.
 */
export function verifyClaims(
  claims: unknown,
  expectations: ClaimsExpectations,
  options: ClaimsOptions = {},
): MessageClaims {
  const clockSkewSeconds = resolveLimit('clockSkewSeconds', options.clockSkewSeconds, clockSkewSecondsLimit);
  const maxAgeSeconds = resolveLimit('maxAgeSeconds', options.maxAgeSeconds, maxAgeSecondsLimit);
  assert(isIdentifier(expectations.audience), 'expectations.audience is required');
  const checked = requireClaimTypes(claims);
  const now = nowSeconds(options.now);

  if (checked.iat > now + clockSkewSeconds) throw new MpayError('CLAIMS_INVALID', 'iat');
  if (checked.exp <= checked.iat) throw new MpayError('CLAIMS_INVALID', 'exp');
  if (checked.exp - checked.iat > maxAgeSeconds) throw new MpayError('CLAIMS_INVALID', 'exp');
  if (checked.exp <= now - clockSkewSeconds) throw new MpayError('MESSAGE_EXPIRED');
  // Implied by the two checks above (now - iat < exp + skew - iat <= maxAge + skew); kept as an invariant.
  assert(now - checked.iat <= maxAgeSeconds + clockSkewSeconds, 'message age bounded by lifetime and skew');

  if (checked.aud !== expectations.audience) throw new MpayError('CLAIMS_INVALID', 'aud');
  if (expectations.issuer !== undefined && checked.iss !== expectations.issuer) {
    throw new MpayError('CLAIMS_INVALID', 'iss');
  }
  if (expectations.transactionId !== undefined && checked.txn !== expectations.transactionId) {
    throw new MpayError('CLAIMS_INVALID', 'txn');
  }
  return checked;
}

function requireClaimTypes(claims: unknown): MessageClaims {
  if (!isPlainRecord(claims)) throw new MpayError('CLAIMS_INVALID');
  for (const name of ['iss', 'aud', 'txn'] as const) {
    if (!isIdentifier(claims[name])) throw new MpayError('CLAIMS_INVALID', name);
  }
  for (const name of ['iat', 'exp'] as const) {
    const value = claims[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new MpayError('CLAIMS_INVALID', name);
    }
  }
  if (typeof claims.nonce !== 'string' || !noncePattern.test(claims.nonce)) {
    throw new MpayError('CLAIMS_INVALID', 'nonce');
  }
  const { iss, aud, txn, iat, exp, nonce } = claims as unknown as MessageClaims;
  return Object.freeze({ iss, aud, txn, iat, exp, nonce });
}
