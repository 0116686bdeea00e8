import { isMpayError, MpayError } from '@mpay/protocol';
import { cryptoEngine } from '../engine.ts';
import { importPublicKey } from '../keys/import.ts';
import type { PublicJwk } from '../keys/jwk.ts';
import { jwsCompactLengthLimit, resolveLimit } from '../limits.ts';
import { type JwsProtectedHeader, parseProtectedHeader, splitCompact } from './header.ts';

/**
 * Finds the public key for a kid in our own registry (never in the message).
 * Return undefined for an unknown kid; an MpayError thrown here (e.g.
 * KEY_UNKNOWN, PARTY_UNKNOWN) reaches the caller unchanged.
 */
export type VerificationKeyResolver = (
  kid: string,
  header: JwsProtectedHeader,
) => Promise<PublicJwk | CryptoKey | undefined> | PublicJwk | CryptoKey | undefined;

export interface CompactVerifyOptions {
  /** Expected JWS `typ`; undefined requires the header to have none (foreign test vectors only). */
  readonly typ: string | undefined;
  /** Longest compact JWS accepted, in characters; default 64 KiB, at most 1 MiB. */
  readonly compactLengthMax?: number;
}

export interface VerifiedCompact {
  readonly header: JwsProtectedHeader;
  readonly payloadBytes: Uint8Array;
}

/**
 * The signature layer of `verifyPayload`: length limit, strict base64url,
 * header policy (before any key is looked up), key resolution, then the
 * signature through this process's crypto engine (./engine.ts) under the header's
 * allow-listed algorithm, which the key must fit.
 * Says nothing about the payload. Every failure after the header policy is a
 * bare CRYPTO_VERIFICATION_FAILED.
 */
export async function verifyCompactSignature(
  jws: unknown,
  resolveKey: VerificationKeyResolver,
  options: CompactVerifyOptions,
): Promise<VerifiedCompact> {
  const compactLengthMax = resolveLimit('compactLengthMax', options.compactLengthMax, jwsCompactLengthLimit);
  if (typeof jws !== 'string' || jws.length > compactLengthMax)
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  const segments = splitCompact(jws);
  if (segments === undefined) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  const header = parseProtectedHeader(segments.header, options.typ);
  const key = await resolveVerificationKey(resolveKey, header);
  // The signing input is the message's own first two segments, as they came (RFC 7515 §5.2).
  const signingInput = textEncoder.encode(jws.slice(0, jws.lastIndexOf('.')));
  let valid: boolean;
  try {
    valid = await cryptoEngine().verify(header.alg, key, segments.signature, signingInput);
  } catch (cause) {
    throw new MpayError('CRYPTO_VERIFICATION_FAILED', undefined, { cause });
  }
  if (valid !== true) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  const payloadBytes = segments.payload;
  return Object.freeze({ header, payloadBytes });
}

const textEncoder = new TextEncoder();

async function resolveVerificationKey(
  resolveKey: VerificationKeyResolver,
  header: JwsProtectedHeader,
): Promise<CryptoKey> {
  let resolved: PublicJwk | CryptoKey | undefined;
  try {
    resolved = await resolveKey(header.kid, header);
  } catch (error) {
    if (isMpayError(error)) throw error;
    throw new MpayError('CRYPTO_VERIFICATION_FAILED', undefined, { cause: error });
  }
  if (resolved === undefined || resolved === null) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  if (resolved instanceof CryptoKey) {
    // The engine checks that the CryptoKey's algorithm, curve and usages fit `alg`.
    if (resolved.type !== 'public') throw new MpayError('CRYPTO_VERIFICATION_FAILED');
    return resolved;
  }
  const imported = await importPublicKey(resolved);
  // A key is bound to its algorithm: a token may not choose another one.
  if (imported.use !== 'sig' || imported.alg !== header.alg)
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  return imported.cryptoKey;
}
