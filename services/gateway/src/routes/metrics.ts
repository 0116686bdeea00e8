import {
  createMetricsRegistry,
  type MetricsRegistry,
  operatorOnly,
  registerDatabaseMetrics,
  registerMetricsRoute,
} from '@mpay/http-server';
import { publicStatusOf } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { logCheckpointRefusals, outboxBacklogs, outboxKinds } from '../outbox/backlog.ts';
import {
  paymentDurationBucketsSeconds,
  paymentStepBucketsSeconds,
  readDeliveryDurations,
  readPaymentStatistics,
  readStepDurations,
} from '../payments/statistics.ts';
import { authenticateOperator } from './auth.ts';

/** The gateway's metrics, read from its tables at each scrape (see payments/statistics.ts). */
export function createGatewayMetrics(context: GatewayContext): MetricsRegistry {
  const registry = createMetricsRegistry();
  registerDatabaseMetrics(registry, context.database);
  const reached = registry.counter({
    name: 'mpay_gateway_payments_total',
    help: 'Payments that reached each state of the iMS protocol (the first, merchant_request_verified, counts every request).',
    labelNames: ['state', 'status'],
  });
  const current = registry.gauge({
    name: 'mpay_gateway_payments',
    help: 'Payments in each state now.',
    labelNames: ['state', 'status'],
  });
  const duration = registry.histogram({
    name: 'mpay_gateway_payment_duration_seconds',
    help: "From the merchant's request to the payment's final state, per final state.",
    labelNames: ['state', 'status'],
    buckets: paymentDurationBucketsSeconds,
  });
  const stepDuration = registry.histogram({
    name: 'mpay_gateway_payment_step_duration_seconds',
    help: 'Time a payment spent in from_state before the step to to_state, from the payment events (every transition listed).',
    labelNames: ['from_state', 'to_state'],
    buckets: paymentStepBucketsSeconds,
  });
  const deliveryDuration = registry.histogram({
    name: 'mpay_gateway_outbox_delivery_duration_seconds',
    help: 'From an effect queued to its delivery, per outbox (device_push: the request reached the device; bank_order: the bank answered).',
    labelNames: ['outbox'],
    buckets: paymentStepBucketsSeconds,
  });
  const pending = registry.gauge({
    name: 'mpay_gateway_outbox_pending',
    help: 'Effects waiting to be delivered, per outbox.',
    labelNames: ['outbox'],
  });
  const retrying = registry.gauge({
    name: 'mpay_gateway_outbox_retrying',
    help: 'Waiting effects that failed at least once, per outbox.',
    labelNames: ['outbox'],
  });
  const abandoned = registry.gauge({
    name: 'mpay_gateway_outbox_abandoned',
    help: 'Effects given up after their attempts, per outbox.',
    labelNames: ['outbox'],
  });
  const oldest = registry.gauge({
    name: 'mpay_gateway_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest waiting effect, per outbox (0 when none waits).',
    labelNames: ['outbox'],
  });
  const refusedCheckpoints = registry.gauge({
    name: 'mpay_gateway_log_checkpoint_refusals',
    help: 'Log entries waiting because the log served a checkpoint that does not extend the one the gateway holds (a fork or a rollback of the transaction log): alert on any.',
  });
  const logLineWaiting = registry.gauge({
    name: 'mpay_gateway_log_line_waiting',
    help: "Log entries waiting in this process's log line for their turn to go to the transaction log (outbox/log-line.ts).",
  });
  const logLineLeft = registry.counter({
    name: 'mpay_gateway_log_line_left_total',
    help: "Log entries this process's log line left since its start because it was full; each came due again after its lease.",
  });
  const cancellationsWaiting = registry.gauge({
    name: 'mpay_gateway_receipt_cancellations_waiting',
    help: "Receipt pushes to cancel (the confirmation's answer carried the receipt) waiting in this process for their statement (payments/receipt-cancellations.ts).",
  });
  const cancellationsDropped = registry.counter({
    name: 'mpay_gateway_receipt_cancellations_dropped_total',
    help: 'Receipt push cancellations this process dropped since its start because too many waited; each such receipt is pushed again to a device that holds it.',
  });
  registry.onCollect(async () => {
    logLineWaiting.set({}, context.logLine?.waiting ?? 0);
    logLineLeft.set({}, context.logLine?.left ?? 0);
    cancellationsWaiting.set({}, context.receiptCancellations?.waiting ?? 0);
    cancellationsDropped.set({}, context.receiptCancellations?.dropped ?? 0);
    const statistics = await readPaymentStatistics(context.database);
    for (const [state, count] of statistics.reached)
      reached.set({ state, status: publicStatusOf(state) }, count);
    for (const [state, count] of statistics.current)
      current.set({ state, status: publicStatusOf(state) }, count);
    for (const [state, histogram] of statistics.durations)
      duration.set(
        { state, status: publicStatusOf(state) },
        { bucketCounts: histogram.bucketCounts, count: histogram.count, sum: histogram.sumSeconds },
      );
    for (const { step, histogram } of await readStepDurations(context.database))
      stepDuration.set({ from_state: step.from, to_state: step.to }, histogram);
    for (const [kind, histogram] of await readDeliveryDurations(context.database, outboxKinds))
      deliveryDuration.set({ outbox: `outbox/${kind}` }, histogram);
    refusedCheckpoints.set({}, await logCheckpointRefusals(context.database));
    for (const backlog of await outboxBacklogs(context.database, context.clock())) {
      const labels = { outbox: backlog.name };
      pending.set(labels, backlog.pending);
      retrying.set(labels, backlog.retrying);
      abandoned.set(labels, backlog.abandoned);
      oldest.set(labels, backlog.oldestPendingAgeSeconds ?? 0);
    }
  });
  return registry;
}

/**
 * GET /metrics in Prometheus text, for the operator's bearer token only
 * (volumes and backlogs are the operator's business; the web front proxies
 * the gateway to the world). Payments by state, request → final state
 * latency, the time spent in each step of the protocol, outbox depths, ages
 * and delivery times.
 */
export function registerMetricsRoutes(
  app: FastifyInstance,
  context: GatewayContext,
  operatorToken: string | undefined,
): void {
  registerMetricsRoute(app, createGatewayMetrics(context), {
    authorize: (request) => authenticateOperator(operatorToken, request),
    security: operatorOnly,
  });
}
