import {
  type Amount,
  createAmount,
  isMpayError,
  isRefundId,
  MpayError,
  type OrderState,
  parseMinorUnits,
  type RefundStatus,
} from '@mpay/protocol';
import type { RefundAnswer } from '@mpay/sdk';
import type { Sql } from '@mpay/storage';
import type { ShopContext } from '../context.ts';
import { findOrder, orderIdOfTransaction } from '../orders/store.ts';
import type { TillConfig } from './config.ts';
import {
  findRefund,
  findSale,
  insertRefund,
  listRefundsOf,
  recordRefundAnswer,
  type TillRefund,
} from './store.ts';

/** What the staff ask: how much of which payment to give back, under which refund id (the idempotency key). */
export interface RefundRequest {
  /** The till sale's id, or the shop order's transaction id. */
  readonly paymentId: string;
  readonly refundId: string;
  readonly amount: { readonly currency: string; readonly minor: string };
  readonly reason?: string | undefined;
}

export interface RefundOutcome {
  /** False when this refund id was asked for before with the same fields. */
  readonly created: boolean;
  readonly refund: TillRefund;
}

/** The orders whose payment completed for their amount: the ones there is money to give back. */
export const paidOrderStates: readonly OrderState[] = Object.freeze([
  'paid',
  'packed',
  'shipped',
  'delivered',
]);

/** A refund that still holds part of the payment (not refused, not failed). */
export function holdsAmount(status: RefundStatus): boolean {
  return status !== 'refused' && status !== 'failed';
}

const finalRefundStatuses: ReadonlySet<RefundStatus> = new Set<RefundStatus>([
  'completed',
  'refused',
  'failed',
]);

const reasonPattern = /^[^\p{Cc}\p{Cf}\p{Cs}]+$/u;

interface Refundable {
  readonly kind: 'sale' | 'order';
  readonly amount: Amount;
  readonly paid: boolean;
}

/** The paid sale or order this payment id names, its row locked; undefined if it is neither. */
async function refundableOf(sql: Sql, paymentId: string): Promise<Refundable | undefined> {
  const sale = await findSale(sql, paymentId, { lock: true });
  if (sale !== undefined) return { kind: 'sale', amount: sale.amount, paid: sale.state === 'paid' };
  const orderId = await orderIdOfTransaction(sql, paymentId);
  if (orderId === undefined) return undefined;
  const order = await findOrder(sql, orderId, { lock: true });
  if (order === undefined) throw new Error(`assertion failed: order ${orderId} exists`);
  return { kind: 'order', amount: order.total, paid: paidOrderStates.includes(order.state) };
}

function checkedReason(till: TillConfig, reason: string | undefined): string | null {
  const trimmed = reason?.trim() ?? '';
  if (trimmed === '') return null;
  if (trimmed.length > till.limits.refundReasonLengthMax || !reasonPattern.test(trimmed))
    throw new MpayError('REQUEST_INVALID', 'reason');
  return trimmed;
}

function sameFields(
  refund: TillRefund,
  request: RefundRequest,
  amount: Amount,
  reason: string | null,
): boolean {
  return (
    refund.paymentId === request.paymentId &&
    refund.amount.currency === amount.currency &&
    refund.amount.minor === amount.minor &&
    refund.reason === reason
  );
}

/**
 * Sends a stored refund to the FSP (signed by the merchant: SDK `refund`)
 * and records its answer. A refusal is the refund's outcome (`refused`
 * with its code); an FSP that did not answer leaves it `requested` and
 * unsent, and the next read sends it again under the same refund id.
 */
async function submitRefund(context: ShopContext, refund: TillRefund): Promise<void> {
  let answer: { status: RefundStatus; failureCode: string | null; submitted: boolean };
  try {
    const accepted: RefundAnswer = await context.merchant.refund(refund.paymentId, {
      amount: refund.amount,
      refundId: refund.id,
      ...(refund.reason === null ? {} : { reason: refund.reason }),
    });
    answer = { status: accepted.status, failureCode: accepted.failureCode ?? null, submitted: true };
  } catch (error) {
    if (!isMpayError(error) || error.category === 'retryable') {
      context.log.warn({ err: error, refundId: refund.id }, 'refund left for the next read to send');
      return;
    }
    answer = { status: 'refused', failureCode: error.code, submitted: true };
  }
  await recordRefundAnswer(context.database, refund.id, answer, context.clock());
}

