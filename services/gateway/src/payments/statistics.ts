import { isFinalState, isPaymentState, type PaymentState, paymentStates } from '@mpay/protocol';
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
