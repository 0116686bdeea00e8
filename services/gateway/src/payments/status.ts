import { formatDecimalAmount, MpayError, type PublicStatus, publicStatusOf } from '@mpay/protocol';
import type { GatewayContext } from '../context.ts';
import { refundedOf } from '../refunds/store.ts';
import { findPayment, listPaymentEvents, type Payment } from './store.ts';

export interface PaymentStatusView {
  readonly id: string;
  readonly status: string;
  readonly procedure: string;
  readonly securityLevel: string;
  readonly amount: { currency: string; value: string };
  readonly payer: string;
  readonly payee: string;
  readonly failureCode: string | null;
  readonly expiresAt: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly history: { status: string; step: string | null; at: string }[];
}

/**
 * A payment for its parties only. To anyone else it does not exist
 * (PAYMENT_UNKNOWN, the same answer as an unknown id), so ids cannot be probed.
 */
export async function paymentOfParty(
  context: GatewayContext,
  paymentId: string,
  callerId: string,
): Promise<Payment> {
  const payment = await findPayment(context.database, paymentId);
  if (callerId !== payment.customer.id && callerId !== payment.merchant.id)
    throw new MpayError('PAYMENT_UNKNOWN');
  return payment;
}

/**
 * The public status, with what completed refunds gave back: a completed
 * payment refunded in full is `refunded`, in part `partially_refunded`. The
 * payment's state stays `funds_transferred`; refunds are their own protocol.
 */
async function statusWithRefunds(context: GatewayContext, payment: Payment): Promise<PublicStatus> {
  const status = publicStatusOf(payment.state);
  if (status !== 'completed') return status;
  const refunded = await refundedOf(context.database, payment.id);
  if (refunded === 0n) return status;
  return refunded >= payment.amountMinor ? 'refunded' : 'partially_refunded';
}

export async function paymentStatus(
  context: GatewayContext,
  paymentId: string,
  callerId: string,
): Promise<PaymentStatusView> {
  const payment = await paymentOfParty(context, paymentId, callerId);
  const events = await listPaymentEvents(context.database, paymentId);
  return {
    id: payment.id,
    status: await statusWithRefunds(context, payment),
    procedure: payment.procedure,
    securityLevel: payment.securityLevel,
    amount: { currency: payment.currency, value: formatDecimalAmount(payment.message.data.amount) },
    payer: payment.customer.id,
    payee: payment.merchant.id,
    failureCode: payment.failureCode,
    expiresAt: payment.expiresAt.toISOString(),
    createdAt: payment.createdAt.toISOString(),
    updatedAt: payment.updatedAt.toISOString(),
    history: events.map((event) => ({
      status: publicStatusOf(event.toState),
      step: event.step,
      at: event.createdAt.toISOString(),
    })),
  };
}
