import {
  keyResolverFromJwkSet,
  type PublicJwk,
  type PublicJwkSet,
  type PublicKeyResolver,
  verifyPayload,
} from '@mpay/envelope';
import { requestObject } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';

/** What a client must know of the FSP: its id and public keys (pinned in a real app). */
export interface FspTrust {
  id: string;
  keys: PublicJwkSet;
}

export async function fetchFspTrust(gatewayUrl: string): Promise<FspTrust> {
  const { body } = await requestObject<{ id?: unknown; keys?: { keys?: unknown } }>(`${gatewayUrl}/fsp`);
  const keys = body.keys;
  if (typeof body.id !== 'string' || typeof keys !== 'object' || keys === null || !Array.isArray(keys.keys))
    throw new MpayError('SERVICE_UNAVAILABLE', 'fsp answer');
  return { id: body.id, keys: keys as PublicJwkSet };
}

export function fspKeyResolver(fsp: FspTrust): PublicKeyResolver {
  return keyResolverFromJwkSet(fsp.keys);
}

export function fspEncryptionKey(fsp: FspTrust): PublicJwk {
  const key = fsp.keys.keys.find((jwk) => jwk.use === 'enc');
  if (key === undefined) throw new MpayError('KEY_UNKNOWN', 'fsp encryption key');
  return key;
}

/** A statement the FSP signed for the customer: a receipt (iMS step 10) or another outcome. */
export interface Receipt {
  jws: string;
  payload: Record<string, unknown>;
}

/** Receipts and outcomes live up to a day (the FSP's receipt lifetime, the envelope's maximum). */
export const receiptAgeSecondsMax = 86_400;

/**
 * Verifies a receipt or outcome as the FSP's: signed by its key, issued by
 * it, for this party and this payment.
 */
export async function verifyFspStatement(
  jws: string,
  fsp: FspTrust,
  partyId: string,
  paymentId: string,
): Promise<Receipt> {
  const verified = await verifyPayload(
    jws,
    fspKeyResolver(fsp),
    { issuer: fsp.id, audience: partyId, transactionId: paymentId },
    { maxAgeSeconds: receiptAgeSecondsMax },
  );
  return { jws, payload: verified.payload };
}
