import { requestObject } from '@mpay/http-client';
import type { Transfer, TransferRequest } from '@mpay/ledger';
import { isMpayError } from '@mpay/protocol';
import { afterCommit, type Sql } from '@mpay/storage';
import { createTransferInTransaction, expirePendingInTransaction } from '../store/create-transfer.ts';
import type { DeliveryContext } from './deliver.ts';
import { settlementAccountId } from './ids.ts';
import { refundHoldResolutionId } from './refund-ids.ts';
import {
  type RefundTransfer,
  type RefundTransferAnswer,
  signRefundTransfer,
  verifyRefundAnswer,
} from './refund-messages.ts';
import {
  finishRefundOrder,
  type RefundOrder,
  recordRefundAttemptFailure,
  selectRefundOrder,
} from './refund-orders-store.ts';

/** Exponential backoff from 1 s up to the configured maximum (as payment orders back off). */
function retryDelaySeconds(context: DeliveryContext, attempts: number): number {
  return Math.min(context.interbank.retryDelaySecondsMax, 2 ** Math.min(attempts, 16));
}

function messageOf(order: RefundOrder, self: string): RefundTransfer {
  return {
    id: order.id,
    debtorBank: self,
    creditorBank: order.originalBank,
    originalOrderId: order.originalOrderId,
    payerId: order.payerId,
    payeeId: order.payeeId,
    amount: order.amount.toString(),
    currency: order.ledger,
    reference: order.reference,
    deadline: order.deadline.toISOString(),
  };
}

/** One delivery: a freshly signed message, the peer's answer verified against the peer's key only. */
async function exchange(
  context: DeliveryContext,
  order: RefundOrder,
): Promise<{ answer: RefundTransferAnswer; jws: string }> {
  const peer = context.interbank.peer(order.originalBank);
  const message = await signRefundTransfer(context.interbank, messageOf(order, context.interbank.self));
  const response = await requestObject<{ answer?: unknown }>(
    `${peer.url}/interbank/refund-transfers`,
    {
      body: JSON.stringify({ message }),
      contentType: 'application/json',
      timeoutMs: context.interbank.deliveryTimeoutMs,
    },
    'BANK_UNAVAILABLE',
  );
  const jws = typeof response.body.answer === 'string' ? response.body.answer : '';
  return { answer: await verifyRefundAnswer(context.interbank, peer, jws, order.id), jws };
}

function resolutionOf(order: RefundOrder, answer: RefundTransferAnswer): TransferRequest {
  const credited = answer.outcome === 'credited';
  return {
    kind: credited ? 'post_pending' : 'void_pending',
    id: refundHoldResolutionId(order.id, credited ? 'post' : 'void'),
    pendingId: order.transferId,
    reference: credited
      ? `refund credited by ${order.originalBank}`
      : `refund refused by ${order.originalBank}: ${answer.code}`,
  };
}

/**
 * The hold's timeout passed while the customer's bank could not be reached
 * (the sweep leaves such holds alone): release it as the sweep would and, for
 * a credit, debit the merchant in the same transaction; the released amount
 * covers it.
 */
async function resolveExpired(
  sql: Sql,
  order: RefundOrder,
  answer: RefundTransferAnswer,
  self: string,
  now: Date,
) {
  await expirePendingInTransaction(sql, order.transferId, refundHoldResolutionId(order.id, 'void'), now);
  if (answer.outcome !== 'credited') return;
  await createTransferInTransaction(
    sql,
    {
      kind: 'posted',
      id: refundHoldResolutionId(order.id, 'post'),
      debitAccountId: order.debitAccountId,
      creditAccountId: settlementAccountId(self, order.originalBank, order.ledger),
      amount: order.amount,
      ledger: order.ledger as Transfer['ledger'],
      reference: `refund credited by ${order.originalBank} after the hold expired`,
    },
    now,
  );
}

/**
 * Posts (credited) or voids (refused) the hold and closes the refund order,
 * in one transaction. The order leaves 'sending' first: the database refuses
 * any other resolution of a hold whose refund order is still 'sending'.
 */
async function resolve(
  context: DeliveryContext,
  order: RefundOrder,
  answer: RefundTransferAnswer,
  jws: string,
) {
  const now = context.clock();
  const credited = answer.outcome === 'credited';
  await context.database.transaction(async (sql) => {
    const current = await selectRefundOrder(sql, order.id, true);
    if (current?.state !== 'sending') return;
    await finishRefundOrder(
      sql,
      order.id,
      {
        state: credited ? 'completed' : 'refused',
        refusalCode: credited ? null : (answer.code ?? 'REFUSED'),
        answer: jws,
      },
      now,
    );
    const { observations } = context;
    if (observations !== undefined)
      afterCommit(sql, () => observations.refundOrderEntered(credited ? 'completed' : 'refused'));
    try {
      await createTransferInTransaction(sql, resolutionOf(order, answer), now);
    } catch (error) {
      if (!isMpayError(error) || error.code !== 'TRANSFER_EXPIRED') throw error;
      await resolveExpired(sql, order, answer, context.interbank.self, now);
    }
  });
}

/**
 * Delivers a refund order's refund-transfer message once, if it is still
 * being delivered: the customer's bank's signed answer posts or voids the
 * hold on the merchant's account; no answer, an error or an answer that does
 * not verify leaves the hold in place and schedules another attempt. Money
 * never moves on an unverified answer, and the hold is never released
 * without the customer's bank's word.
 */
export async function deliverRefundOrder(
  context: DeliveryContext,
  refundId: string,
): Promise<RefundOrder | undefined> {
  const order = await selectRefundOrder(context.database, refundId);
  if (order?.state !== 'sending') return order;
  try {
    const { answer, jws } = await exchange(context, order);
    await resolve(context, order, answer, jws);
  } catch (error) {
    const code = isMpayError(error) ? error.code : 'INTERNAL';
    const now = context.clock();
    const next = new Date(now.getTime() + retryDelaySeconds(context, order.attempts) * 1000);
    await recordRefundAttemptFailure(context.database, order.id, code, next, now);
    if (code !== 'BANK_UNAVAILABLE' || order.attempts >= 5) {
      context.alarm(
        { refundId, peer: order.originalBank, code, attempts: order.attempts + 1 },
        'refund transfer not answered',
      );
    }
  }
  return selectRefundOrder(context.database, refundId);
}
