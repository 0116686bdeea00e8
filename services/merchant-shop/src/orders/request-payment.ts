import {
  type ErrorCode,
  type ImsOrderLine,
  imsPrivateDataToText,
  isMpayError,
  type OrderEventKind,
  stepOrder,
} from '@mpay/protocol';
import type { PaymentRequestAccepted } from '@mpay/sdk';
import type { ShopContext } from '../context.ts';
import { markDelivered, markFailed, type OutboxRow } from '../outbox/outbox.ts';
import {
  findOrder,
  type Order,
  persistOrderStep,
  recordPayer,
  recordPaymentFailure,
  recordPaymentStatus,
} from './store.ts';

/**
 * Answers of the FSP that may mean an earlier attempt of this same request
 * got through (its answer lost): the next attempt asks for the payment first.
 */
const maybeAlreadyRequested: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'IDEMPOTENCY_KEY_REUSED',
  'IDEMPOTENCY_REQUEST_IN_PROGRESS',
  'MESSAGE_REPLAYED',
  'PAYMENT_STATE_INVALID',
]);

type Attempt =
  | { readonly kind: 'accepted'; readonly status: string; readonly answer?: PaymentRequestAccepted }
  | { readonly kind: 'refused'; readonly code: ErrorCode }
  | { readonly kind: 'retry'; readonly error: string };

function classify(error: unknown): Attempt {
  if (!isMpayError(error)) return { kind: 'retry', error: error instanceof Error ? error.message : 'error' };
  if (error.category === 'retryable' || maybeAlreadyRequested.has(error.code))
    return { kind: 'retry', error: error.code };
  return { kind: 'refused', code: error.code };
}

/**
 * An earlier attempt's request may have reached the FSP: ask for the payment
 * under the order's transaction id before asking again, so that a retry
 * never makes a second request (the FSP would refuse a second payment under
 * the same transaction id anyway).
 */
async function earlierRequest(context: ShopContext, order: Order): Promise<Attempt | undefined> {
  try {
    const payment = await context.merchant.paymentStatus(order.payment.transactionId);
    return { kind: 'accepted', status: typeof payment.status === 'string' ? payment.status : 'requested' };
  } catch (error) {
    if (isMpayError(error, 'PAYMENT_UNKNOWN')) return undefined;
    // Not knowing is no refusal of the request: ask again later.
    return { kind: 'retry', error: isMpayError(error) ? error.code : 'payment status unavailable' };
  }
}

/**
 * The cart's lines as the sealed private fields carry them: only when the
 * client seals (it knows the banks) and they fit the sealed section's limits
 * (at most 20 lines and 4 KiB of text with the description); otherwise the
 * description alone stands for the order.
 */
function sealableLines(context: ShopContext, order: Order): { orderLines?: readonly ImsOrderLine[] } {
  if (!context.merchant.sealsPrivateData) return {};
  const orderLines = order.lines.map((line) => ({
    name: line.name,
    quantity: line.quantity,
    unitAmount: line.unitPrice,
  }));
  try {
    imsPrivateDataToText({
      transactionId: order.payment.transactionId,
      description: order.description,
      orderLines,
    });
    return { orderLines };
  } catch {
    return {};
  }
}

/**
 * iMS §2.1 and step 1: "the merchant's automated service receives the
 * information from the user's shopping card and initiates a financial
 * message", signed by the merchant and encrypted to the FSP. The message is
 * built first, so that the payer's party id it names (an MSISDN resolved by
 * the FSP's alias) is recorded before anything is sent: a notification is
 * later believed only for that payer.
 */
async function sendRequest(context: ShopContext, order: Order): Promise<Attempt> {
  try {
    const { message, jwe } = await context.merchant.buildPaymentRequest({
      customer: order.payment.payer ?? order.customer,
      amount: order.total,
      procedure: 'm-commerce',
      description: order.description,
      // The cart, sealed with the description for the customer and the banks, when it fits.
      ...sealableLines(context, order),
      transactionId: order.payment.transactionId,
    });
    await recordPayer(context.database, order.payment.transactionId, message.address.from.id);
    const answer = await context.merchant.submit(jwe, order.payment.transactionId);
    return { kind: 'accepted', status: answer.status, answer };
  } catch (error) {
    return classify(error);
  }
}

/** Persists the outcome of an attempt: the order's step and the outbox row, in one transaction. */
async function settle(
  context: ShopContext,
  row: OutboxRow,
  orderId: string,
  event: OrderEventKind,
  payment: { fspStatus?: string; failureCode?: string; answer?: PaymentRequestAccepted },
): Promise<void> {
  const now = context.clock();
  await context.database.transaction(async (sql) => {
    const order = await findOrder(sql, orderId, { lock: true });
    if (order === undefined) throw new Error(`assertion failed: order ${orderId} exists`);
    if (payment.fspStatus !== undefined) {
      await recordPaymentStatus(
        sql,
        order.payment.transactionId,
        {
          fspStatus: payment.fspStatus,
          securityLevel: payment.answer?.securityLevel,
          expiresAt: payment.answer?.expiresAt,
          requested: true,
        },
        now,
      );
    }
    if (payment.failureCode !== undefined)
      await recordPaymentFailure(sql, order.payment.transactionId, payment.failureCode, now);
    // The order may have moved meanwhile (a notification overtook the answer): the table decides.
    const result = stepOrder(order.state, event);
    if (result.changed) {
      await persistOrderStep(
        sql,
        order,
        event,
        result,
        { actor: 'shop', detail: payment.failureCode ?? payment.fspStatus },
        now,
      );
    }
    await markDelivered(sql, row, now);
  });
}

/**
 * One attempt at an order's payment request (an outbox row): asks the FSP
 * once, then records `payment_requested`, or `payment_request_failed` on a
 * refusal or once `paymentRequestWindowSeconds` has passed since checkout;
 * anything else is retried with a backoff.
 */
export async function deliverPaymentRequest(context: ShopContext, row: OutboxRow): Promise<void> {
  const order = await findOrder(context.database, row.subject);
  if (order === undefined) throw new Error(`assertion failed: order ${row.subject} exists`);
  if (order.state !== 'placed') {
    await markDelivered(context.database, row, context.clock());
    return;
  }
  const windowEndsMs = order.createdAt.getTime() + context.limits.paymentRequestWindowSeconds * 1000;
  let attempt = row.attempts > 0 ? await earlierRequest(context, order) : undefined;
  if (attempt?.kind !== 'accepted' && context.clock().getTime() >= windowEndsMs) {
    // Too late to ask a customer who checked out that long ago. Should a lost request have got
    // through after all, its signed outcome still settles the order (payment_request_failed allows it).
    attempt = { kind: 'refused', code: 'SERVICE_UNAVAILABLE' };
  }
  attempt ??= await sendRequest(context, order);
  switch (attempt.kind) {
    case 'accepted':
      await settle(context, row, order.id, 'payment_requested', {
        fspStatus: attempt.status,
        ...(attempt.answer === undefined ? {} : { answer: attempt.answer }),
      });
      return;
    case 'refused':
      context.log.warn({ orderId: order.id, code: attempt.code }, 'payment request refused');
      await settle(context, row, order.id, 'payment_request_failed', { failureCode: attempt.code });
      return;
    case 'retry':
      await markFailed(context, row, attempt.error, context.clock());
      return;
  }
}
