import { formatDecimalAmount, imsFromJson, MpayError, publicStatusOf } from '@mpay/protocol';
import type { GatewayContext } from '../context.ts';
import { findPayment, listPaymentEvents } from './store.ts';

export interface PaymentStatusView {
  id: string;
  status: string;
  procedure: string;
  securityLevel: string;
  amount: { currency: string; value: string };
  payer: string;
  payee: string;
  failureCode: string | null;
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
  history: { status: string; at: string }[];
}

/**
 * The public status of a payment, for its parties only. To anyone else the
 * payment does not exist (PAYMENT_UNKNOWN), so ids cannot be probed.
 */
export async function paymentStatus(
  context: GatewayContext,
  paymentId: string,
  callerId: string,
): Promise<PaymentStatusView> {
  const payment = await findPayment(context.database, paymentId);
  if (callerId !== payment.customerId && callerId !== payment.merchantId)
    throw new MpayError('PAYMENT_UNKNOWN');
  const message = imsFromJson(JSON.parse(payment.message));
  const events = await listPaymentEvents(context.database, paymentId);
  return {
    id: payment.id,
    status: publicStatusOf(payment.state),
    procedure: payment.procedure,
    securityLevel: payment.securityLevel,
    amount: { currency: payment.currency, value: formatDecimalAmount(message.data.amount) },
    payer: payment.customerId,
    payee: payment.merchantId,
    failureCode: payment.failureCode,
    expiresAt: payment.expiresAt.toISOString(),
    createdAt: payment.createdAt.toISOString(),
    updatedAt: payment.updatedAt.toISOString(),
    history: events.map((event) => ({ status: publicStatusOf(event.toState), at: event.createdAt })),
  };
}
