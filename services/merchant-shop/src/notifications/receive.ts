import { createHash } from 'node:crypto';
import { isMpayError, readPaymentNotice, stepOrder } from '@mpay/protocol';
import type { MerchantEvent } from '@mpay/sdk';
import { commitWithLastStatements, type Sql } from '@mpay/storage';
import type { ShopContext } from '../context.ts';
import {
  findOrder,
  orderIdOfTransaction,
  persistOrderStep,
  recordPaymentStatus,
  recordRefund,
} from '../orders/store.ts';
import { enqueue } from '../outbox/outbox.ts';
import {
  claimStatusOf,
  claimSubjectOf,
  type PaymentUpdate,
  readPaymentUpdate,
  readRefundUpdate,
} from './events.ts';
import {
  insertNotification,
  type NotificationEvent,
  type NotificationOutcome,
  setNotificationOutcome,
} from './store.ts';

export interface ReceivedNotification {
  /** False for a redelivery (or a replayed capture): nothing was stored or changed again. */
  readonly stored: boolean;
  readonly outcome?: NotificationOutcome;
}

interface Outcome {
  readonly outcome: NotificationOutcome;
  readonly detail?: string | undefined;
  readonly orderId?: string | undefined;
  /** Work queued in the outbox (a hook's call): the outbox is kicked after the commit. */
  readonly queued?: boolean;
}

/**
 * iMS step 9 at the merchant: "if the merchant receives a positive
 * confirmation, the supplier is authorized to initiate shipment". A payment
 * notification steps the order it is for: only `completed` for exactly the
 * order's amount, currency and payer authorises shipment; a completed payment
 * that differs holds the order for the operator.
 */
async function applyPaymentUpdate(
  context: ShopContext,
  sql: Sql,
  notificationId: string,
  payment: PaymentUpdate,
  now: Date,
): Promise<Outcome> {
  const orderId = await orderIdOfTransaction(sql, payment.id);
  if (orderId === undefined) return { outcome: 'recorded', detail: 'no order of this shop' };
  const order = await findOrder(sql, orderId, { lock: true });
  if (order === undefined) throw new Error(`assertion failed: order ${orderId} exists`);
  const reading = readPaymentNotice(
    { amount: order.total, payer: order.payment.payer },
    { status: payment.status, amount: payment.amount, payer: payment.payer },
  );
  if (reading.event === undefined) {
    await recordPaymentStatus(sql, payment.id, { fspStatus: payment.status }, now);
    return { outcome: 'recorded', orderId };
  }
  let result: ReturnType<typeof stepOrder>;
  try {
    result = stepOrder(order.state, reading.event);
  } catch (error) {
    if (!isMpayError(error, 'ORDER_STATE_INVALID')) throw error;
    // A notification the order's state contradicts (completed after declined): the FSP's
    // redelivery would not change that, so it is acknowledged and kept for the operator.
    context.log.warn(
      { orderId, paymentId: payment.id, status: payment.status, state: order.state },
      error.detail ?? '',
    );
    return { outcome: 'refused', detail: error.detail, orderId };
  }
  // A mismatched payment leaves the payment's own record alone: it is not this order's payment.
  if (reading.mismatch === undefined) {
    await recordPaymentStatus(
      sql,
      payment.id,
      { fspStatus: payment.status, failureCode: payment.failureCode },
      now,
    );
  }
  if (!result.changed) return { outcome: 'ignored', detail: result.step, orderId };
  const detail =
    reading.mismatch === undefined ? payment.failureCode : `${reading.mismatch} differs from the order`;
  await persistOrderStep(sql, order, reading.event, result, { actor: 'fsp', detail, notificationId }, now);
  if (result.effects.includes('hold_for_operator')) {
    context.log.warn(
      { orderId, paymentId: payment.id, mismatch: reading.mismatch },
      'a completed payment does not match its order: held, nothing ships',
    );
  }
  return { outcome: 'applied', orderId, detail };
}

interface Classified {
  readonly event: NotificationEvent;
  readonly subject: string;
  readonly status: string | null;
  readonly object: Readonly<Record<string, unknown>>;
  readonly apply: (sql: Sql, notificationId: string, now: Date) => Promise<Outcome>;
}

/** Reads the event's fields (refusing a malformed one before anything is stored) and says how to apply it. */
function classify(context: ShopContext, verified: MerchantEvent, jwsHash: string): Classified {
  switch (verified.event) {
    case 'payment.updated': {
      const payment = readPaymentUpdate(verified.payment);
      return {
        event: verified.event,
        subject: payment.id,
        status: payment.status,
        object: verified.payment,
        apply: (sql, id, now) => applyPaymentUpdate(context, sql, id, payment, now),
      };
    }
    case 'refund.updated': {
      const refund = readRefundUpdate(verified.refund);
      return {
        event: verified.event,
        subject: refund.paymentId ?? refund.refundId ?? `jws:${jwsHash.slice(0, 32)}`,
        status: refund.status,
        object: verified.refund,
        apply: async (sql, id, now) => {
          const orderId =
            refund.paymentId === undefined ? undefined : await orderIdOfTransaction(sql, refund.paymentId);
          if (orderId !== undefined && refund.paymentId !== undefined)
            await recordRefund(
              sql,
              refund.paymentId,
              { id: refund.refundId ?? null, status: refund.status },
              now,
            );
          const queued = context.hooks.onRefundUpdated !== undefined;
          if (queued) await enqueue(sql, 'refund_updated', id, now);
          return { outcome: 'recorded', orderId, queued };
        },
      };
    }
    case 'trade.claimed':
      return {
        event: verified.event,
        subject: claimSubjectOf(verified.claim) ?? `jws:${jwsHash.slice(0, 32)}`,
        status: claimStatusOf(verified.claim),
        object: verified.claim,
        apply: async (sql, id, now) => {
          const queued = context.hooks.onTradeClaimed !== undefined;
          if (queued) await enqueue(sql, 'trade_claimed', id, now);
          return { outcome: 'recorded', queued };
        },
      };
  }
}

/**
 * A webhook from the FSP: verified with the merchant SDK before anything is
 * believed (signed by the FSP, addressed to this merchant, fresh), then
 * stored exactly as received and applied in one transaction. It is
 * acknowledged only after that commits; the same JWS again changes nothing.
 */
export async function receiveNotification(context: ShopContext, body: string): Promise<ReceivedNotification> {
  const jws = body.trim();
  const verified = await context.merchant.verifyNotification(jws);
  const jwsHash = createHash('sha256').update(jws, 'utf8').digest('hex');
  const classified = classify(context, verified, jwsHash);
  const now = context.clock();
  let queued = false;
  const result = await context.database.transaction(async (sql): Promise<ReceivedNotification> => {
    const { event, subject, status } = classified;
    const id = await insertNotification(
      sql,
      { jws, jwsHash, event, subject, status, object: classified.object },
      now,
      context.limits.notificationsPerSubjectMax,
    );
    if (id === undefined) return { stored: false };
    const outcome = await classified.apply(sql, id, now);
    // The transaction's last write: its COMMIT goes with it (one round trip less on PostgreSQL).
    const set = setNotificationOutcome(sql, id, outcome);
    commitWithLastStatements(sql, 1);
    await set;
    queued = outcome.queued === true;
    return { stored: true, outcome: outcome.outcome };
  });
  if (result.stored) context.notificationStored();
  // A payment's notification queues nothing: no round to claim it.
  if (queued) context.kickOutbox();
  return result;
}