async function reread(context: ShopContext, refundId: string): Promise<TillRefund> {
  const refund = await findRefund(context.database, refundId);
  if (refund === undefined) throw new Error(`assertion failed: refund ${refundId} exists`);
  return refund;
}

/**
 * Gives back all or part of a paid till sale or shop order. Checked and
 * stored in one transaction under the payment's lock (paid, same currency,
 * at most `refundsPerPaymentMax` refunds, and never more in total than was
 * paid), then sent to the FSP. The refund id is the idempotency key: the
 * same id with the same fields answers that refund as it stands; with other
 * fields it is REFUND_ID_REUSED.
 */
export async function refundPayment(
  context: ShopContext,
  till: TillConfig,
  request: RefundRequest,
): Promise<RefundOutcome> {
  if (!isRefundId(request.refundId)) throw new MpayError('REQUEST_INVALID', 'refundId');
  const amount = createAmount(
    request.amount.currency,
    parseMinorUnits(request.amount.minor, 'amount'),
    'amount',
  );
  const reason = checkedReason(till, request.reason);
  const now = context.clock();
  const stored = await context.database.transaction(async (sql) => {
    const existing = await findRefund(sql, request.refundId);
    if (existing !== undefined) {
      if (!sameFields(existing, request, amount, reason)) throw new MpayError('REFUND_ID_REUSED');
      return { created: false, refund: existing };
    }
    const payment = await refundableOf(sql, request.paymentId);
    if (payment === undefined) throw new MpayError('PAYMENT_UNKNOWN');
    if (!payment.paid) throw new MpayError('REFUND_NOT_ALLOWED');
    if (amount.currency !== payment.amount.currency) throw new MpayError('CURRENCY_MISMATCH', 'amount');
    const earlier = await listRefundsOf(sql, [request.paymentId]);
    if (earlier.length >= till.limits.refundsPerPaymentMax)
      throw new MpayError('LIMIT_EXCEEDED', 'refundsPerPaymentMax');
    const held = earlier
      .filter((refund) => holdsAmount(refund.status))
      .reduce((sum, refund) => sum + refund.amount.minor, 0n);
    if (held + amount.minor > payment.amount.minor) throw new MpayError('REFUND_EXCEEDS_ORIGINAL');
    const refund = { id: request.refundId, paymentId: request.paymentId, kind: payment.kind, amount, reason };
    await insertRefund(sql, refund, now);
    const inserted = await findRefund(sql, refund.id);
    if (inserted === undefined) throw new Error('assertion failed: the refund was stored');
    return { created: true, refund: inserted };
  });
  if (!stored.refund.submitted) await submitRefund(context, stored.refund);
  return { created: stored.created, refund: await reread(context, request.refundId) };
}

/**
 * A refund as it stands: one not yet answered is sent again; one the FSP
 * holds is read from the FSP (its banks pay back in the background) until
 * it is final. An FSP that does not answer leaves the stored status.
 */
export async function followRefund(context: ShopContext, refundId: string): Promise<TillRefund | undefined> {
  const refund = await findRefund(context.database, refundId);
  if (refund === undefined || finalRefundStatuses.has(refund.status)) return refund;
  if (!refund.submitted) {
    await submitRefund(context, refund);
    return reread(context, refundId);
  }
  try {
    const current = await context.merchant.refundStatus(refund.paymentId, refund.id);
    await recordRefundAnswer(
      context.database,
      refund.id,
      { status: current.status, failureCode: current.failureCode ?? null, submitted: true },
      context.clock(),
    );
  } catch (error) {
    context.log.warn({ err: error, refundId }, 'refund status unavailable');
  }
  return reread(context, refundId);
}
