import {
  type Amount,
  formatDecimalAmount,
  isOrderState,
  orderPublicStatusOf,
  shipmentStatusOf,
} from '@mpay/protocol';
import type { PricedCart } from '../cart/pricing.ts';
import type { Cart } from '../cart/store.ts';
import type { Product } from '../catalogue/catalogue.ts';
import type { Order, OrderEventRecord } from '../orders/store.ts';

/** JSON answers of the shop. Money: minor units as a decimal string (bigint), and the display value. */
export interface AmountView {
  readonly currency: string;
  readonly minor: string;
  readonly value: string;
}

export function amountView(amount: Amount): AmountView {
  return { currency: amount.currency, minor: amount.minor.toString(), value: formatDecimalAmount(amount) };
}

export function productView(product: Product) {
  return { id: product.id, name: product.name, price: amountView(product.price) };
}

export function cartView(cart: Cart, priced: PricedCart | undefined) {
  return {
    cartId: cart.id,
    checkedOut: cart.orderId !== null,
    lines: (priced?.lines ?? []).map((line) => ({
      productId: line.product.id,
      name: line.product.name,
      quantity: line.quantity,
      unitPrice: amountView(line.product.price),
      lineTotal: amountView(line.lineTotal),
    })),
    total: priced?.total == null ? null : amountView(priced.total),
    updatedAt: cart.updatedAt.toISOString(),
  };
}

function shipmentHistory(events: readonly OrderEventRecord[]) {
  return events.flatMap((event) => {
    const status =
      isOrderState(event.toState) && event.fromState !== null ? shipmentStatusOf(event.toState) : null;
    return status === null ? [] : [{ status, at: event.at.toISOString() }];
  });
}

/** What the customer reads with the order's token: the order, its payment's status and the shipment. */
export function customerOrderView(order: Order, events: readonly OrderEventRecord[]) {
  return {
    orderId: order.id,
    status: orderPublicStatusOf(order.state),
    lines: order.lines.map((line) => ({
      productId: line.productId,
      name: line.name,
      quantity: line.quantity,
      unitPrice: amountView(line.unitPrice),
      lineTotal: amountView(line.lineTotal),
    })),
    total: amountView(order.total),
    payment: {
      transactionId: order.payment.transactionId,
      status: order.payment.fspStatus,
      failureCode: order.payment.failureCode,
      refundStatus: order.payment.refund?.status ?? null,
    },
    shipment:
      order.shipment === null
        ? null
        : {
            status: order.shipment.status,
            carrier: order.shipment.carrier,
            trackingReference: order.shipment.trackingReference,
            history: shipmentHistory(events),
          },
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  };
}

/** The merchant's view: the customer's, plus the internal state, the parties, the refund and the whole history. */
export function merchantOrderView(order: Order, events: readonly OrderEventRecord[]) {
  return {
    ...customerOrderView(order, events),
    state: order.state,
    customer: order.customer,
    description: order.description,
    payment: {
      transactionId: order.payment.transactionId,
      status: order.payment.fspStatus,
      payer: order.payment.payer,
      securityLevel: order.payment.securityLevel,
      expiresAt: order.payment.expiresAt?.toISOString() ?? null,
      requestedAt: order.payment.requestedAt?.toISOString() ?? null,
      failureCode: order.payment.failureCode,
      refund:
        order.payment.refund === null
          ? null
          : {
              id: order.payment.refund.id,
              status: order.payment.refund.status,
              updatedAt: order.payment.refund.updatedAt.toISOString(),
            },
    },
    history: events.map((event) => ({
      event: event.event,
      from: event.fromState,
      to: event.toState,
      step: event.step,
      actor: event.actor,
      detail: event.detail,
      notificationId: event.notificationId,
      at: event.at.toISOString(),
    })),
  };
}

/** A summary line of the merchant's order list. */
export function orderSummaryView(order: Order) {
  return {
    orderId: order.id,
    seq: order.seq,
    status: orderPublicStatusOf(order.state),
    state: order.state,
    customer: order.customer,
    total: amountView(order.total),
    transactionId: order.payment.transactionId,
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  };
}
