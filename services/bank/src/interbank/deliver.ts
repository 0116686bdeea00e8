import { requestObject } from '@mpay/http-client';
import type { ResolveTransferRequest, Transfer } from '@mpay/ledger';
import { isMpayError } from '@mpay/protocol';
import { afterCommit, type Database, type Sql, together } from '@mpay/storage';
import { checkAnswerPayAck, macroFundsTransferOf } from '../macro/funds-transfer.ts';
import type { BankObservations } from '../metrics.ts';
import { lockAccountRows } from '../store/accounts.ts';
import { createTransferInTransaction, expirePendingInTransaction } from '../store/create-transfer.ts';
import { selectResolution, selectTransfersById } from '../store/transfers.ts';
import { holdResolutionId, settlementAccountId } from './ids.ts';
import { type FundsTransfer, type FundsTransferAnswer, signFundsTransfer, verifyAnswer } from './messages.ts';
import { finishOrder, type PaymentOrder, recordAttemptFailure, selectOrder } from './orders-store.ts';
import type { Interbank } from './peers.ts';

export interface DeliveryContext {
  readonly database: Database;
  readonly interbank: Interbank;
  readonly clock: () => Date;
  /** Operator alarms: a peer that keeps failing, an answer that does not verify. */
  readonly alarm: (event: Record<string, unknown>, message: string) => void;
  /** Where orders' final states are counted once committed (metrics.ts); none: not counted. */
  readonly observations?: BankObservations | undefined;
}

/** Exponential backoff from 1 s up to the configured maximum. */
function retryDelaySeconds(interbank: Interbank, attempts: number): number {
  return Math.min(interbank.retryDelaySecondsMax, 2 ** Math.min(attempts, 16));
}

function messageOf(order: PaymentOrder, interbank: Interbank): FundsTransfer {
  // Orders placed before payment orders named their payee cannot be delivered: drain them before upgrading.
  if (order.payeeId === null) throw new Error('assertion failed: an order to another bank names its payee');
  return {
    id: order.id,
    debtorBank: interbank.self,
    creditorBank: order.creditorBank,
    payeeId: order.payeeId,
    amount: order.amount.toString(),
    currency: order.ledger,
    reference: order.reference,
    deadline: order.deadline.toISOString(),
  };
}

/**
 * One delivery: a freshly signed message, the peer's answer verified against
 * the peer's key only. A macro payment's order sends the paper's FT (step 8)
 * with it, and its credited answer must carry the Pay_Ack (step 10) for that
 * FT: MACRO_PAY_ACK_INVALID otherwise, and nothing is acted on.
 */
async function exchange(
  context: DeliveryContext,
  order: PaymentOrder,
): Promise<{ answer: FundsTransferAnswer; jws: string }> {
  const peer = context.interbank.peer(order.creditorBank);
  const macro = await macroFundsTransferOf(context.database, context.interbank.self, order);
  const message = await signFundsTransfer(context.interbank, messageOf(order, context.interbank), macro);
  const response = await requestObject<{ answer?: unknown }>(
    `${peer.url}/interbank/funds-transfers`,
    {
      body: JSON.stringify({ message }),
      contentType: 'application/json',
      timeoutMs: context.interbank.deliveryTimeoutMs,
    },
    'BANK_UNAVAILABLE',
  );
  const jws = typeof response.body.answer === 'string' ? response.body.answer : '';
  const { payAck, ...answer } = await verifyAnswer(context.interbank, peer, jws, order.id);
  // Pay_Ack's expiry is the signed answer's: wall-clock time, as every message's freshness.
  checkAnswerPayAck(macro, { ...answer, payAck }, new Date());
  return { answer, jws };
}

/** The post or void of the hold that the merchant bank's answer asks for. */
function resolutionOf(order: PaymentOrder, answer: FundsTransferAnswer): ResolveTransferRequest {
  const credited = answer.outcome === 'credited';
  return {
    kind: credited ? 'post_pending' : 'void_pending',
    id: holdResolutionId(order.id, credited ? 'post' : 'void'),
    pendingId: order.id,
    reference: credited
      ? `credited by ${order.creditorBank}`
      : `refused by ${order.creditorBank}: ${answer.code}`,
  };
}

/**
 * The hold's timeout passed while the merchant bank could not be reached (the
 * sweep leaves such holds alone): release it as the sweep would and, for a
 * credit, debit the customer in the same transaction; the released amount
 * covers it.
 */
async function resolveExpired(
  sql: Sql,
  order: PaymentOrder,
  answer: FundsTransferAnswer,
  self: string,
  now: Date,
) {
  await expirePendingInTransaction(sql, order.id, holdResolutionId(order.id, 'void'), now);
  if (answer.outcome !== 'credited') return;
  await createTransferInTransaction(
    sql,
    {
      kind: 'posted',
      id: holdResolutionId(order.id, 'post'),
      debitAccountId: order.debitAccountId,
      creditAccountId: settlementAccountId(self, order.creditorBank, order.ledger),
      amount: order.amount,
      ledger: order.ledger as Transfer['ledger'],
      reference: `credited by ${order.creditorBank} after the hold expired`,
    },
    now,
  );
}

