import type { ShopContext } from '../context.ts';
import { listOrders, type Order } from '../orders/store.ts';
import type { TillConfig } from './config.ts';
import { followSale } from './follow.ts';
import { holdsAmount, paidOrderStates } from './refunds.ts';
import { listRefundsOf, listSales, type Sale, type TillRefund } from './store.ts';

/** A payment the staff may refund: a paid till sale or a paid shop order, with its refunds. */
export type PaidPayment =
  | {
      readonly kind: 'sale';
      readonly sale: Sale;
      readonly refunds: readonly TillRefund[];
      readonly refundableMinor: bigint;
      readonly at: Date;
    }
  | {
      readonly kind: 'order';
      readonly order: Order;
      readonly refunds: readonly TillRefund[];
      readonly refundableMinor: bigint;
      readonly at: Date;
    };

function refundable(amountMinor: bigint, refunds: readonly TillRefund[]): bigint {
  const held = refunds
    .filter((refund) => holdsAmount(refund.status))
    .reduce((sum, refund) => sum + refund.amount.minor, 0n);
  return amountMinor > held ? amountMinor - held : 0n;
}

/**
 * The most recent paid sales and orders, newest first, at most `limit`:
 * what the staff's refund desk lists. Sales still open are brought up to
 * date first (their notifications applied), so a sale paid a moment ago is
 * among them.
 */
export async function listPaidPayments(
  context: ShopContext,
  till: TillConfig,
  limit: number,
): Promise<PaidPayment[]> {
  const open = await listSales(context.database, {
    states: ['claimed', 'requested', 'request_failed'],
    limit,
  });
  for (const sale of open) await followSale(context, till, sale.id);
  const sales = await listSales(context.database, { states: ['paid'], limit });
  const orders = await listOrders(context.database, { states: paidOrderStates, limit });
  const refunds = await listRefundsOf(context.database, [
    ...sales.map((sale) => sale.id),
    ...orders.map((order) => order.payment.transactionId),
  ]);
  const refundsOf = (paymentId: string) => refunds.filter((refund) => refund.paymentId === paymentId);
  const payments: PaidPayment[] = [
    ...sales.map((sale): PaidPayment => {
      const own = refundsOf(sale.id);
      return {
        kind: 'sale',
        sale,
        refunds: own,
        refundableMinor: refundable(sale.amount.minor, own),
        at: sale.paidAt ?? sale.updatedAt,
      };
    }),
    ...orders.map((order): PaidPayment => {
      const own = refundsOf(order.payment.transactionId);
      return {
        kind: 'order',
        order,
        refunds: own,
        refundableMinor: refundable(order.total.minor, own),
        at: order.createdAt,
      };
    }),
  ];
  return payments.sort((a, b) => b.at.getTime() - a.at.getTime()).slice(0, limit);
}
