import type { ShopContext } from '../context.ts';
import { deliverHook } from '../notifications/hooks.ts';
import { deliverPaymentRequest } from '../orders/request-payment.ts';
import { claimDue } from './outbox.ts';

/**
 * One round of the outbox: every due row (up to the batch size). A row whose
 * work throws stays claimed until its lease runs out, then it is due again.
 */
export async function runOutboxRound(context: ShopContext): Promise<number> {
  const rows = await claimDue(context, context.clock());
  for (const row of rows) {
    try {
      if (row.kind === 'payment_request') await deliverPaymentRequest(context, row);
      else await deliverHook(context, row);
    } catch (error) {
      context.log.error({ err: error, outboxId: row.id, kind: row.kind }, 'outbox work failed');
    }
  }
  return rows.length;
}
