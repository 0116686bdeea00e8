import { errorFromAnswer, fetchFor, readBounded, withRequestDeadline } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';
import type { CustodyContext } from '../context.ts';
import { custodyKeyOf, signRequestAsCustomer } from '../customers/custody-key.ts';
import type { AuthenticatedDevice } from '../customers/devices.ts';

/** The FSP's answer for a payment's (or a refund's) evidence: the mpay-receipt/v1 file, or not proved by the log yet. */
export type PaymentEvidence =
  | { readonly state: 'recorded'; readonly file: string }
  | { readonly state: 'pending' };

/**
 * The evidence of a payment custody signed in this customer's name (SA2pMP's
 * non-repudiation, the file the gateway gives a payment's parties): asked of
 * the FSP with a request signed in the HSM by the customer's key, as a phone
 * holding its own key asks, because a custody customer's phone has no key to
 * sign with. Only a payment custody signed for this customer is asked for: any
 * other (another customer's, or none at all) is PAYMENT_UNKNOWN, the same
 * answer, so a phone learns nothing of other customers' payments and custody
 * signs nothing for them. The file is passed on as the FSP sent it, read up to
 * `evidenceBytesMax`, unverified: the phone verifies it under the log's and
 * the witnesses' keys it trusts (custody is not who it has to trust).
 */
export async function paymentEvidenceOf(
  context: CustodyContext,
  device: AuthenticatedDevice,
  paymentId: string,
): Promise<PaymentEvidence> {
  const { rows } = await context.database.query(
    'SELECT 1 FROM delegate_signatures WHERE payment_id = $1 AND party_id = $2',
    [paymentId, device.partyId],
  );
  if (rows.length === 0) throw new MpayError('PAYMENT_UNKNOWN');
  return evidenceFromFsp(context, device, `/payments/${paymentId}/evidence`, { paymentId });
}

/**
 * The evidence of a refund custody forwarded the FSP's receipt of to this
 * customer (the merchant's signed refund, its bank's answer and the FSP's
 * receipt, as logged), asked of the FSP as `paymentEvidenceOf` asks for a
 * payment's. A payment custody holds no message of for this customer is
 * PAYMENT_UNKNOWN (as for another customer's); a refund of it custody
 * received no receipt of is REFUND_UNKNOWN. Custody signs nothing for either.
 */
export async function refundEvidenceOf(
  context: CustodyContext,
  device: AuthenticatedDevice,
  paymentId: string,
  refundId: string,
): Promise<PaymentEvidence> {
  const { rows } = await context.database.query<{ refund_id: string | null }>(
    `SELECT refund_receipts.refund_id FROM messages
     LEFT JOIN refund_receipts ON refund_receipts.payment_id = messages.payment_id
       AND refund_receipts.refund_id = $2 AND refund_receipts.party_id = messages.party_id
     WHERE messages.payment_id = $1 AND messages.party_id = $3`,
    [paymentId, refundId, device.partyId],
  );
  if (rows.length === 0) throw new MpayError('PAYMENT_UNKNOWN');
  if (rows[0]?.refund_id !== refundId) throw new MpayError('REFUND_UNKNOWN');
  return evidenceFromFsp(context, device, `/payments/${paymentId}/refunds/${refundId}/evidence`, {
    paymentId,
    refundId,
  });
}

/**
 * GET `path` at the FSP, signed in the HSM as the customer: 202 is pending,
 * 200 a JSON object passed on as text (read up to `evidenceBytesMax`), any
 * other answer the FSP's error (the FSP refusing the customer's key is
 * KEY_UNKNOWN, never the phone's AUTHENTICATION_FAILED).
 */
async function evidenceFromFsp(
  context: CustodyContext,
  device: AuthenticatedDevice,
  path: string,
  subject: { readonly paymentId: string; readonly refundId?: string },
): Promise<PaymentEvidence> {
  const key = await custodyKeyOf(context, context.database, device.partyId);
  const authorization = await signRequestAsCustomer(context, device.partyId, key, {
    method: 'GET',
    path,
    body: '',
  });
  // One deadline for the answer's head and body.
  const { response, text } = await withRequestDeadline(context.limits.callTimeoutMs, async (signal) => {
    let response: Response;
    try {
      response = await fetchFor(undefined)(`${context.fsp.url}${path}`, {
        headers: { authorization, accept: 'application/json' },
        signal,
      });
    } catch (cause) {
      throw new MpayError('SERVICE_UNAVAILABLE', 'evidence', { cause });
    }
    const text = await readBounded(response, context.limits.evidenceBytesMax).catch((cause: unknown) => {
      throw new MpayError('SERVICE_UNAVAILABLE', 'evidence interrupted', { cause });
    });
    return { response, text };
  });
  if (text === undefined) throw new MpayError('SERVICE_UNAVAILABLE', 'evidence too large');
  if (response.status === 202) return { state: 'pending' };
  const body = parseJson(text);
  if (response.status === 200) {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new MpayError('SERVICE_UNAVAILABLE', 'evidence answer');
    return { state: 'recorded', file: text };
  }
  const error = errorFromAnswer(body, response.status);
  if (error.code === 'AUTHENTICATION_FAILED') {
    // The FSP did not take the customer's key (its binding revoked or unknown there): custody's
    // request failed, not the phone's token, so the phone is not told its own authentication failed.
    context.log.warn(
      { ...subject, partyId: device.partyId, kid: key.kid },
      "the FSP refused custody's evidence request signed with the customer's key",
    );
    throw new MpayError('KEY_UNKNOWN', "the FSP does not accept the customer's key");
  }
  throw error;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
