import {
  type MetricsRegistry,
  operatorOnly,
  registerDatabaseMetrics,
  registerMetricsRoute,
} from '@mpay/http-server';
import { publicStatusOf } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { logCheckpointRefusals, outboxBacklogs } from '../outbox/backlog.ts';
import { readPaymentsInFlight } from '../payments/statistics.ts';
import { authenticateOperator } from './auth.ts';

/**
 * The gateway's metrics read at a scrape, added to `registry`, which holds
 * those observed as they happen (payments/statistics.ts's
 * createPaymentStatistics: payments by state reached, durations, steps,
 * deliveries): the payments in flight, the outbox backlogs and this
 * process's own queues. Every read follows an index: what is in flight or
 * waiting, never the history.
 */
export function createGatewayMetrics(context: GatewayContext, registry: MetricsRegistry): MetricsRegistry {
  registerDatabaseMetrics(registry, context.database);
  const current = registry.gauge({
    name: 'mpay_gateway_payments',
    help: 'Payments in each state that is not final, now (the final states are counted, by each process since its start, in mpay_gateway_payments_total).',
    labelNames: ['state', 'status'],
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
    for (const [state, count] of await readPaymentsInFlight(context.database))
      current.set({ state, status: publicStatusOf(state) }, count);
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
  registry: MetricsRegistry,
  operatorToken: string | undefined,
): void {
  registerMetricsRoute(app, createGatewayMetrics(context, registry), {
    authorize: (request) => authenticateOperator(operatorToken, request),
    security: operatorOnly,
  });
}
