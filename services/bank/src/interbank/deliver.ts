import { requestJson } from '@mpay/http/client';
import { isMpayError } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import { createTransferInTransaction } from '../store/create-transfer.ts';
import { holdResolutionId } from './ids.ts';
import { type FundsTransferAnswer, signFundsTransfer, verifyAnswer } from './messages.ts';
import { finishOrder, type PaymentOrder, recordAttemptFailure, selectOrder } from './orders-store.ts';
import type { Interbank } from './peers.ts';

export interface DeliveryContext {
  readonly database: Database;
  readonly interbank: Interbank;
  readonly clock: () => Date;
  /** Operator alarms: a peer that keeps failing, an answer that does not verify. */
  readonly alarm: (event: Record<string, unknown>, message: string) => void;
}

/** Exponential backoff from 1 s up to the configured maximum. */
function retryDelaySeconds(interbank: Interbank, attempts: number): number {
  return Math.min(interbank.retryDelaySecondsMax, 2 ** Math.min(attempts, 16));
}

function messageOf(order: PaymentOrder, interbank: Interbank) {
  return {
    id: order.id,
    debtorBank: interbank.self,
    creditorBank: order.creditorBank,
    creditAccountId: order.creditAccountId,
    amount: order.amount.toString(),
    currency: order.ledger,
    reference: order.reference,
    deadline: order.deadline.toISOString(),
  };
}

/** One delivery: a freshly signed message, the peer's answer verified against the peer's key only. */
async function exchange(
  context: DeliveryContext,
  order: PaymentOrder,
): Promise<{ answer: FundsTransferAnswer; jws: string }> {
  const peer = context.interbank.peer(order.creditorBank);
  const message = await signFundsTransfer(context.interbank, messageOf(order, context.interbank));
  const response = await requestJson<{ answer?: unknown }>(
    `${peer.url}/interbank/funds-transfers`,
    {
      body: JSON.stringify({ message }),
      contentType: 'application/json',
      timeoutMs: context.interbank.deliveryTimeoutMs,
    },
    'BANK_UNAVAILABLE',
  );
  const jws = typeof response.body.answer === 'string' ? response.body.answer : '';
  return { answer: await verifyAnswer(context.interbank, peer, jws, order.id), jws };
}

/** Posts (credited) or voids (refused) the hold, and closes the order, in one transaction. */
async function resolve(
  context: DeliveryContext,
  order: PaymentOrder,
  answer: FundsTransferAnswer,
  jws: string,
) {
  const now = context.clock();
  const credited = answer.outcome === 'credited';
  await context.database.transaction(async (sql) => {
    const current = await selectOrder(sql, order.id, true);
    if (current?.state !== 'sending') return;
    await createTransferInTransaction(
      sql,
      {
        kind: credited ? 'post_pending' : 'void_pending',
        id: holdResolutionId(order.id, credited ? 'post' : 'void'),
        pendingId: order.id,
        reference: credited
          ? `credited by ${order.creditorBank}`
          : `refused by ${order.creditorBank}: ${answer.code}`,
      },
      now,
    );
    const state = credited ? 'completed' : 'refused';
    await finishOrder(
      sql,
      order.id,
      { state, refusalCode: credited ? null : (answer.code ?? 'REFUSED'), answer: jws },
      now,
    );
  });
}

/**
 * Delivers a payment order's funds-transfer message once, if the order is
 * still being delivered: the merchant bank's signed answer posts or voids the
 * hold; no answer, an error or an answer that does not verify leaves the hold
 * in place and schedules another attempt. Money never moves on an unverified
 * answer, and the hold is never released without the merchant bank's word.
 */
export async function deliverOrder(
  context: DeliveryContext,
  orderId: string,
): Promise<PaymentOrder | undefined> {
  const order = await selectOrder(context.database, orderId);
  if (order?.state !== 'sending') return order;
  try {
    const { answer, jws } = await exchange(context, order);
    await resolve(context, order, answer, jws);
  } catch (error) {
    const code = isMpayError(error) ? error.code : 'INTERNAL';
    const now = context.clock();
    const next = new Date(now.getTime() + retryDelaySeconds(context.interbank, order.attempts) * 1000);
    await recordAttemptFailure(context.database, order.id, code, next, now);
    if (code !== 'BANK_UNAVAILABLE' || order.attempts >= 5) {
      context.alarm(
        { orderId, peer: order.creditorBank, code, attempts: order.attempts + 1 },
        'funds transfer not answered',
      );
    }
  }
  return selectOrder(context.database, orderId);
}
