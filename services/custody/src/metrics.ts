import type { Hsm } from '@mpay/hsm';
import {
  bearerTokenAuthorizer,
  createMetricsRegistry,
  type MetricsRegistry,
  observeRouteSteps,
  type RouteOutcome,
  registerDatabaseMetrics,
  registerMetricsRoute,
} from '@mpay/http-server';
import { type CustodyMessageState, custodyMessageStates } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import type { EffectKind } from './outbox/outbox.ts';

/**
 * Custody's Prometheus metrics. From its tables at each scrape, through
 * indexes (what is open, never the history): the FSP's messages in a state
 * that is not final, PIN tries counted and customers blocked, the outbox's
 * backlog per kind. From this process, observed as their transactions commit
 * (@mpay/storage's afterCommit): the messages that entered each state,
 * delegate signatures by decision and how long customers took to answer;
 * and as they happen: the latency of every signature the HSM makes, and of
 * the routes that are steps of the iMS §5 procedure. Labels are states,
 * kinds, decisions and step names.
 */

/** The routes that are steps of the trusted mobile certificate server's procedure (iMS §5). */
export const custodySteps: Readonly<Record<string, string>> = Object.freeze({
  // Step 2: the FSP's message verified, stored and forwarded to the customer's phones.
  'POST /fsp/messages': 'fsp_message',
  // Step 6: a delegation started (a PIN try counted) and its authorisation (PIN checked, signed in the HSM).
  'POST /delegations': 'delegation_start',
  'POST /delegations/:delegationId/authorisation': 'delegation_authorisation',
  'POST /pin-logins/:loginId/finish': 'pin_login_finish',
});

/** Upper bounds of one HSM signature, in seconds (SoftHSM2 signs in well under a millisecond). */
export const hsmSignBucketsSeconds: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
]);
/** Upper bounds of a request that is a procedure step, in seconds. */
export const custodyStepBucketsSeconds: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);
/** Upper bounds of a customer's answer, from custody forwarding the request to the signature, in seconds. */
export const customerAnswerBucketsSeconds: readonly number[] = Object.freeze([
  1, 2, 5, 10, 20, 30, 60, 120, 300, 600,
]);

const effectKinds: readonly EffectKind[] = Object.freeze(['fsp_registration', 'fsp_answer', 'log_entry']);
const decisions = ['confirm', 'decline'] as const;

/** What the procedure's steps tell the metrics, once the transaction that did it committed. */
export interface CustodyObservations {
  /** A message entered `state` (step 2's sent_to_device, step 6's answer, step 10's receipt or outcome). */
  messageEntered(state: CustodyMessageState): void;
  /** A delegate signature made at `signedAt` for a message forwarded to the phones at `forwardedAt`. */
  delegateSigned(decision: 'confirm' | 'decline', forwardedAt: Date, signedAt: Date): void;
}

export interface CustodyMetrics extends CustodyObservations {
  readonly registry: MetricsRegistry;
  observeStep(step: string, outcome: RouteOutcome, seconds: number): void;
  observeHsmSignature(outcome: 'ok' | 'error', seconds: number): void;
}

/** The states a message leaves no more (nothing in the procedure's table follows them). */
export const finalCustodyMessageStates: readonly CustodyMessageState[] = Object.freeze([
  'receipted',
  'closed',
]);
export const openMessageStates: readonly CustodyMessageState[] = Object.freeze(
  custodyMessageStates.filter((state) => !finalCustodyMessageStates.includes(state)),
);

/**
 * The open messages by state, through the partial index messages_open
 * (migration 0004, whose predicate lists the same states): the states are
 * constants in the text, so that every plan, generic ones too, can prove the
 * index's predicate (a parameter would hide them from a generic plan).
 */
export const openMessagesByStateQuery = `SELECT state, count(*)::text AS count FROM messages
  WHERE state IN (${openMessageStates.map((state) => `'${state}'`).join(', ')}) GROUP BY state`;

