import { type PaymentEventKind, stepPayment } from '@mpay/protocol';
import { commitWithLastStatements, type Sql, together } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import { deliverAfterCommit, outboxLeaseOf } from '../outbox/deliver.ts';
import { materialiseEffects, type StepEvidence } from './effects.ts';
import { observeStepAfterCommit } from './statistics.ts';
import { findPayment, type OutboxLease, type Payment, type PaymentChanges, persistStep } from './store.ts';

export interface EventInput {
  readonly event: PaymentEventKind;
  readonly evidence?: StepEvidence;
  /** Changes the event itself brings (the customer's signed message, the bank's answer). */
  readonly changes?: PaymentChanges;
  /** Runs in the transaction on the locked payment before the step (record a nonce, check the caller). */
  readonly guard?: (sql: Sql, payment: Payment) => Promise<void>;
  /** The payment as the caller already read it with its lock in this transaction: not read again. */
  readonly locked?: Payment;
  /** Where the step's effects due at once are leased to this start, for the caller to deliver after its commit. */
  readonly lease?: OutboxLease | undefined;
  /**
   * The step is the last of the caller's transaction: its COMMIT leaves with
   * the step's statements (@mpay/storage's commitWithLastStatements, one
   * round trip less on PostgreSQL). The caller sends nothing after.
   */
  readonly lastInTransaction?: boolean;
}

/**
 * Applies one event to a payment inside `sql`: lock the row, let the pure
 * step function decide, materialise its effects (signed receipts and outbox
 * rows), and persist all of it. Throws what the step throws; nothing is
 * written then, since the caller's transaction rolls back. Returns the
 * payment as it now stands.
 */
export async function applyEventIn(
  context: GatewayContext,
  sql: Sql,
  paymentId: string,
  input: EventInput,
  now: Date,
): Promise<Payment> {
  const payment = input.locked ?? (await findPayment(sql, paymentId, { lock: true }));
  if (payment.id !== paymentId) throw new Error('assertion failed: the locked payment is the one named');
  await input.guard?.(sql, payment);
  const result = stepPayment(payment, input.event, now);
  const evidence = input.evidence ?? {};
  const withChanges: Payment = {
    ...payment,
    message: input.changes?.message ?? payment.message,
  };
  const { changes, outbox, writes } = await materialiseEffects(
    context,
    sql,
    withChanges,
    result.next,
    result.effects,
    evidence,
    now,
    input.lease,
  );
  // The step and the effects' other writes (a log entry) in one round trip.
  const step = together([
    persistStep(
      sql,
      payment,
      input.event,
      result,
      {
        ...input.changes,
        ...changes,
        ...(evidence.failureCode === undefined ? {} : { failureCode: evidence.failureCode }),
      },
      outbox,
      now,
      input.lease,
    ),
    ...writes.map((write) => write()),
  ]);
  // Each write is one statement: persistStep's and theirs are counted, so none is left to commit alone.
  if (input.lastInTransaction === true) commitWithLastStatements(sql, 1 + writes.length);
  const [stepped] = await step;
  observeStepAfterCommit(sql, context.statistics, payment, result.next, outbox, now);
  return stepped;
}

/** `applyEventIn` in a transaction of its own; its effects are delivered after the commit. */
export async function applyEvent(
  context: GatewayContext,
  paymentId: string,
  input: Omit<EventInput, 'lease'>,
): Promise<Payment> {
  const now = context.clock();
  const lease = outboxLeaseOf(context, now);
  const payment = await context.database.transaction((sql) =>
    applyEventIn(context, sql, paymentId, { ...input, lease, lastInTransaction: true }, now),
  );
  deliverAfterCommit(context, lease);
  return payment;
}
