import {
  bearerTokenAuthorizer,
  createMetricsRegistry,
  type MetricsRegistry,
  observeRouteSteps,
  type RouteOutcome,
  registerDatabaseMetrics,
  registerMetricsRoute,
} from '@mpay/http-server';
import { isTransferRefusal } from '@mpay/ledger';
import type { Database } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import { readBankOutboxBacklogs } from './metrics-outboxes.ts';
import type { BatchObservation } from './store/batcher.ts';

/**
 * The bank's Prometheus metrics. Two sources:
 *
 * - its tables, read at each scrape through indexes (what is open or
 *   waiting, never the history): payment and refund orders still being
 *   delivered, the outboxes' backlogs, the request-nonce table (its rows
 *   expire);
 * - this process: what its transactions wrote, counted once they committed
 *   (@mpay/storage's afterCommit): transfers by kind, payment and refund
 *   orders by the state they entered, funds-transfer credits by outcome,
 *   refusals, how long payment orders took from the customer's consent to
 *   the merchant bank's answer; and, as they happen, the transfer batcher's
 *   batches (transfers per batch, commit latency, fallbacks, each transfer's
 *   outcome) and the latency of the routes that are payment steps.
 *
 * Labels are states, kinds, outcomes and step names: bounded, never an id.
 */

/** The routes that are steps of a payment at this bank, timed from arrival to reply. */
export const bankPaymentSteps: Readonly<Record<string, string>> = Object.freeze({
  // iMS step 7 at the customer's bank: verify the customer's consent, hold the funds, deliver or post.
  'POST /payment-orders': 'payment_order',
  // At the merchant bank: verify the peer bank's signed funds transfer and credit the payee.
  'POST /interbank/funds-transfers': 'funds_transfer_credit',
  // A refund: the merchant's bank debits the merchant and pays back the customer's bank.
  'POST /refund-orders': 'refund_order',
  'POST /interbank/refund-transfers': 'refund_transfer_credit',
  // Seed 002 steps 6, 7 and 11 at the client bank.
  'POST /macro/payment-requests': 'macro_payment_request',
  'POST /macro/approvals/:sessionId': 'macro_approval',
  // SA2pMP: one signed, encrypted banking request of a logged-in customer.
  'POST /banking/requests': 'banking_request',
});

/** Upper bounds of a payment step handled in one request, in seconds. */
export const bankStepBucketsSeconds: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);
/** Upper bounds of transfers in one batch transaction (the batch holds at most 8190). */
export const batchTransfersBuckets: readonly number[] = Object.freeze([
  1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8190,
]);
/** Upper bounds of one batch transaction's commit, in seconds. */
export const batchCommitBucketsSeconds: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]);
/** Upper bounds of a payment order from its placing to its final answer, in seconds (a peer may be down for a while). */
export const paymentOrderBucketsSeconds: readonly number[] = Object.freeze([
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
]);

const transferKinds = ['posted', 'pending', 'post_pending', 'void_pending'] as const;
const orderStates = ['sending', 'completed', 'refused'] as const;
const creditOutcomes = ['credited', 'refused'] as const;

/** What the bank's transactions tell the metrics once they committed. */
export interface BankObservations {
  /** The kinds of the transfers a transaction wrote (store/transfer-observer.ts). */
  transfersCommitted(kinds: readonly string[]): void;
  /** A payment order entered `state` at `at` (placed at `placedAt`): sending, or its final state. */
  orderEntered(state: (typeof orderStates)[number], placedAt: Date, at: Date): void;
  /** A refund order entered `state`. */
  refundOrderEntered(state: (typeof orderStates)[number]): void;
  /** A payment order refused before any money moved (its refusal recorded). */
  orderRefused(): void;
  /** A peer's funds transfer decided here as the payee's bank. */
  creditDecided(outcome: (typeof creditOutcomes)[number]): void;
}

export interface BankMetrics extends BankObservations {
  readonly registry: MetricsRegistry;
  /** For the ledger's batcher (BankLedgerOptions.observeBatch). */
  observeBatch(batch: BatchObservation): void;
  /** One payment step handled (observeRouteSteps). */
  observeStep(step: string, outcome: RouteOutcome, seconds: number): void;
}

