import {
  bearerTokenAuthorizer,
  createMetricsRegistry,
  type MetricsRegistry,
  registerMetricsRoute,
  routeOutcomeOf,
} from '@mpay/http-server';
import type { FastifyInstance } from 'fastify';
import type { Witness } from './witness/witness.ts';

/**
 * A witness's Prometheus metrics: POST /add-checkpoint by outcome (ok: a
 * cosignature made; refused: a checkpoint it would not cosign, an old size
 * it does not hold), and per log it follows the largest tree size it
 * cosigned (read from its table at each scrape) and the alarms it raised.
 * The origin label is one per log the witness follows.
 */
export function createWitnessMetrics(witness: Witness): WitnessMetrics {
  const registry = createMetricsRegistry();
  const requests = registry.counter({
    name: 'mpay_witness_add_checkpoint_requests_total',
    help: 'POST /add-checkpoint by outcome (ok: cosigned, refused, error), since this process started.',
    labelNames: ['outcome'],
  });
  const cosignatures = registry.counter({
    name: 'mpay_witness_cosignatures_total',
    help: 'Cosignatures this witness made, since this process started.',
  });
  const cosignedSize = registry.gauge({
    name: 'mpay_witness_cosigned_tree_size',
    help: 'The largest tree size this witness cosigned, per log (0 before the first).',
    labelNames: ['origin'],
  });
  const alarms = registry.counter({
    name: 'mpay_witness_alarms_total',
    help: 'Alarms raised (a fork or a rollback of a log), by code, since this process started.',
    labelNames: ['code'],
  });
  for (const outcome of ['ok', 'refused', 'error']) requests.inc({ outcome }, 0);
  cosignatures.inc({}, 0);
  for (const code of ['CHECKPOINT_FORK', 'CHECKPOINT_ROLLBACK']) alarms.inc({ code }, 0);
  registry.onCollect(async () => {
    for (const origin of witness.origins) {
      const held = await witness.held(origin);
      cosignedSize.set({ origin }, Number(held?.checkpoint.treeSize ?? 0n));
    }
    for (const [code, count] of witness.alarmCounts) alarms.set({ code }, count);
  });
  return {
    registry,
    observeAddCheckpoint(statusCode) {
      const outcome = routeOutcomeOf(statusCode);
      requests.inc({ outcome });
      if (outcome === 'ok') cosignatures.inc();
    },
  };
}

export interface WitnessMetrics {
  readonly registry: MetricsRegistry;
  /** One POST /add-checkpoint answered with `statusCode`. */
  observeAddCheckpoint(statusCode: number): void;
}

/** GET /metrics for the bearer token `metricsToken` only (none: nobody scrapes), and the counting of POST /add-checkpoint. */
export function registerWitnessMetrics(
  app: FastifyInstance,
  metrics: WitnessMetrics,
  metricsToken: string | undefined,
): void {
  app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'POST' && request.routeOptions.url === '/add-checkpoint')
      metrics.observeAddCheckpoint(reply.statusCode);
  });
  registerMetricsRoute(app, metrics.registry, { authorize: bearerTokenAuthorizer(metricsToken) });
}
