import { isMpayError, type OrderEventKind, readPaymentNotice } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { ShopContext } from '../context.ts';
import { readPaymentUpdate } from '../notifications/events.ts';
import type { TillConfig } from './config.ts';
import { isFinalSaleState, type SaleEventKind, stepSale } from './state-machine.ts';
import {
  advanceNotificationCursor,
  findSale,
  paymentNotificationsAfter,
  persistSaleStep,
  type Sale,
} from './store.ts';

/** The sale events the FSP's payment notices stand for (readPaymentNotice reads them as the shop's order events). */
const saleEventOfNotice: Readonly<Partial<Record<OrderEventKind, SaleEventKind>>> = Object.freeze({
  payment_requested: 'payment_requested',
  payment_completed: 'payment_completed',
  payment_mismatched: 'payment_mismatched',
  payment_declined: 'payment_declined',
  payment_failed: 'payment_failed',
  payment_expired: 'payment_expired',
  payment_cancelled: 'payment_cancelled',
});

/** The stable code a page shows for a sale that ended without payment. */
function failureCodeOf(event: SaleEventKind, notified: string | undefined): string | undefined {
  switch (event) {
    case 'payment_declined':
      return notified ?? 'PAYMENT_DECLINED';
    case 'payment_failed':
      return notified;
    case 'payment_expired':
      return notified ?? 'PAYMENT_EXPIRED';
    case 'payment_cancelled':
      return notified ?? 'PAYMENT_CANCELLED';
    default:
      return undefined;
  }
}

/**
 * Applies one step if the table allows it; an event the sale's state
 * contradicts (completed after declined) is logged for the operator and
 * changes nothing, as the shop's orders do.
 */
async function applyStep(
  context: ShopContext,
  sql: Sql,
  sale: Sale,
  event: SaleEventKind,
  record: Parameters<typeof persistSaleStep>[4],
  now: Date,
): Promise<Sale> {
  let result: ReturnType<typeof stepSale>;
  try {
    result = stepSale(sale.state, event);
  } catch (error) {
    if (!isMpayError(error, 'PAYMENT_STATE_INVALID')) throw error;
    context.log.warn({ saleId: sale.id, event, state: sale.state }, error.detail ?? 'sale step refused');
    return sale;
  }
  if (!result.changed) return sale;
  await persistSaleStep(sql, sale, event, result, record, now);
  const moved = await findSale(sql, sale.id);
  if (moved === undefined) throw new Error('assertion failed: the sale exists');
  return moved;
}

/**
 * iMS step 9 for a sale: the FSP's verified payment notifications, which
 * the shop stored as it received them (subject: the sale's transaction id),
 * applied in the order received. Only `completed` for exactly the sale's
 * amount, currency and the customer who claimed it makes the sale paid.
 */
async function applyNotifications(
  context: ShopContext,
  till: TillConfig,
  sql: Sql,
  sale: Sale,
  now: Date,
): Promise<Sale> {
  const notifications = await paymentNotificationsAfter(
    sql,
    sale.id,
    sale.notificationCursor,
    till.limits.notificationsPerSyncMax,
  );
  let current = sale;
  for (const notification of notifications) {
    // The shop stored it only after reading these very fields (receive.ts): a failure here is a broken store.
    const payment = readPaymentUpdate(notification.payment);
    const reading = readPaymentNotice(
      { amount: current.amount, payer: current.customer },
      { status: payment.status, amount: payment.amount, payer: payment.payer },
    );
    const event = reading.event === undefined ? undefined : saleEventOfNotice[reading.event];
    if (event !== undefined) {
      const detail =
        reading.mismatch === undefined ? payment.failureCode : `${reading.mismatch} differs from the sale`;
      current = await applyStep(
        context,
        sql,
        current,
        event,
        {
          actor: 'fsp',
          detail,
          notificationId: notification.id,
          failureCode: failureCodeOf(event, payment.failureCode),
        },
        now,
      );
    }
    await advanceNotificationCursor(sql, sale.id, notification.id);
  }
  return current;
}

/**
 * Brings a sale up to date, in one transaction under its lock: the
 * payment notifications stored since it was last read, then its clock (a
 * code nobody claimed within its lifetime and the grace for a late claim
 * has expired). The till's reads call it, so what the staff see is what
 * the FSP signed, however the webhooks and the reads interleave.
 */
export async function followSale(
  context: ShopContext,
  till: TillConfig,
  saleId: string,
): Promise<Sale | undefined> {
  const now = context.clock();
  return context.database.transaction(async (sql) => {
    const sale = await findSale(sql, saleId, { lock: true });
    if (sale === undefined || isFinalSaleState(sale.state)) return sale;
    const current = await applyNotifications(context, till, sql, sale, now);
    const claimDeadlineMs = current.codeExpiresAt.getTime() + till.limits.claimGraceSeconds * 1000;
    if (current.state === 'waiting' && now.getTime() > claimDeadlineMs) {
      return applyStep(
        context,
        sql,
        current,
        'code_expired',
        { actor: 'shop', failureCode: 'QR_EXPIRED' },
        now,
      );
    }
    return current;
  });
}
