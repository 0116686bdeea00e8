import { type HistogramSnapshot, readDurationHistograms } from '@mpay/http-server';
import {
  isFinalState,
  isPaymentState,
  type PaymentState,
  paymentStateMachine,
  paymentStates,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';

/**
 * Payment statistics read from the gateway's own tables, so they survive a
 * restart and agree with what the payments say: how many payments reached
 * each state (the append-only event history, a counter), how many are in
 * each state now, and how long payments took from the merchant's request to
 * their final state (a histogram per final state).
 *
 * Read at scrape time with aggregate queries over every payment: simple and
 * exact, linear in the number of payments. Fine for a deployment's first
 * millions; past that, observe each final transition as it commits instead.
 */

/** Upper bounds of the request → final state histogram, in seconds (a person answers on a phone in between). */
export const paymentDurationBucketsSeconds: readonly number[] = Object.freeze([
  0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600,
]);

export const finalPaymentStates: readonly PaymentState[] = Object.freeze(paymentStates.filter(isFinalState));

export interface DurationHistogram {
  /** Payments of the state at or under each bound of `paymentDurationBucketsSeconds`, in order. */
  readonly bucketCounts: readonly number[];
  readonly count: number;
  readonly sumSeconds: number;
}

export interface PaymentStatistics {
  /** Payments that ever entered each state (every state listed, zero included). */
  readonly reached: ReadonlyMap<PaymentState, number>;
  /** Payments in each state now (every state listed). */
  readonly current: ReadonlyMap<PaymentState, number>;
  /** Request → final state, per final state (every final state listed). */
  readonly durations: ReadonlyMap<PaymentState, DurationHistogram>;
}

function zeroes(): Map<PaymentState, number> {
  return new Map(paymentStates.map((state) => [state, 0]));
}

function stateOf(value: string): PaymentState {
  if (!isPaymentState(value)) throw new Error(`assertion failed: stored payment state ${value}`);
  return value;
}

export async function readPaymentStatistics(sql: Sql): Promise<PaymentStatistics> {
  const reached = zeroes();
  const entered = await sql.query<{ state: string; count: string }>(
    'SELECT to_state AS state, count(*)::text AS count FROM payment_events GROUP BY to_state',
  );
  for (const row of entered.rows) reached.set(stateOf(row.state), Number(row.count));
  const current = zeroes();
  const now = await sql.query<{ state: string; count: string }>(
    'SELECT state, count(*)::text AS count FROM payments GROUP BY state',
  );
  for (const row of now.rows) current.set(stateOf(row.state), Number(row.count));
  return { reached, current, durations: await readDurations(sql) };
}

async function readDurations(sql: Sql): Promise<Map<PaymentState, DurationHistogram>> {
  const finals = [...finalPaymentStates];
  const totals = await sql.query<{ state: string; count: string; sum: number | string | null }>(
    `SELECT state, count(*)::text AS count,
       sum(extract(epoch FROM updated_at - created_at))::float8 AS sum
     FROM payments WHERE state = ANY($1::text[]) GROUP BY state`,
    [finals],
  );
  const buckets = await sql.query<{ state: string; bound: number | string; count: string }>(
    `SELECT p.state, b.bound, count(*)::text AS count
     FROM payments p JOIN unnest($2::float8[]) AS b(bound)
       ON extract(epoch FROM p.updated_at - p.created_at)::float8 <= b.bound
     WHERE p.state = ANY($1::text[]) GROUP BY p.state, b.bound`,
    [finals, [...paymentDurationBucketsSeconds]],
  );
  const durations = new Map<PaymentState, DurationHistogram>();
  for (const state of finals) {
    const total = totals.rows.find((row) => row.state === state);
    const bucketCounts = paymentDurationBucketsSeconds.map((bound) => {
      const row = buckets.rows.find(
        (candidate) => candidate.state === state && Number(candidate.bound) === bound,
      );
      return Number(row?.count ?? 0);
    });
    durations.set(state, {
      bucketCounts,
      count: Number(total?.count ?? 0),
      sumSeconds: Number(total?.sum ?? 0),
    });
  }
  return durations;
}

/**
 * Upper bounds of one step of a payment, in seconds: a verification or a
 * delivery takes milliseconds, a customer's answer on a phone minutes.
 */
export const paymentStepBucketsSeconds: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
]);

/** One step of the protocol: a transition of the state machine (from → to). */
export interface PaymentStep {
  readonly from: PaymentState;
  readonly to: PaymentState;
}

/** Every transition of the payment state machine, in the table's order: the steps a histogram is kept for. */
export const paymentSteps: readonly PaymentStep[] = Object.freeze(
  paymentStates.flatMap((from) => paymentStateMachine[from].next.map((to) => Object.freeze({ from, to }))),
);

export interface StepDurations {
  readonly step: PaymentStep;
  readonly histogram: HistogramSnapshot;
}

function emptySnapshot(buckets: readonly number[]): HistogramSnapshot {
  return { bucketCounts: buckets.map(() => 0), count: 0, sum: 0 };
}

/**
 * How long payments stayed in each state before each step, from the
 * append-only event history: the time between an event and the one before
 * it of the same payment (the merchant's request verified → countersigned
 * and pushed to the device → the customer's signature verified → the bank's
 * answer). Every transition of the table is listed, zero included.
 */
export async function readStepDurations(sql: Sql): Promise<StepDurations[]> {
  const snapshots = await readDurationHistograms(
    sql,
    `SELECT e.from_state || ' ' || e.to_state AS key,
       greatest(extract(epoch FROM e.created_at - p.created_at), 0)::float8 AS seconds
     FROM payment_events e
     JOIN payment_events p ON p.payment_id = e.payment_id AND p.sequence = e.sequence - 1
     WHERE e.from_state IS NOT NULL`,
    [],
    paymentStepBucketsSeconds,
  );
  return paymentSteps.map((step) => ({
    step,
    histogram: snapshots.get(`${step.from} ${step.to}`) ?? emptySnapshot(paymentStepBucketsSeconds),
  }));
}

/**
 * How long the outbox took to deliver each kind of effect, from the row's
 * creation (in the transaction that decided it) to its delivery: the
 * request delivered to the device (device_push), the order delivered to the
 * customer's bank and answered (bank_order), the merchant notified
 * (webhook), the outcome logged (log_entry). Kinds as outboxKinds lists them.
 */
export async function readDeliveryDurations(
  sql: Sql,
  kinds: readonly string[],
): Promise<Map<string, HistogramSnapshot>> {
  const snapshots = await readDurationHistograms(
    sql,
    `SELECT kind AS key, greatest(extract(epoch FROM delivered_at - created_at), 0)::float8 AS seconds
     FROM outbox WHERE delivered_at IS NOT NULL`,
    [],
    paymentStepBucketsSeconds,
  );
  return new Map(
    kinds.map((kind) => [kind, snapshots.get(kind) ?? emptySnapshot(paymentStepBucketsSeconds)]),
  );
}
