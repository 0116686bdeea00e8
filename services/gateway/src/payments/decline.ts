import { decodeUnverified } from '@mpay/envelope';
import { customerDeclineContent, MpayError } from '@mpay/protocol';
import type { GatewayContext } from '../context.ts';
import { recordNonce } from './nonces.ts';
import { findPayment, type Payment } from './store.ts';
import { applyEvent } from './transition.ts';
import { jsonMember, openToFsp, verifyChainSignature } from './verify.ts';

/**
 * The customer declines: a JWE to the FSP holding `{"decline": "<jws>"}`,
 * the customer's signature over the decline content (which differs from a
 * confirmation's, so neither can stand for the other), by the customer's
 * bound key. The decline is logged with the FSP's signed outcome, and the
 * merchant is notified.
 */
export async function declinePayment(
  context: GatewayContext,
  paymentId: string,
  jwe: string,
): Promise<Payment> {
  const decline = jsonMember(await openToFsp(context, jwe), 'decline');
  if (typeof decline !== 'string') throw new MpayError('MESSAGE_INVALID', 'decline');
  const payment = await findPayment(context.database, paymentId);
  const issuer = (decodeUnverified(decline)?.payload as { iss?: unknown } | undefined)?.iss;
  if (issuer !== payment.customer.id) throw new MpayError('PAYMENT_UNKNOWN');
  const verified = await verifyChainSignature(context, context.database, decline, {
    signer: payment.customer.id,
    transactionId: paymentId,
    content: customerDeclineContent(payment.message),
  });
  return applyEvent(context, paymentId, {
    event: 'customer_declined',
    evidence: { answer: decline },
    changes: { decline, detail: 'the customer declined' },
    guard: (sql) => recordNonce(sql, payment.customer.id, verified.claims.nonce, verified.claims.exp),
  });
}
