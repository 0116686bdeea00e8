import { MpayError } from '@mpay/protocol';
import type { GatewayContext } from '../context.ts';
import { findPayment, type Payment } from './store.ts';
import { applyEvent } from './transition.ts';

/**
 * The merchant withdraws its request before the customer answered. The
 * merchant's signed request token (verified by the route) is the evidence
 * logged with the FSP's outcome. Someone else's payment does not exist.
 */
export async function cancelPayment(
  context: GatewayContext,
  paymentId: string,
  merchantId: string,
  signedRequest: string,
): Promise<Payment> {
  const payment = await findPayment(context.database, paymentId);
  if (payment.merchant.id !== merchantId) throw new MpayError('PAYMENT_UNKNOWN');
  return applyEvent(context, paymentId, {
    event: 'merchant_cancelled',
    evidence: { answer: signedRequest },
    changes: { detail: 'the merchant cancelled the request' },
  });
}