/**
 * Posts (credited) or voids (refused) the hold and closes the order, in one
 * transaction. The order leaves 'sending' first: the database refuses any
 * other resolution of a hold whose order is still 'sending'. Returns the
 * closed order; undefined when another delivery had closed it (nothing done).
 */
async function resolve(
  context: DeliveryContext,
  order: PaymentOrder,
  answer: FundsTransferAnswer,
  jws: string,
): Promise<PaymentOrder | undefined> {
  const now = context.clock();
  const credited = answer.outcome === 'credited';
  return context.database.transaction(async (sql) => {
    const refusalCode = credited ? null : (answer.code ?? 'REFUSED');
    const resolution = resolutionOf(order, answer);
    // Locks the order, as SELECT … FOR UPDATE did: a concurrent close waits, then finds it closed. Under
    // that lock, in the same round trip, the resolution's id and its hold as the ledger has them, then the
    // hold's two accounts (the payer's and the creditor bank's settlement account, as the order placed
    // it) locked in id order and, under those locks, the hold's current resolution.
    const [closed, found, locked, current] = await together([
      finishOrder(
        sql,
        order.id,
        { state: credited ? 'completed' : 'refused', refusalCode, answer: jws },
        now,
      ),
      selectTransfersById(sql, [resolution.id, resolution.pendingId]),
      lockAccountRows(
        sql,
        order.debitAccountId,
        settlementAccountId(context.interbank.self, order.creditorBank, order.ledger),
      ),
      selectResolution(sql, resolution.pendingId),
    ]);
    if (closed === undefined) return undefined;
    const { observations } = context;
    if (observations !== undefined)
      afterCommit(sql, () => observations.orderEntered(closed.state, closed.createdAt, now));
    try {
      // Nothing follows the resolution but the COMMIT, which leaves with its write. A hold past its
      // timeout is refused before anything is written (TRANSFER_EXPIRED), and released below instead.
      await createTransferInTransaction(sql, resolution, now, {
        found,
        pendingLocked: { locked, resolution: current },
        lastInTransaction: true,
      });
    } catch (error) {
      if (!isMpayError(error) || error.code !== 'TRANSFER_EXPIRED') throw error;
      await resolveExpired(sql, order, answer, context.interbank.self, now);
    }
    return closed;
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
  return order === undefined ? undefined : deliverPlacedOrder(context, order);
}

/**
 * Orders this process is delivering right now, per bank (its database
 * handle): the worker leaves them to that delivery instead of sending the
 * same message a second time. Only an optimisation: another process's worker
 * may still deliver one twice, which the merchant bank answers from its
 * stored decision, and after a crash the set is gone with the process.
 */
const deliveringNow = new WeakMap<Database, Set<string>>();

function deliveringIn(database: Database): Set<string> {
  let delivering = deliveringNow.get(database);
  if (delivering === undefined) {
    delivering = new Set();
    deliveringNow.set(database, delivering);
  }
  return delivering;
}

/** Whether this process is delivering order `orderId` of this bank now (see `deliveringNow`). */
export function isBeingDelivered(context: DeliveryContext, orderId: string): boolean {
  return deliveringIn(context.database).has(orderId);
}

/**
 * `deliverOrder` for an order its caller has just read or placed: what the
 * order is after the attempt (the closed order from the database, or read
 * again when the attempt failed or another delivery closed it). Returns it
 * unchanged when it is not 'sending'.
 */
export async function deliverPlacedOrder(
  context: DeliveryContext,
  order: PaymentOrder,
): Promise<PaymentOrder> {
  if (order.state !== 'sending') return order;
  const delivering = deliveringIn(context.database);
  const first = !delivering.has(order.id);
  delivering.add(order.id);
  try {
    const { answer, jws } = await exchange(context, order);
    const closed = await resolve(context, order, answer, jws);
    if (closed !== undefined) return closed;
  } catch (error) {
    const code = isMpayError(error) ? error.code : 'INTERNAL';
    const now = context.clock();
    const next = new Date(now.getTime() + retryDelaySeconds(context.interbank, order.attempts) * 1000);
    await recordAttemptFailure(context.database, order.id, code, next, now);
    if (code !== 'BANK_UNAVAILABLE' || order.attempts >= 5) {
      context.alarm(
        { orderId: order.id, peer: order.creditorBank, code, attempts: order.attempts + 1 },
        'funds transfer not answered',
      );
    }
  } finally {
    if (first) delivering.delete(order.id);
  }
  return (await selectOrder(context.database, order.id)) ?? order;
}
