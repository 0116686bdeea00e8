import { randomUUID } from 'node:crypto';
import { initialOrderState, isMsisdn, isPartyId, MpayError, parsePartyId } from '@mpay/protocol';
import { orderTokenFor, tokenHash } from '../auth/tokens.ts';
import { openCart } from '../cart/carts.ts';
import { describeOrder, priceCart } from '../cart/pricing.ts';
import type { ShopContext } from '../context.ts';
import { enqueue } from '../outbox/outbox.ts';
import { deliverPaymentRequest } from './request-payment.ts';
import { findOrder, insertOrder, type Order } from './store.ts';

export interface CheckoutResult {
  /** False for a retried checkout: the order of the first one, nothing requested again. */
  readonly created: boolean;
  readonly order: Order;
  /** The bearer token with which the customer reads the order (the same on a retry). */
  readonly orderToken: string;
}

/** The payer as the customer gives it: a phone number (E.164) or a person's party id. */
function checkCustomer(customer: string): void {
  if (isMsisdn(customer)) return;
  if (!isPartyId(customer) || parsePartyId(customer).kind !== 'person')
    throw new MpayError('PARTY_ID_INVALID', 'customer');
}

/**
 * Checks a cart out (iMS §2.1: "the appropriate products or services are
 * remembered in the shopping card and the customer initiates the payment
 * procedure"). In one transaction: the cart is closed, the order is priced
 * from the catalogue (never from the client), and the payment request is
 * queued under a transaction id chosen here. The request is then sent at
 * once; should that fail or the process die, the outbox sends it. A retried
 * checkout of the same cart for the same customer answers the same order and
 * requests nothing; for another customer it is CART_CHECKED_OUT.
 */
export async function checkout(
  context: ShopContext,
  cartId: string,
  cartToken: string | undefined,
  customer: string,
): Promise<CheckoutResult> {
  if (cartToken === undefined) throw new MpayError('CART_UNKNOWN');
  checkCustomer(customer);
  const now = context.clock();
  const placed = await context.database.transaction(async (sql) => {
    const cart = await openCart(sql, cartId, cartToken, { lock: true });
    if (cart.orderId !== null) {
      const existing = await findOrder(sql, cart.orderId);
      if (existing?.customer !== customer) throw new MpayError('CART_CHECKED_OUT');
      return { created: false, orderId: cart.orderId, outboxId: undefined };
    }
    if (cart.lines.length === 0) throw new MpayError('CART_EMPTY');
    const priced = priceCart(cart.lines, context.catalogue, context.limits);
    if (priced.total === null) throw new Error('assertion failed: a cart with lines has a total');
    const orderId = randomUUID();
    await insertOrder(
      sql,
      {
        id: orderId,
        cartId: cart.id,
        tokenHash: tokenHash(orderTokenFor(cartToken, orderId)),
        customer,
        total: priced.total,
        description: describeOrder(orderId.slice(0, 8), priced.lines),
        transactionId: randomUUID(),
        lines: priced.lines.map((line) => ({
          productId: line.product.id,
          name: line.product.name,
          unitPrice: line.product.price,
          quantity: line.quantity,
          lineTotal: line.lineTotal,
        })),
      },
      initialOrderState,
      now,
    );
    const closed = await sql.query(
      'UPDATE carts SET order_id = $2, checked_out_at = $3 WHERE cart_id = $1 AND order_id IS NULL',
      [cart.id, orderId, now.toISOString()],
    );
    if (closed.rowCount !== 1) throw new Error('assertion failed: the cart was open under its lock');
    // Owned by this request for a lease: it sends the request now; the background only if it could not.
    const outboxId = await enqueue(sql, 'payment_request', orderId, now, {
      forMs: context.limits.outboxLeaseMs,
      owner: context.outboxLeaseOwner,
    });
    return { created: true, orderId, outboxId };
  });
  if (placed.outboxId !== undefined) {
    await deliverPaymentRequest(context, {
      id: placed.outboxId,
      kind: 'payment_request',
      subject: placed.orderId,
      attempts: 0,
    }).catch((error: unknown) => {
      context.log.error({ err: error, orderId: placed.orderId }, 'payment request left to the outbox');
    });
  }
  const order = await findOrder(context.database, placed.orderId);
  if (order === undefined) throw new Error('assertion failed: the order was stored');
  return { created: placed.created, order, orderToken: orderTokenFor(cartToken, order.id) };
}
