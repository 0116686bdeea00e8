import type { Counter, Histogram, MetricsRegistry } from '@mpay/http-server';
import {
  isFinalState,
  isPaymentState,
  type PaymentState,
  paymentStateMachine,
  paymentStates,
  publicStatusOf,
} from '@mpay/protocol';
import { afterCommit, type Sql } from '@mpay/storage';
import type { OutboxEntry, Payment } from './store.ts';

/**
 * Payment statistics, observed as the steps and deliveries that make them
 * commit (@mpay/storage's afterCommit: a transaction that rolls back counts
 * nothing): how many payments reached each state, how long they took from
 * the merchant's request to their final state, how long each step took, and
 * how long the outbox took to deliver each kind of effect. Kept in this
 * process, from its start: a scrape costs the same after a billion payments
 * as after one. Each gateway process counts what it did; Prometheus sums the
 * instances and takes a restart's reset in its stride (rate(), increase()).
 * Only what is in flight is read from the tables at a scrape
 * (`readPaymentsInFlight`), through indexes, so its cost follows the
 * payments under way, never the history.
 *
 * These used to be read from the tables at every scrape (every payment, a
 * self-join of every event, every delivered outbox row): at 300,000 payments
 * one scrape took PostgreSQL about 22 s (docs/metrics.md).
 */

/** Upper bounds of the request → final state histogram, in seconds (a person answers on a phone in between). */
export const paymentDurationBucketsSeconds: readonly number[] = Object.freeze([
  0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600,
]);

export const finalPaymentStates: readonly PaymentState[] = Object.freeze(paymentStates.filter(isFinalState));

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

/** A payment that entered a state, as the step that brought it there committed. */
export interface EnteredState {
  /** The state it left; null when the payment was created (the merchant's request verified). */
  readonly from: PaymentState | null;
  readonly to: PaymentState;
  /** When it entered `to` (the step's clock, as its event records it). */
  readonly at: Date;
  /** When it entered `from` (its previous event); unused when `from` is null. */
  readonly fromAt: Date;
  /** The merchant's request: the start of the request → final state duration. */
  readonly createdAt: Date;
}

/** What the gateway's metrics observe, once the transaction that did it committed. */
export interface PaymentObservations {
  entered(entry: EnteredState): void;
  /** An effect of the outbox `kind`, queued at `queuedAt`, marked delivered at `deliveredAt`. */
  delivered(kind: string, queuedAt: Date, deliveredAt: Date): void;
}

function secondsBetween(from: Date, to: Date): number {
  // The clock may step back between two readings: a duration is never negative (as the old query's greatest(…, 0)).
  return Math.max(0, (to.getTime() - from.getTime()) / 1000);
}

/**
 * The gateway's payment metrics in `registry` (every state, final state,
 * step of the state machine and outbox kind listed at zero from the start),
 * and the observer that moves them.
 */
export function createPaymentStatistics(
  registry: MetricsRegistry,
  outboxKinds: readonly string[],
): PaymentObservations {
  const reached: Counter = registry.counter({
    name: 'mpay_gateway_payments_total',
    help: 'Payments that reached each state of the iMS protocol (the first, merchant_request_verified, counts every request), in this process since its start.',
    labelNames: ['state', 'status'],
  });
  const duration: Histogram = registry.histogram({
    name: 'mpay_gateway_payment_duration_seconds',
    help: "From the merchant's request to the payment's final state, per final state, in this process since its start.",
    labelNames: ['state', 'status'],
    buckets: paymentDurationBucketsSeconds,
  });
  const stepDuration: Histogram = registry.histogram({
    name: 'mpay_gateway_payment_step_duration_seconds',
    help: 'Time a payment spent in from_state before the step to to_state (every transition listed), in this process since its start.',
    labelNames: ['from_state', 'to_state'],
    buckets: paymentStepBucketsSeconds,
  });
  const deliveryDuration: Histogram = registry.histogram({
    name: 'mpay_gateway_outbox_delivery_duration_seconds',
    help: 'From an effect queued to its delivery, per outbox (device_push: the request reached the device; bank_order: the bank answered), in this process since its start.',
    labelNames: ['outbox'],
    buckets: paymentStepBucketsSeconds,
  });
  const labelsOf = (state: PaymentState) => ({ state, status: publicStatusOf(state) });
  const empty = (buckets: readonly number[]) => ({ bucketCounts: buckets.map(() => 0), count: 0, sum: 0 });
  for (const state of paymentStates) reached.set(labelsOf(state), 0);
  for (const state of finalPaymentStates) duration.set(labelsOf(state), empty(paymentDurationBucketsSeconds));
  for (const step of paymentSteps)
    stepDuration.set({ from_state: step.from, to_state: step.to }, empty(paymentStepBucketsSeconds));
  for (const kind of outboxKinds)
    deliveryDuration.set({ outbox: `outbox/${kind}` }, empty(paymentStepBucketsSeconds));
  return {
    entered({ from, to, at, fromAt, createdAt }) {
      reached.inc(labelsOf(to));
      if (from !== null) stepDuration.observe({ from_state: from, to_state: to }, secondsBetween(fromAt, at));
      if (isFinalState(to)) duration.observe(labelsOf(to), secondsBetween(createdAt, at));
    },
    delivered(kind, queuedAt, deliveredAt) {
      deliveryDuration.observe({ outbox: `outbox/${kind}` }, secondsBetween(queuedAt, deliveredAt));
    },
  };
}

