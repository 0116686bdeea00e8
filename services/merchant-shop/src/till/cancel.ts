import { MpayError } from '@mpay/protocol';
import type { ShopContext } from '../context.ts';
import type { TillConfig } from './config.ts';
import { followSale } from './follow.ts';
import { stepLocked } from './step.ts';
import type { Sale } from './store.ts';

/**
 * The staff withdraw a sale. Nobody claimed it yet: it is cancelled here
 * (a customer who claims the code later is not asked to pay). The customer
 * is being asked: the FSP withdraws the request (the merchant's signed
 * cancellation), then the sale is cancelled. A sale being claimed this very
 * moment, or one with an outcome, cannot be withdrawn (PAYMENT_STATE_INVALID).
 */
export async function cancelSale(context: ShopContext, till: TillConfig, saleId: string): Promise<Sale> {
  const sale = await followSale(context, till, saleId);
  if (sale === undefined) throw new MpayError('PAYMENT_UNKNOWN');
  let cancelled: Sale | undefined;
  switch (sale.state) {
    case 'waiting':
    case 'cancelled':
      cancelled = await stepLocked(context, sale.id, 'cancelled', { actor: 'staff' });
      break;
    case 'requested':
      await context.merchant.cancel(sale.id, 'withdrawn at the till');
      cancelled = await stepLocked(context, sale.id, 'payment_cancelled', {
        actor: 'staff',
        failureCode: 'PAYMENT_CANCELLED',
      });
      break;
    default:
      throw new MpayError('PAYMENT_STATE_INVALID', `a ${sale.state} sale cannot be withdrawn`);
  }
  if (cancelled === undefined) throw new Error('assertion failed: the sale exists');
  return cancelled;
}
