import {
  bearerTokenAuthorizer,
  createMetricsRegistry,
  type MetricsRegistry,
  registerDatabaseMetrics,
  registerMetricsRoute,
} from '@mpay/http-server';
import { parseVerifierKey } from '@mpay/merkle';
import type { Database } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import { batchOutcomes } from './http/entries.ts';
import type { LogWitness } from './integrate/cosign.ts';

/**
 * The transaction log's Prometheus metrics. From its tables at each scrape:
 * the tree's size and the entries appended (sequenced, integrated or not),
 * the latest checkpoint's size and age, and per witness its lag (the
 * latest checkpoint's size minus the largest size it cosigned) and the age
 * of its latest cosignature. From this process: POST /entries by outcome
 * and its latency. The witness label is the witness key's `name+keyID`,
 * one per configured witness.
 */

/** How a submission ended: appended (202), already there (200), refused (4xx), or an error. */
export type SubmissionOutcome = 'appended' | 'duplicate' | 'refused' | 'error';

export function submissionOutcomeOf(statusCode: number): SubmissionOutcome {
  if (statusCode === 202) return 'appended';
  if (statusCode >= 200 && statusCode < 300) return 'duplicate';
  if (statusCode >= 400 && statusCode < 500) return 'refused';
  return 'error';
}

const submissionOutcomes: readonly SubmissionOutcome[] = Object.freeze([
  'appended',
  'duplicate',
  'refused',
  'error',
]);

/** Upper bounds of one POST /entries (signature check and group commit), in seconds. */
export const submissionBucketsSeconds: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]);

/** A witness's id as the log stores its cosignatures: `<name>+<8 hex digits of the key ID>`. */
export async function witnessIdOf(witness: LogWitness): Promise<string> {
  const verifier = await parseVerifierKey(witness.verifierKey);
  return `${verifier.name}+${verifier.keyHash.toString(16).padStart(8, '0')}`;
}

interface LogRow {
  tree_size: string;
  next_index: string;
  checkpoint_size: string | null;
  checkpoint_signed_at: Date | string | null;
}

export interface LogMetrics {
  readonly registry: MetricsRegistry;
  /**
   * One POST /entries answered with `statusCode` after `seconds`; for a POST
   * /entry-batches answered 200, `entries` says how many of its entries were
   * appended and how many the log had (each counted as one submission).
   */
  observeSubmission(statusCode: number, seconds: number, entries?: BatchOutcome): void;
}

/** The entries of one POST /entry-batches: new ones, and ones the log already had. */
export interface BatchOutcome {
  readonly appended: number;
  readonly duplicate: number;
}

export async function createLogMetrics(
  database: Database,
  witnesses: readonly LogWitness[],
  clock: () => Date,
): Promise<LogMetrics> {
  const witnessIds = await Promise.all(witnesses.map(witnessIdOf));
  const registry = createMetricsRegistry();
  registerDatabaseMetrics(registry, database);
  const treeSize = registry.gauge({
    name: 'mpay_log_tree_size',
    help: 'Entries integrated into the Merkle tree.',
  });
  const entries = registry.counter({
    name: 'mpay_log_entries_total',
    help: 'Entries appended (sequenced), integrated or still waiting for the next integration.',
  });
  const checkpointSize = registry.gauge({
    name: 'mpay_log_checkpoint_tree_size',
    help: 'Tree size of the latest signed checkpoint.',
  });
  const checkpointAge = registry.gauge({
    name: 'mpay_log_checkpoint_age_seconds',
    help: 'Seconds since the latest checkpoint was signed.',
  });
  const lag = registry.gauge({
    name: 'mpay_log_witness_lag_entries',
    help: "The latest checkpoint's tree size minus the largest size the witness cosigned.",
    labelNames: ['witness'],
  });
  const cosignatureAge = registry.gauge({
    name: 'mpay_log_witness_last_cosignature_age_seconds',
    help: "Seconds since the witness's latest cosignature was received (absent until its first).",
    labelNames: ['witness'],
  });
  const submissions = registry.counter({
    name: 'mpay_log_submissions_total',
    help: 'POST /entries, and each entry of a POST /entry-batches, by outcome (appended, duplicate, refused, error; a refused or failed batch once), since this process started.',
    labelNames: ['outcome'],
  });
  const submissionDuration = registry.histogram({
    name: 'mpay_log_submission_duration_seconds',
    help: 'POST /entries and POST /entry-batches from arrival to reply (signature check and group commit).',
    buckets: submissionBucketsSeconds,
  });
  for (const outcome of submissionOutcomes) submissions.inc({ outcome }, 0);
  submissionDuration.set({}, { bucketCounts: submissionBucketsSeconds.map(() => 0), count: 0, sum: 0 });

  registry.onCollect(async () => {
    const { rows } = await database.query<LogRow>(
      `SELECT s.tree_size::text AS tree_size, s.next_index::text AS next_index,
         c.tree_size::text AS checkpoint_size, c.signed_at AS checkpoint_signed_at
       FROM log_state s
       LEFT JOIN LATERAL (SELECT tree_size, signed_at FROM checkpoints ORDER BY tree_size DESC LIMIT 1) c ON true`,
    );
    const row = rows[0];
    if (row === undefined) throw new Error('assertion failed: log_state has its row');
    const now = clock();
    treeSize.set({}, Number(row.tree_size));
    entries.set({}, Number(row.next_index));
    const latest = Number(row.checkpoint_size ?? 0);
    checkpointSize.set({}, latest);
    if (row.checkpoint_signed_at !== null)
      checkpointAge.set(
        {},
        Math.max(0, (now.getTime() - new Date(row.checkpoint_signed_at).getTime()) / 1000),
      );
    const cosigned = await database.query<{ witness: string; size: string; received_at: Date | string }>(
      `SELECT witness, max(tree_size)::text AS size, max(received_at) AS received_at
       FROM checkpoint_cosignatures WHERE witness = ANY($1::text[]) GROUP BY witness`,
      [witnessIds],
    );
    for (const witness of witnessIds) {
      const held = cosigned.rows.find((candidate) => candidate.witness === witness);
      lag.set({ witness }, Math.max(0, latest - Number(held?.size ?? 0)));
      if (held !== undefined)
        cosignatureAge.set(
          { witness },
          Math.max(0, (now.getTime() - new Date(held.received_at).getTime()) / 1000),
        );
    }
  });

  return {
    registry,
    observeSubmission(statusCode, seconds, entries) {
      if (entries === undefined) submissions.inc({ outcome: submissionOutcomeOf(statusCode) });
      else {
        submissions.inc({ outcome: 'appended' }, entries.appended);
        submissions.inc({ outcome: 'duplicate' }, entries.duplicate);
      }
      submissionDuration.observe({}, seconds);
    },
  };
}

/**
 * GET /metrics in Prometheus text for the bearer token `metricsToken` only
 * (none: nobody scrapes; the log's checkpoints and proofs stay public), and
 * the counting of POST /entries: call it before the routes are declared.
 */
export function registerLogMetrics(
  app: FastifyInstance,
  metrics: LogMetrics,
  metricsToken: string | undefined,
): void {
  app.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'POST') return;
    if (request.routeOptions.url === '/entries')
      metrics.observeSubmission(reply.statusCode, reply.elapsedTime / 1000);
    else if (request.routeOptions.url === '/entry-batches')
      metrics.observeSubmission(reply.statusCode, reply.elapsedTime / 1000, batchOutcomes.get(request));
  });
  registerMetricsRoute(app, metrics.registry, { authorize: bearerTokenAuthorizer(metricsToken) });
}
