import { createHash } from 'node:crypto';
import { verifyPayload } from '@mpay/envelope';
import {
  canonicalize,
  initialRefundStep,
  isMpayError,
  isRefundId,
  MpayError,
  merchantRefundContent,
  parseDecimalAmount,
  signedContentMatches,
} from '@mpay/protocol';
import type { GatewayContext } from '../context.ts';
import { findPayment, type Payment } from '../payments/store.ts';
import { keyLookup, partySigningKeyResolver } from '../registry/keys.ts';
import { firstRefundOutbox } from './effects.ts';
import { insertRefund, type Refund, reservedByRefunds, selectRefund } from './store.ts';

/** Longest reason a merchant may give, in UTF-16 units (the column's bound). */
export const refundReasonLengthMax = 200;
/** Longest merchant signature accepted, in characters (a refund content signs in well under 2 KiB). */
const refundJwsLengthMax = 8_192;

/** The body of POST /payments/:id/refunds: the merchant's signed refund, and a reason for the record. */
export interface RefundRequestBody {
  readonly refund: string;
  readonly reason?: string | undefined;
}

/** A body is `{refund, reason?}` and nothing else, both bounded; anything else is REQUEST_INVALID. */
export function parseRefundRequestBody(body: unknown): RefundRequestBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new MpayError('REQUEST_INVALID');
  const record = body as Record<string, unknown>;
  const unknown = Object.keys(record).find((name) => name !== 'refund' && name !== 'reason');
  if (unknown !== undefined) throw new MpayError('REQUEST_INVALID', `${unknown} is not allowed`);
  const { refund, reason } = record;
  if (typeof refund !== 'string' || refund.length === 0 || refund.length > refundJwsLengthMax) {
    throw new MpayError('REQUEST_INVALID', 'refund');
  }
  if (
    reason !== undefined &&
    (typeof reason !== 'string' || reason.length > refundReasonLengthMax || /\p{Cc}/u.test(reason))
  ) {
    throw new MpayError('REQUEST_INVALID', 'reason');
  }
  return reason === undefined ? { refund } : { refund, reason };
}

export interface VerifiedRefundRequest {
  readonly payment: Payment;
  readonly refundId: string;
  readonly amountMinor: bigint;
  readonly reason: string | null;
  /** The merchant's compact JWS, verified: what the merchant's bank checks again before it debits. */
  readonly authorisation: string;
}

/**
 * The merchant's refund, read-only: the payment must be the caller's (an
 * unknown payment and another merchant's get the same PAYMENT_UNKNOWN, before
 * any signature is looked at); the signature must verify under the
 * merchant's certified key, issued by it, to this FSP, for the refund id it
 * names, over exactly merchantRefundContent of this payment (its customer,
 * its currency, a canonical amount). Anything else about the signature is the
 * generic CRYPTO_VERIFICATION_FAILED.
 */
export async function verifyRefundRequest(
  context: GatewayContext,
  paymentId: string,
  callerId: string,
  body: RefundRequestBody,
): Promise<VerifiedRefundRequest> {
  const payment = await findPayment(context.database, paymentId);
  if (payment.merchant.id !== callerId) throw new MpayError('PAYMENT_UNKNOWN');
  const verified = await verifyPayload(
    body.refund,
    partySigningKeyResolver(keyLookup(context), payment.merchant.id),
    { issuer: payment.merchant.id, audience: context.fsp.id },
    { clockSkewSeconds: context.limits.clockSkewSeconds, maxAgeSeconds: context.limits.messageAgeSecondsMax },
  ).catch((error: unknown) => {
    if (isMpayError(error) && error.category === 'retryable') throw error;
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  });
  const { payload, claims } = verified;
  const refundId = payload.refundId;
  const amount = payload.amount as { currency?: unknown; value?: unknown } | undefined;
  let expected: ReturnType<typeof merchantRefundContent>;
  try {
    if (!isRefundId(refundId) || claims.txn !== refundId || typeof amount?.value !== 'string') {
      throw new MpayError('CRYPTO_VERIFICATION_FAILED');
    }
    expected = merchantRefundContent({
      refundId,
      paymentId: payment.id,
      merchantId: payment.merchant.id,
      customerId: payment.customer.id,
      amount: parseDecimalAmount(amount.value, payment.currency),
    });
  } catch {
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  }
  if (!signedContentMatches(payload, expected)) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  return {
    payment,
    refundId,
    amountMinor: parseDecimalAmount(expected.amount.value, payment.currency).minor,
    reason: body.reason ?? null,
    authorisation: body.refund,
  };
}

/** What makes two requests with one refund id the same request: the payment, the amount, the reason. */
function requestHashOf(request: VerifiedRefundRequest): string {
  return createHash('sha256')
    .update(
      canonicalize({
        paymentId: request.payment.id,
        currency: request.payment.currency,
        amountMinor: request.amountMinor.toString(),
        reason: request.reason,
      }),
    )
    .digest('hex');
}

/**
 * Records a verified refund, in one transaction under the payment's row lock:
 * the same refund id again with the same payment, amount and reason answers
 * the refund as it stands (nothing new); with anything else REFUND_ID_REUSED.
 * Then the payment must be completed (REFUND_NOT_ALLOWED) and the refunds not
 * refused, this one included, within its amount (REFUND_EXCEEDS_ORIGINAL):
 * two concurrent refunds queue on the lock, so together they cannot exceed
 * it. The refund is stored with the order to the merchant's bank (an outbox
 * row) in the same transaction. Returns the refund and whether it is new.
 */
export async function createRefund(
  context: GatewayContext,
  request: VerifiedRefundRequest,
): Promise<{ refund: Refund; created: boolean }> {
  const now = context.clock();
  const hash = requestHashOf(request);
  const attempt = () =>
    context.database.transaction(async (sql) => {
      const payment = await findPayment(sql, request.payment.id, { lock: true });
      const existing = await selectRefund(sql, request.refundId);
      if (existing !== undefined) {
        if (existing.requestHash !== hash || existing.paymentId !== payment.id)
          throw new MpayError('REFUND_ID_REUSED');
        return { refund: existing, created: false };
      }
      if (payment.state !== 'funds_transferred') throw new MpayError('REFUND_NOT_ALLOWED', payment.state);
      const reserved = await reservedByRefunds(sql, payment.id);
      if (reserved + request.amountMinor > payment.amountMinor) {
        throw new MpayError('REFUND_EXCEEDS_ORIGINAL', `remaining ${payment.amountMinor - reserved}`);
      }
      await insertRefund(
        sql,
        {
          id: request.refundId,
          paymentId: payment.id,
          merchantId: payment.merchant.id,
          customerId: payment.customer.id,
          currency: payment.currency,
          amountMinor: request.amountMinor,
          reason: request.reason,
          requestHash: hash,
          authorisation: request.authorisation,
        },
        initialRefundStep,
        firstRefundOutbox(request.refundId, initialRefundStep.effects),
        now,
      );
      const refund = await selectRefund(sql, request.refundId);
      if (refund === undefined) throw new Error('assertion failed: the refund was stored');
      return { refund, created: true };
    });
  let result: { refund: Refund; created: boolean };
  try {
    result = await attempt();
  } catch (error) {
    // The same refund id raced in for another payment (another row lock): once more, it is seen as reused.
    if ((error as { code?: unknown } | null)?.code !== '23505') throw error;
    result = await attempt();
  }
  if (result.created) context.kickOutbox();
  return result;
}
