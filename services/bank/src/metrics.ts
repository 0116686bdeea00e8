import {
  bearerTokenAuthorizer,
  createMetricsRegistry,
  type MetricsRegistry,
  observeRouteSteps,
  type RouteOutcome,
  readDurationHistograms,
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
 * - its tables, read at each scrape, so the figures survive a restart and
 *   agree with the ledger: transfers committed by kind, payment and refund
 *   orders by state, funds-transfer credits by outcome, how long payment
 *   orders took from the customer's consent to the merchant bank's answer,
 *   the outboxes' backlogs, the request-nonce table;
 * - this process, observed as it happens: the transfer batcher's batches
 *   (transfers per batch, commit latency, fallbacks, each transfer's outcome)
 *   and the latency of the routes that are payment steps.
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

export interface BankMetrics {
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
    help: 'Transfers committed to the ledger (immutable rows), by kind.',
    labelNames: ['kind'],
  });
  const orders = registry.gauge({
    name: 'mpay_bank_payment_orders',
    help: 'Payment orders this bank took from the FSP, by state now (sending: waiting for the payee bank).',
    labelNames: ['state'],
  });
  const orderRefusals = registry.counter({
    name: 'mpay_bank_payment_order_refusals_total',
    help: 'Payment orders refused before any money moved (consent, funds, limits, payee).',
  });
  const orderDuration = registry.histogram({
    name: 'mpay_bank_payment_order_duration_seconds',
    help: 'From placing a payment order (funds held) to its final state, per final state.',
    labelNames: ['state'],
    buckets: paymentOrderBucketsSeconds,
  });
  const refundOrders = registry.gauge({
    name: 'mpay_bank_refund_orders',
    help: 'Refund orders by state now.',
    labelNames: ['state'],
  });
  const credits = registry.counter({
    name: 'mpay_bank_interbank_credits_total',
    help: "Peer banks' funds transfers decided here as the payee's bank, by outcome.",
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
  for (const kind of transferKinds)
    for (const outcome of ['created', 'replayed', 'refused']) requests.inc({ kind, outcome }, 0);

  registry.onCollect(async () => {
    const counted = await database.query<{ kind: string; count: string }>(
      'SELECT kind, count(*)::text AS count FROM transfers GROUP BY kind',
    );
    for (const kind of transferKinds)
      transfers.set({ kind }, Number(counted.rows.find((row) => row.kind === kind)?.count ?? 0));
    const byState = await database.query<{ source: string; state: string; count: string }>(
      `SELECT 'payment' AS source, state, count(*)::text AS count FROM payment_orders GROUP BY state
       UNION ALL SELECT 'refund', state, count(*)::text FROM refund_orders GROUP BY state
       UNION ALL SELECT 'credit', outcome, count(*)::text FROM interbank_credits GROUP BY outcome
       UNION ALL SELECT 'refusal', '', count(*)::text FROM payment_order_refusals
       UNION ALL SELECT 'nonce', '', count(*)::text FROM request_nonces`,
    );
    const countOf = (source: string, state: string) =>
      Number(byState.rows.find((row) => row.source === source && row.state === state)?.count ?? 0);
    for (const state of orderStates) {
      orders.set({ state }, countOf('payment', state));
      refundOrders.set({ state }, countOf('refund', state));
    }
    for (const outcome of creditOutcomes) credits.set({ outcome }, countOf('credit', outcome));
    orderRefusals.set({}, countOf('refusal', ''));
    nonces.set({}, countOf('nonce', ''));
    const durations = await readDurationHistograms(
      database,
      `SELECT state AS key, extract(epoch FROM updated_at - created_at)::float8 AS seconds
       FROM payment_orders WHERE state <> 'sending'`,
      [],
      paymentOrderBucketsSeconds,
    );
    for (const state of ['completed', 'refused'])
      orderDuration.set(
        { state },
        durations.get(state) ?? {
          bucketCounts: paymentOrderBucketsSeconds.map(() => 0),
          count: 0,
          sum: 0,
        },
      );
    for (const backlog of await readBankOutboxBacklogs(database, clock())) {
      const labels = { outbox: backlog.name };
      pending.set(labels, backlog.pending);
      retrying.set(labels, backlog.retrying);
      overdue.set(labels, backlog.overdue);
      oldest.set(labels, backlog.oldestPendingAgeSeconds ?? 0);
    }
  });

  return {
    registry,
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