export function createBankMetrics(database: Database, clock: () => Date): BankMetrics {
  const registry = createMetricsRegistry();
  registerDatabaseMetrics(registry, database);
  const batchTransfers = registry.histogram({
    name: 'mpay_bank_ledger_batch_transfers',
    help: 'Transfers per batch transaction of the ledger (group commit), since this process started.',
    buckets: batchTransfersBuckets,
  });
  const batchCommit = registry.histogram({
    name: 'mpay_bank_ledger_batch_commit_duration_seconds',
    help: 'From the start of a batch transaction to its commit (or failure).',
    buckets: batchCommitBucketsSeconds,
  });
  const fallbacks = registry.counter({
    name: 'mpay_bank_ledger_batch_fallbacks_total',
    help: 'Batch transactions that failed and were redone transfer by transfer.',
  });
  const requests = registry.counter({
    name: 'mpay_bank_ledger_transfer_requests_total',
    help: 'Transfer requests decided in a batch, by kind and outcome (created, replayed, refused).',
    labelNames: ['kind', 'outcome'],
  });
  const transfers = registry.counter({
    name: 'mpay_bank_ledger_transfers_total',
    help: 'Transfers committed to the ledger (immutable rows), by kind, by this process since its start.',
    labelNames: ['kind'],
  });
  const orders = registry.gauge({
    name: 'mpay_bank_payment_orders',
    help: 'Payment orders this bank took from the FSP still being delivered to the payee bank (state sending), now.',
    labelNames: ['state'],
  });
  const ordersEntered = registry.counter({
    name: 'mpay_bank_payment_orders_total',
    help: 'Payment orders that entered each state (sending, completed, refused), in this process since its start.',
    labelNames: ['state'],
  });
  const orderRefusals = registry.counter({
    name: 'mpay_bank_payment_order_refusals_total',
    help: 'Payment orders refused before any money moved (consent, funds, limits, payee), in this process since its start.',
  });
  const orderDuration = registry.histogram({
    name: 'mpay_bank_payment_order_duration_seconds',
    help: 'From placing a payment order (funds held) to its final state, per final state, in this process since its start.',
    labelNames: ['state'],
    buckets: paymentOrderBucketsSeconds,
  });
  const refundOrders = registry.gauge({
    name: 'mpay_bank_refund_orders',
    help: 'Refund orders still being delivered (state sending), now.',
    labelNames: ['state'],
  });
  const refundOrdersEntered = registry.counter({
    name: 'mpay_bank_refund_orders_total',
    help: 'Refund orders that entered each state (sending, completed, refused), in this process since its start.',
    labelNames: ['state'],
  });
  const credits = registry.counter({
    name: 'mpay_bank_interbank_credits_total',
    help: "Peer banks' funds transfers decided here as the payee's bank, by outcome, in this process since its start.",
    labelNames: ['outcome'],
  });
  const steps = registry.histogram({
    name: 'mpay_bank_payment_step_duration_seconds',
    help: 'Requests that are payment steps, from arrival to reply, by step and outcome (ok, refused, error).',
    labelNames: ['step', 'outcome'],
    buckets: bankStepBucketsSeconds,
  });
  const pending = registry.gauge({
    name: 'mpay_bank_outbox_pending',
    help: 'Rows waiting to be delivered, per outbox.',
    labelNames: ['outbox'],
  });
  const retrying = registry.gauge({
    name: 'mpay_bank_outbox_retrying',
    help: 'Waiting rows that failed at least once, per outbox.',
    labelNames: ['outbox'],
  });
  const overdue = registry.gauge({
    name: 'mpay_bank_outbox_overdue',
    help: 'Waiting orders past their deadline, per outbox (the answer after it is final either way).',
    labelNames: ['outbox'],
  });
  const oldest = registry.gauge({
    name: 'mpay_bank_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest waiting row, per outbox (0 when none waits).',
    labelNames: ['outbox'],
  });
  const nonces = registry.gauge({
    name: 'mpay_bank_request_nonces',
    help: 'Nonces of single-use request tokens kept until they expire.',
  });
  // Every series exists from the first scrape, so a rate() has a start.
  batchTransfers.set({}, { bucketCounts: batchTransfersBuckets.map(() => 0), count: 0, sum: 0 });
  batchCommit.set({}, { bucketCounts: batchCommitBucketsSeconds.map(() => 0), count: 0, sum: 0 });
  fallbacks.inc({}, 0);
  for (const step of new Set(Object.values(bankPaymentSteps)))
    for (const outcome of ['ok', 'refused', 'error'])
      steps.set({ step, outcome }, { bucketCounts: bankStepBucketsSeconds.map(() => 0), count: 0, sum: 0 });
  for (const kind of transferKinds) {
    for (const outcome of ['created', 'replayed', 'refused']) requests.inc({ kind, outcome }, 0);
    transfers.set({ kind }, 0);
  }
  for (const state of orderStates) {
    ordersEntered.set({ state }, 0);
    refundOrdersEntered.set({ state }, 0);
  }
  for (const outcome of creditOutcomes) credits.set({ outcome }, 0);
  orderRefusals.set({}, 0);
  for (const state of ['completed', 'refused'])
    orderDuration.set({ state }, { bucketCounts: paymentOrderBucketsSeconds.map(() => 0), count: 0, sum: 0 });

  registry.onCollect(async () => {
    // The request nonces kept until their expiry and its grace (swept every 30 s): bounded by the rate.
    const kept = await database.query<{ count: string }>(
      'SELECT count(*)::text AS count FROM request_nonces',
    );
    nonces.set({}, Number(kept.rows[0]?.count ?? 0));
    for (const backlog of await readBankOutboxBacklogs(database, clock())) {
      // The orders still sending are the two order outboxes' backlog (read there through their partial indexes).
      if (backlog.name === 'payment_orders') orders.set({ state: 'sending' }, backlog.pending);
      if (backlog.name === 'refund_orders') refundOrders.set({ state: 'sending' }, backlog.pending);
      const labels = { outbox: backlog.name };
      pending.set(labels, backlog.pending);
      retrying.set(labels, backlog.retrying);
      overdue.set(labels, backlog.overdue);
      oldest.set(labels, backlog.oldestPendingAgeSeconds ?? 0);
    }
  });

  return {
    registry,
    transfersCommitted(kinds) {
      for (const kind of kinds) transfers.inc({ kind });
    },
    orderEntered(state, placedAt, at) {
      ordersEntered.inc({ state });
      // The clock may step back between two readings: an order never took less than nothing.
      if (state !== 'sending')
        orderDuration.observe({ state }, Math.max(0, (at.getTime() - placedAt.getTime()) / 1000));
    },
    refundOrderEntered: (state) => refundOrdersEntered.inc({ state }),
    orderRefused: () => orderRefusals.inc(),
    creditDecided: (outcome) => credits.inc({ outcome }),
    observeStep: (step, outcome, seconds) => steps.observe({ step, outcome }, seconds),
    observeBatch(batch) {
      batchTransfers.observe({}, batch.transfers);
      batchCommit.observe({}, batch.commitSeconds);
      if (batch.fallback) fallbacks.inc();
      for (const { request, result } of batch.results) {
        const outcome = isTransferRefusal(result) ? 'refused' : result.created ? 'created' : 'replayed';
        requests.inc({ kind: request.kind, outcome });
      }
    },
  };
}

/**
 * GET /metrics in Prometheus text, for the bearer token `metricsToken` only
 * (as the gateway's is for the operator's token: volumes and backlogs are the
 * operator's business); without a token nobody scrapes. Also times the
 * payment steps (bankPaymentSteps): call it right after creating the server,
 * before any route is declared, so every route and scope inherits the hook.
 */
export function registerBankMetrics(
  app: FastifyInstance,
  metrics: BankMetrics,
  metricsToken: string | undefined,
): void {
  observeRouteSteps(app, bankPaymentSteps, metrics.observeStep);
  registerMetricsRoute(app, metrics.registry, { authorize: bearerTokenAuthorizer(metricsToken) });
}
