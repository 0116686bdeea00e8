import { decryptWith, type VerifiedPayload, verifyPayload } from '@mpay/envelope';
import {
  type ImsMessage,
  imsFromJson,
  imsFromXml,
  isMpayError,
  MpayError,
  signedContentMatches,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import { keyLookup, partySigningKeyResolver } from '../registry/keys.ts';

/** Decrypts a message sent to the FSP into its UTF-8 text. */
export async function openToFsp(context: GatewayContext, jwe: string): Promise<string> {
  const bytes = await decryptWith(jwe, [context.fsp.encryption.privateJwk]);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new MpayError('MESSAGE_INVALID', 'utf-8');
  }
}

/** A JSON object with one string member `name` (e.g. `{"decline": "<jws>"}`), or MESSAGE_INVALID. */
export function jsonMember(plaintext: string, name: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext);
  } catch {
    throw new MpayError('MESSAGE_INVALID', 'json');
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    Array.isArray(parsed) ||
    !Object.hasOwn(parsed, name)
  ) {
    throw new MpayError('MESSAGE_INVALID', name);
  }
  return (parsed as Record<string, unknown>)[name];
}

/** Decrypts a message sent to the FSP; JSON and the iMS XML of the paper are both accepted. */
export async function openMessageToFsp(
  context: GatewayContext,
  jwe: string,
): Promise<{ message: ImsMessage }> {
  const plaintext = await openToFsp(context, jwe);
  if (plaintext.trimStart().startsWith('<')) return { message: imsFromXml(plaintext) };
  return { message: imsFromJson(jsonMember(plaintext, 'ims')) };
}

/**
 * Signature claims (issued, expires) are about transport freshness and use the
 * wall clock, on both sides; the protocol's own time (request expiry, rate
 * windows) is the service's injected clock. As the bank does it.
 *
 * Verifies one signature of the chain: by `signer`'s certified key, addressed
 * to the FSP, for this transaction, covering exactly `content`. Any mismatch is
 * the generic CRYPTO_VERIFICATION_FAILED.
 */
export async function verifyChainSignature(
  context: GatewayContext,
  sql: Sql,
  jws: string | undefined,
  expected: { signer: string; transactionId: string; content: object },
): Promise<VerifiedPayload> {
  if (jws === undefined) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  const verified = await verifyPayload(
    jws,
    partySigningKeyResolver(keyLookup(context, sql), expected.signer),
    { issuer: expected.signer, audience: context.fsp.id, transactionId: expected.transactionId },
    {
      clockSkewSeconds: context.limits.clockSkewSeconds,
      maxAgeSeconds: context.limits.messageAgeSecondsMax,
    },
  ).catch((error: unknown) => {
    // Which check failed (key, audience, issuer, lifetime) is not the sender's business.
    if (isMpayError(error, 'CLAIMS_INVALID') || isMpayError(error, 'KEY_UNKNOWN')) {
      throw new MpayError('CRYPTO_VERIFICATION_FAILED');
    }
    throw error;
  });
  if (!signedContentMatches(verified.payload, expected.content))
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  return verified;
}
