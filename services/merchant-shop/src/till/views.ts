import { orderPublicStatusOf } from '@mpay/protocol';
import { amountView } from '../routes/views.ts';
import type { PaidPayment } from './payments.ts';
import { salePublicStatusOf } from './state-machine.ts';
import type { Sale, SaleEventRecord, TillRefund } from './store.ts';

/** JSON answers of the till. Money: minor units as a decimal string (bigint), and the display value. */

export function saleView(sale: Sale, events?: readonly SaleEventRecord[]) {
  return {
    saleId: sale.id,
    status: salePublicStatusOf(sale.state),
    state: sale.state,
    amount: amountView(sale.amount),
    reference: sale.reference,
    qrPayload: sale.qrPayload,
    codeExpiresAt: sale.codeExpiresAt.toISOString(),
    customer: sale.customer,
    claimedAt: sale.claimedAt?.toISOString() ?? null,
    securityLevel: sale.securityLevel,
    paymentExpiresAt: sale.paymentExpiresAt?.toISOString() ?? null,
    failureCode: sale.failureCode,
    paidAt: sale.paidAt?.toISOString() ?? null,
    createdAt: sale.createdAt.toISOString(),
    updatedAt: sale.updatedAt.toISOString(),
    ...(events === undefined
      ? {}
      : {
          history: events.map((event) => ({
            event: event.event,
            from: event.fromState,
            to: event.toState,
            actor: event.actor,
            detail: event.detail,
            notificationId: event.notificationId,
            at: event.at.toISOString(),
          })),
        }),
  };
}

export function refundView(refund: TillRefund) {
  return {
    refundId: refund.id,
    paymentId: refund.paymentId,
    kind: refund.kind,
    amount: amountView(refund.amount),
    reason: refund.reason,
    status: refund.status,
    failureCode: refund.failureCode,
    createdAt: refund.createdAt.toISOString(),
    updatedAt: refund.updatedAt.toISOString(),
  };
}

/** One line of the refund desk: the payment, what is left to refund, its refunds (and an order's shipment). */
export function paidPaymentView(payment: PaidPayment) {
  const common = {
    refunds: payment.refunds.map(refundView),
    // What is left to give back (may be zero, so not an amount view).
    refundable: refundableView(payment),
    at: payment.at.toISOString(),
  };
  if (payment.kind === 'sale') {
    const { sale } = payment;
    return {
      kind: 'sale' as const,
      paymentId: sale.id,
      saleId: sale.id,
      orderId: null,
      status: salePublicStatusOf(sale.state),
      amount: amountView(sale.amount),
      description: sale.reference ?? 'Till sale',
      customer: sale.customer,
      shipment: null,
      ...common,
    };
  }
  const { order } = payment;
  return {
    kind: 'order' as const,
    paymentId: order.payment.transactionId,
    saleId: null,
    orderId: order.id,
    status: orderPublicStatusOf(order.state),
    amount: amountView(order.total),
    description: order.description,
    customer: order.payment.payer ?? order.customer,
    shipment: order.shipment === null ? null : { status: order.shipment.status },
    ...common,
  };
}

function refundableView(payment: PaidPayment) {
  const currency = payment.kind === 'sale' ? payment.sale.amount.currency : payment.order.total.currency;
  return {
    currency,
    minor: payment.refundableMinor.toString(),
  };
}
