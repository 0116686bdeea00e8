import { encryptTo } from '@mpay/envelope';
import {
  canonicalize,
  customerSignedContent,
  type ImsMessage,
  imsFromJson,
  imsToJson,
  isMpayError,
  MpayError,
} from '@mpay/protocol';
import { refusalError } from '../banks/client.ts';
import type { GatewayContext } from '../context.ts';
import { partyEncryptionKey } from '../registry/keys.ts';
import { recordNonce } from './nonces.ts';
import { settlePayment } from './settle.ts';
import { findPayment, type PaymentRecord, transitionPayment } from './store.ts';
import { openMessageToFsp, verifyChainSignature } from './verify.ts';

export type ConfirmationResult =
  | { status: 'completed'; paymentId: string; receipt: string }
  | { status: 'authorised'; paymentId: string };

/** The message the FSP itself sent, plus the customer's verified signature: nothing else from the client is kept. */
function withCustomerSignature(payment: PaymentRecord, sign: string): ImsMessage {
  const sent = imsFromJson(JSON.parse(payment.message));
  return { ...sent, address: { ...sent.address, from: { ...sent.address.from, sign } } };
}

async function expire(context: GatewayContext, paymentId: string): Promise<never> {
  await context.database
    .transaction((sql) =>
      transitionPayment(sql, paymentId, 'awaiting_customer_signature', 'request_expired', {
        detail: 'customer answered too late',
      }),
    )
    .catch(() => undefined);
  throw new MpayError('PAYMENT_EXPIRED');
}

/**
 * iMS steps 4–6 at the FSP: the customer's signed and encrypted message comes
 * back; it must be the very message the FSP sent (content, accounts, merchant
 * and FSP signatures) plus a valid customer signature over it, once.
 */
export type VerifiedConfirmation = Awaited<ReturnType<typeof verifyConfirmation>>;

export async function verifyConfirmation(context: GatewayContext, paymentId: string, jwe: string) {
  const { message } = await openMessageToFsp(context, jwe);
  if (message.transactionId !== paymentId) throw new MpayError('PAYMENT_MESSAGE_MISMATCH');
  const payment = await findPayment(context.database, paymentId);
  const sent = imsFromJson(JSON.parse(payment.message));
  if (canonicalize(customerSignedContent(message)) !== canonicalize(customerSignedContent(sent))) {
    throw new MpayError('PAYMENT_MESSAGE_MISMATCH');
  }
  const verified = await verifyChainSignature(context, context.database, message.address.from.sign, {
    signer: payment.customerId,
    transactionId: paymentId,
    content: customerSignedContent(sent),
  });
  return { payment, message, verified };
}

/** iMS steps 6–10 for a verified confirmation: record it once, settle, answer with the receipt. */
export async function confirmPayment(
  context: GatewayContext,
  confirmation: VerifiedConfirmation,
): Promise<ConfirmationResult> {
  const { payment, message, verified } = confirmation;
  const paymentId = payment.id;
  if (payment.state !== 'awaiting_customer_signature') return answerAgain(context, payment, message);
  if (payment.expiresAt.getTime() <= Date.now()) return expire(context, paymentId);
  await context.database.transaction(async (sql) => {
    await recordNonce(sql, payment.customerId, verified.claims.nonce, verified.claims.exp);
    await transitionPayment(sql, paymentId, 'awaiting_customer_signature', 'customer_signature_verified', {
      message: JSON.stringify(imsToJson(withCustomerSignature(payment, message.address.from.sign!))),
      detail: 'customer signature verified',
    });
  });
  return settleAndAnswer(context, paymentId);
}

/**
 * The same confirmation again (a client retry after a lost answer) gets the
 * first result; any other message for a payment past this step is refused.
 * Either way nothing is transferred a second time.
 */
async function answerAgain(
  context: GatewayContext,
  payment: PaymentRecord,
  message: ImsMessage,
): Promise<ConfirmationResult> {
  const stored = imsFromJson(JSON.parse(payment.message));
  if (stored.address.from.sign !== message.address.from.sign) {
    throw new MpayError(payment.state === 'request_expired' ? 'PAYMENT_EXPIRED' : 'PAYMENT_STATE_INVALID');
  }
  if (payment.state === 'customer_signature_verified') return { status: 'authorised', paymentId: payment.id };
  if (payment.state === 'funds_refused') throw refusalError(payment.failureCode ?? 'PAYMENT_DECLINED');
  if (payment.receipt === null) throw new MpayError('PAYMENT_STATE_INVALID');
  return completed(context, payment.id, payment.customerId, payment.receipt);
}

/** The answer to a completed payment: the FSP-signed receipt, encrypted to the customer's device. */
async function completed(
  context: GatewayContext,
  paymentId: string,
  customerId: string,
  receipt: string,
): Promise<ConfirmationResult> {
  const customerKey = await partyEncryptionKey(
    context.database,
    context.fsp,
    customerId,
    context.limits.clockSkewSeconds,
  );
  return { status: 'completed', paymentId, receipt: await encryptTo(receipt, customerKey.jwk) };
}

async function settleAndAnswer(context: GatewayContext, paymentId: string): Promise<ConfirmationResult> {
  let result: Awaited<ReturnType<typeof settlePayment>>;
  try {
    result = await settlePayment(context, paymentId);
  } catch (error) {
    if (!isMpayError(error, 'PAYMENT_STATE_INVALID')) throw error;
    const payment = await findPayment(context.database, paymentId);
    if (payment.receipt === null) throw error;
    result = { kind: 'completed', payment, receipt: payment.receipt };
  }
  if (result.kind === 'refused') throw refusalError(result.code);
  if (result.kind === 'pending') return { status: 'authorised', paymentId };
  return completed(context, paymentId, result.payment.customerId, result.receipt);
}