/** Observes `entry` once the transaction of `sql` committed (nothing without observations). */
export function observeEnteredAfterCommit(
  sql: Sql,
  observations: PaymentObservations | undefined,
  entry: EnteredState,
): void {
  if (observations !== undefined) afterCommit(sql, () => observations.entered(entry));
}

/** A payment request inserted (store.ts's insertPayment) at `now`: counted once the transaction committed. */
export function observeRequestAfterCommit(
  sql: Sql,
  observations: PaymentObservations | undefined,
  now: Date,
): void {
  observeEnteredAfterCommit(sql, observations, {
    from: null,
    to: 'merchant_request_verified',
    at: now,
    fromAt: now,
    createdAt: now,
  });
}

/**
 * A step persisted (store.ts's persistStep) on `payment` as it was read
 * before the step: the state it entered at `now`, and the effects its commit
 * delivered (a request pushed at the commit, written delivered), observed
 * once the transaction committed.
 */
export function observeStepAfterCommit(
  sql: Sql,
  observations: PaymentObservations | undefined,
  payment: Pick<Payment, 'state' | 'createdAt' | 'updatedAt'>,
  to: PaymentState,
  outbox: readonly OutboxEntry[],
  now: Date,
): void {
  if (observations === undefined) return;
  afterCommit(sql, () => {
    observations.entered({
      from: payment.state,
      to,
      at: now,
      fromAt: payment.updatedAt,
      createdAt: payment.createdAt,
    });
    for (const entry of outbox)
      if (entry.pushedAtCommit === true) observations.delivered(entry.kind, now, now);
  });
}

/** An outbox row a statement marked delivered, as its RETURNING gives it. */
export interface DeliveredRow {
  readonly kind: string;
  readonly created_at: Date | string;
}

/**
 * Observes the rows a statement marked delivered at `deliveredAt`, once the
 * transaction of `sql` committed (at once outside a transaction: call it
 * after awaiting the statement). Only the rows the statement changed: a row
 * another worker had marked is not counted twice.
 */
export function observeDeliveredAfterCommit(
  sql: Sql,
  observations: PaymentObservations | undefined,
  rows: readonly DeliveredRow[],
  deliveredAt: Date,
): void {
  if (observations === undefined || rows.length === 0) return;
  afterCommit(sql, () => {
    for (const row of rows) observations.delivered(row.kind, new Date(row.created_at), deliveredAt);
  });
}

/** The payments in each state that is not final (every one listed), read through the state's index. */
export async function readPaymentsInFlight(sql: Sql): Promise<Map<PaymentState, number>> {
  const inFlight = paymentStates.filter((state) => !isFinalState(state));
  const counts = new Map<PaymentState, number>(inFlight.map((state) => [state, 0]));
  const { rows } = await sql.query<{ state: string; count: string }>(
    'SELECT state, count(*)::text AS count FROM payments WHERE state = ANY($1::text[]) GROUP BY state',
    [inFlight],
  );
  for (const row of rows) {
    if (!isPaymentState(row.state) || !counts.has(row.state))
      throw new Error(`assertion failed: stored payment state ${row.state}`);
    counts.set(row.state, Number(row.count));
  }
  return counts;
}