export function createCustodyMetrics(database: Database, clock: () => Date): CustodyMetrics {
  const registry = createMetricsRegistry();
  registerDatabaseMetrics(registry, database);
  const messages = registry.gauge({
    name: 'mpay_custody_messages',
    help: "The FSP's payment messages held for custody customers in each state that is not final, now (iMS §5).",
    labelNames: ['state'],
  });
  const messagesEntered = registry.counter({
    name: 'mpay_custody_messages_total',
    help: "The FSP's payment messages that entered each state (iMS §5), in this process since its start.",
    labelNames: ['state'],
  });
  const signatures = registry.counter({
    name: 'mpay_custody_delegate_signatures_total',
    help: "Delegate signatures made in customers' names after a PIN check, by decision (confirm, decline), in this process since its start.",
    labelNames: ['decision'],
  });
  const answer = registry.histogram({
    name: 'mpay_custody_customer_answer_duration_seconds',
    help: 'From the request forwarded to the phones (step 2) to the delegate signature (step 6), by decision, in this process since its start.',
    labelNames: ['decision'],
    buckets: customerAnswerBucketsSeconds,
  });
  const failedTries = registry.gauge({
    name: 'mpay_custody_pin_failed_tries',
    help: 'PIN tries counted as failed now, over all customers (a success gives back its own try only).',
  });
  const blocked = registry.gauge({
    name: 'mpay_custody_pin_blocked_customers',
    help: 'Customers blocked after too many failed PIN tries, until their bank unblocks them.',
  });
  const hsmSign = registry.histogram({
    name: 'mpay_custody_hsm_sign_duration_seconds',
    help: 'One signature in the HSM, by outcome (ok, error), since this process started.',
    labelNames: ['outcome'],
    buckets: hsmSignBucketsSeconds,
  });
  const steps = registry.histogram({
    name: 'mpay_custody_step_duration_seconds',
    help: 'Requests that are procedure steps, from arrival to reply, by step and outcome (ok, refused, error).',
    labelNames: ['step', 'outcome'],
    buckets: custodyStepBucketsSeconds,
  });
  const pending = registry.gauge({
    name: 'mpay_custody_outbox_pending',
    help: 'Effects waiting to be delivered, per outbox kind.',
    labelNames: ['outbox'],
  });
  const retrying = registry.gauge({
    name: 'mpay_custody_outbox_retrying',
    help: 'Waiting effects that failed at least once, per outbox kind.',
    labelNames: ['outbox'],
  });
  const oldest = registry.gauge({
    name: 'mpay_custody_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest waiting effect, per outbox kind (0 when none waits).',
    labelNames: ['outbox'],
  });

  // Every series exists from the first scrape, so a rate() has a start.
  for (const step of Object.values(custodySteps))
    for (const outcome of ['ok', 'refused', 'error'])
      steps.set(
        { step, outcome },
        { bucketCounts: custodyStepBucketsSeconds.map(() => 0), count: 0, sum: 0 },
      );
  for (const outcome of ['ok', 'error'])
    hsmSign.set({ outcome }, { bucketCounts: hsmSignBucketsSeconds.map(() => 0), count: 0, sum: 0 });
  for (const state of custodyMessageStates) messagesEntered.set({ state }, 0);
  for (const decision of decisions) {
    signatures.set({ decision }, 0);
    answer.set({ decision }, { bucketCounts: customerAnswerBucketsSeconds.map(() => 0), count: 0, sum: 0 });
  }
  registry.onCollect(async () => {
    const states = await database.query<{ state: string; count: string }>(openMessagesByStateQuery);
    for (const state of openMessageStates)
      messages.set({ state }, Number(states.rows.find((row) => row.state === state)?.count ?? 0));
    const pins = await database.query<{ tries: string; blocked: string }>(
      `SELECT coalesce(sum(failed_tries), 0)::text AS tries,
         count(*) FILTER (WHERE blocked_at IS NOT NULL)::text AS blocked FROM customers`,
    );
    failedTries.set({}, Number(pins.rows[0]?.tries ?? 0));
    blocked.set({}, Number(pins.rows[0]?.blocked ?? 0));
    const now = clock();
    const backlog = await database.query<{
      kind: string;
      pending: string;
      retrying: string;
      oldest: Date | string | null;
    }>(
      `SELECT kind, count(*)::text AS pending, count(*) FILTER (WHERE attempts > 0)::text AS retrying,
         min(created_at) AS oldest
       FROM outbox WHERE delivered_at IS NULL GROUP BY kind`,
    );
    for (const kind of effectKinds) {
      const row = backlog.rows.find((candidate) => candidate.kind === kind);
      const labels = { outbox: kind };
      pending.set(labels, Number(row?.pending ?? 0));
      retrying.set(labels, Number(row?.retrying ?? 0));
      oldest.set(
        labels,
        row?.oldest == null ? 0 : Math.max(0, (now.getTime() - new Date(row.oldest).getTime()) / 1000),
      );
    }
  });

  return {
    registry,
    observeStep: (step, outcome, seconds) => steps.observe({ step, outcome }, seconds),
    observeHsmSignature: (outcome, seconds) => hsmSign.observe({ outcome }, seconds),
    messageEntered: (state) => messagesEntered.inc({ state }),
    delegateSigned(decision, forwardedAt, signedAt) {
      signatures.inc({ decision });
      // The clock may step back between two readings: an answer never took less than nothing.
      answer.observe({ decision }, Math.max(0, (signedAt.getTime() - forwardedAt.getTime()) / 1000));
    },
  };
}

/**
 * Times every signature `hsm` makes from now on. @mpay/hsm has no observer of
 * its own, so this wraps the one path to a signature, `Hsm.signer`, on this
 * instance: each signer it returns times its `sign`.
 */
export function timeHsmSignatures(hsm: Hsm, metrics: CustodyMetrics): void {
  const signer = hsm.signer.bind(hsm);
  hsm.signer = (key) => {
    const inner = signer(key);
    return Object.freeze({
      kid: inner.kid,
      alg: inner.alg,
      sign: async (signingInput: Uint8Array) => {
        const started = performance.now();
        try {
          const signature = await inner.sign(signingInput);
          metrics.observeHsmSignature('ok', (performance.now() - started) / 1000);
          return signature;
        } catch (error) {
          metrics.observeHsmSignature('error', (performance.now() - started) / 1000);
          throw error;
        }
      },
    });
  };
}

/**
 * GET /metrics in Prometheus text for the bearer token `metricsToken` only
 * (none: nobody scrapes), and the timing of the procedure's steps: call it
 * right after creating the server, before any route is declared.
 */
export function registerCustodyMetrics(
  app: FastifyInstance,
  metrics: CustodyMetrics,
  metricsToken: string | undefined,
): void {
  observeRouteSteps(app, custodySteps, metrics.observeStep);
  registerMetricsRoute(app, metrics.registry, { authorize: bearerTokenAuthorizer(metricsToken) });
}
