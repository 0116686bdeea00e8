import { isMpayError } from '@mpay/protocol';
import type { ShopContext } from '../context.ts';
import { markDelivered, markFailed, type OutboxRow } from '../outbox/outbox.ts';
import { findNotification } from './store.ts';

/**
 * Hands a stored trade claim or refund update to its hook (outbox row
 * `trade_claimed` / `refund_updated`, subject: the notification's id). A hook
 * that throws is called again after a backoff, up to `hookAttemptsMax`.
 */
export async function deliverHook(context: ShopContext, row: OutboxRow): Promise<void> {
  const notification = await findNotification(context.database, row.subject);
  if (notification === undefined) throw new Error(`assertion failed: notification ${row.subject} exists`);
  const handed = {
    notificationId: notification.id,
    jws: notification.jws,
    receivedAt: notification.receivedAt,
  };
  let call: () => Promise<void> | void;
  if (row.kind === 'trade_claimed' && notification.event === 'trade.claimed') {
    const claim = notification.claim;
    call = () => context.hooks.onTradeClaimed?.(claim, handed);
  } else if (row.kind === 'refund_updated' && notification.event === 'refund.updated') {
    const refund = notification.refund;
    call = () => context.hooks.onRefundUpdated?.(refund, { ...handed, orderId: notification.orderId });
  } else {
    throw new Error(`assertion failed: outbox ${row.kind} for a ${notification.event} notification`);
  }
  try {
    await call();
  } catch (error) {
    const code = isMpayError(error) ? error.code : error instanceof Error ? error.message : 'hook failed';
    context.log.warn({ err: error, notificationId: notification.id, kind: row.kind }, 'hook failed');
    await markFailed(context, row, code, context.clock(), context.limits.hookAttemptsMax);
    return;
  }
  await markDelivered(context.database, row, context.clock());
}
