import { encryptTo } from '@mpay/envelope';
import { currentRequestId, exchangeFor, requestIdHeader, withRequestDeadline } from '@mpay/http-client';
import { withRequestId } from '@mpay/http-server';
import { awaitingBankPaymentStates, isMpayError, retryDelayMs } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import { custodianOf, redirectToCustody } from '../devices/custody-redirect.ts';
import type { DeviceEvent } from '../devices/hub.ts';
import { slowestOutboxCallMs } from '../limits.ts';
import {
  advanceLogEntry,
  correctLogIndex,
  type LogEntryAt,
  logEntriesAt,
  proveLogEntries,
  submitLogEntries,
} from '../log/outbox.ts';
import { deliverRegistrationMail, eraseRegistrationMail } from '../macro/mail.ts';
import { settleWithBank } from '../payments/settle.ts';
import { type DeliveredRow, observeDeliveredAfterCommit } from '../payments/statistics.ts';
import { findPayment, type OutboxLease, type OutboxRow, type Payment } from '../payments/store.ts';
import { advanceRefundLogEntry } from '../refunds/log.ts';
import { settleRefundWithBank } from '../refunds/settle.ts';
import { pushRefundReceipt } from '../refunds/view.ts';
import { activeBindingOf } from '../registry/bindings.ts';
import { checkpointRefusals } from './backlog.ts';

/** The device events of a payment; a refund's receipt is pushed by pushRefundReceipt. */
type PaymentDeviceEvent = Exclude<DeviceEvent['event'], 'refund-receipt'>;

export type OutboxKind = OutboxRow['kind'];

export type { OutboxRow };

/**
 * A lease for the effects a step writes due at once (store.ts's OutboxLease),
 * for a context that delivers them itself after the commit and accepts more
 * now (`leasedDelivery`); undefined otherwise (the effects are then due at
 * once, for a round).
 */
export function outboxLeaseOf(context: GatewayContext, now: Date): OutboxLease | undefined {
  if (context.leasedDelivery?.accepts() !== true) return undefined;
  return {
    until: new Date(now.getTime() + context.limits.outboxLeaseMs),
    owner: context.outboxLeaseOwner ?? null,
    rows: [],
    payments: new Map(),
    pushedAtCommit: [],
  };
}

/**
 * After the commit that wrote a step's effects: the payment requests pushed
 * at the commit handed to the streams held here (their notice to the other
 * instances left with the commit), then the leased rows queued for delivery,
 * or else a round kicked.
 */
export function deliverAfterCommit(context: GatewayContext, lease: OutboxLease | undefined): void {
  for (const paymentId of lease?.pushedAtCommit ?? []) {
    const payment = lease?.payments.get(paymentId);
    if (payment?.state !== 'awaiting_customer_signature' || payment.pushMessage === null) continue;
    context.hub.push(payment.customer.id, {
      event: 'payment-request',
      id: payment.id,
      data: payment.pushMessage,
    });
  }
  if (lease === undefined || context.leasedDelivery === undefined) context.kickOutbox();
  else context.leasedDelivery.deliver(lease);
}

/**
 * Whether a delivery started now ends within the lease that ends at `until`,
 * its slowest call included (the limits keep outboxLeaseMs above both): past
 * that, another worker may claim the row while this one still delivers it.
 */
function leaseHolds(context: GatewayContext, until: Date): boolean {
  return context.clock().getTime() + slowestOutboxCallMs(context.limits) < until.getTime();
}

/**
 * Rows leased to this start as they were written, one after the other, each
 * while its lease holds: a row whose lease is (nearly) over may be another
 * worker's by now, and is left to the rounds. Log entries go to the log line
 * when the context has one, without waiting for them (deliverRows).
 */
export async function deliverLeasedRows(context: GatewayContext, rows: readonly LeasedRow[]): Promise<void> {
  await deliverRows(context, rows, { awaitLogLine: false });
}

/** How often, at most, a full log line is said in the gateway's log (the metrics count every row left). */
export const logLineFullWarningIntervalMs = 60_000;

/** Whether a row is a payment's log entry (a refund's goes alone, refunds/log.ts). */
function isPaymentLogEntry(row: OutboxRow): boolean {
  return row.kind === 'log_entry' && typeof JSON.parse(row.payload).refundId !== 'string';
}

type DeliverableRow = {
  readonly row: OutboxRow;
  readonly until?: Date;
  readonly written?: Payment | undefined;
};

/**
 * Rows one after the other, each while its lease (`until`, when leased)
 * holds, and not those in `skip`. The webhooks and pushes delivered are
 * marked together once all were tried (`DeliveredMarks`): one statement for
 * the batch instead of one each.
 */
async function deliverOneByOne(
  context: GatewayContext,
  rows: readonly DeliverableRow[],
  skip: ReadonlySet<string>,
): Promise<void> {
  const marks = new DeliveredMarks();
  try {
    for (const leased of rows) {
      const { row, written, until } = leased;
      if (skip.has(row.id) || (until !== undefined && !leaseHolds(context, until))) continue;
      // A mark waits only while its row's lease holds through the next delivery: rows of several commits
      // each have their own lease, and past it another worker would claim a delivered row again.
      const earliest = marks.earliestUntil;
      if (earliest !== undefined && !leaseHolds(context, earliest))
        await marks.write(context, context.clock());
      // A row without a lease of its own (none here: rounds and commits lease theirs) is marked alone.
      const deferred =
        until === undefined ? undefined : { defer: (done: OutboxRow) => marks.defer(done, until) };
      await withRequestId(`payment:${row.payment_id}`, () => deliver(context, row, written, deferred));
    }
  } finally {
    await marks.write(context, context.clock());
  }
}

/**
 * A batch of log entry rows (payments' and refunds'): the payments' entries
 * not yet submitted go to the log together first (one signed request for them
 * all, `submitLogEntries`), and those submitted before have their receipts
 * built together (one checkpoint and one request for their proofs,
 * `proveLogEntries`). Should either fail, each entry is tried alone, as if
 * never batched: one entry the log refuses never holds back the others. A
 * refund's entry goes alone. What the log line delivers (log-line.ts).
 */
export async function deliverLogRows(
  context: GatewayContext,
  rows: readonly DeliverableRow[],
): Promise<void> {
  const holds = ({ until }: DeliverableRow) => until === undefined || leaseHolds(context, until);
  const payments = rows.filter(({ row }) => isPaymentLogEntry(row));
  const stepped = await advanceLogEntriesTogether(context, payments, holds);
  await deliverOneByOne(context, rows, stepped);
}

/**
 * Rows each while its lease holds, in two lines: the log entries, and the
 * rest. With a log line (the service's, log-line.ts), the log entries are
 * handed to it and delivered beside this and later rounds, so a log that is
 * slow or hangs holds back no push, bank order or webhook; `awaitLogLine`
 * waits for the line to drain before returning (a caller that wants every
 * effect attempted, as tests do). Without one, the two lines run side by
 * side here and both are awaited.
 */
async function deliverRows(
  context: GatewayContext,
  rows: readonly DeliverableRow[],
  options: { readonly awaitLogLine: boolean },
): Promise<void> {
  const logRows: DeliverableRow[] = [];
  const others: DeliverableRow[] = [];
  for (const leased of rows) (leased.row.kind === 'log_entry' ? logRows : others).push(leased);
  const line = context.logLine;
  if (line !== undefined) {
    const now = context.clock().getTime();
    // A row without a lease of its own (none here: rounds and commits lease theirs) holds one as long as a claim.
    const left = line.add(
      context,
      logRows.map(({ row, until }) => ({
        row,
        until: until ?? new Date(now + context.limits.outboxLeaseMs),
      })),
    );
    // Said at most once per logLineFullWarningIntervalMs, with the count since the last time.
    const unsaid = left > 0 ? line.leftToSay(now, logLineFullWarningIntervalMs) : 0;
    if (unsaid > 0)
      context.log.warn(
        { left: unsaid, leftSinceStart: line.left, waiting: line.waiting },
        'log entries left to a later round (due again after their lease): the log line is full',
      );
    await deliverOneByOne(context, others, new Set());
    if (options.awaitLogLine) await line.drained();
    return;
  }
  const lines = await Promise.allSettled([
    deliverLogRows(context, logRows),
    deliverOneByOne(context, others, new Set()),
  ]);
  // Each delivery records its own failure; what reaches here is the database failing under a line.
  const failures = lines.flatMap((line) => (line.status === 'rejected' ? [line.reason as unknown] : []));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, 'both outbox lines failed');
}

/**
 * Of `logRows` (payments' log entries only, isPaymentLogEntry), those whose
 * entry `deliverRows` stepped together with others: submitted, proved, or
 * (not covered by a checkpoint yet) backed off as one alone would be. Only
 * when two or more entries would go in one request.
 */
async function advanceLogEntriesTogether<Row extends { readonly row: OutboxRow }>(
  context: GatewayContext,
  logRows: readonly Row[],
  holds: (row: Row) => boolean,
): Promise<Set<string>> {
  const link = context.transactionLog;
  const stepped = new Set<string>();
  if (link === undefined || logRows.length < 2) return stepped;
  const submitter = { id: context.fsp.id, key: context.fsp.signing.privateJwk };
  const leaseOwner = context.outboxLeaseOwner ?? null;
  const leasedRows = new Map(logRows.map((leased) => [leased.row.id, leased]));
  // Said as a warning: a log whose limits are below the client's refuses every batch.
  const alone = (what: string, error: unknown, entries: number) =>
    context.log.warn({ err: error, entries }, `log entries not ${what} together: each is tried alone`);
  // Both steps' entries in one read: those to submit, and those submitted before, to prove.
  let read: { unsubmitted: LogEntryAt[]; submitted: LogEntryAt[] };
  try {
    read = await logEntriesAt(
      context.database,
      logRows.map(({ row }) => ({ paymentId: row.payment_id, outboxRowId: row.id })),
    );
  } catch (error) {
    alone('read', error, logRows.length);
    return stepped;
  }
  // Each step takes its entries whose lease still holds as it starts (a step makes requests to the log).
  const together = async <T>(
    what: string,
    at: readonly LogEntryAt[],
    step: (batch: LogEntryAt[]) => Promise<T>,
  ) => {
    const batch = at.filter(({ entry }) => {
      const leased = leasedRows.get(entry.outboxRowId);
      return leased !== undefined && !stepped.has(entry.outboxRowId) && holds(leased);
    });
    if (batch.length < 2) return undefined;
    try {
      return await withRequestId(`log-entries:${batch.length}:${batch[0]?.entry.paymentId}`, () =>
        step(batch),
      );
    } catch (error) {
      if (isMpayError(error) && error.code === 'SERVICE_UNAVAILABLE') {
        // The log did not answer (a timeout, a connection refused, its queue full): each entry alone would
        // meet the same, one timeout after the other while the round waits. All are backed off instead.
        context.log.warn(
          { err: error, entries: batch.length },
          `log entries not ${what}: the log is unavailable`,
        );
        const now = context.clock();
        for (const { entry } of batch) {
          const leased = leasedRows.get(entry.outboxRowId);
          if (leased === undefined) continue;
          await markFailed(context, leased.row, error.code, now);
          stepped.add(entry.outboxRowId);
        }
        return undefined;
      }
      alone(what, error, batch.length);
      return undefined;
    }
  };
  const submitted = await together('submitted', read.unsubmitted, (batch) =>
    submitLogEntries(context.database, link, submitter, batch, {
      recheckAt: new Date(context.clock().getTime() + context.limits.logReceiptFirstCheckMs),
      leaseOwner,
    }),
  );
  for (const id of submitted ?? []) stepped.add(id);
  const now = context.clock();
  const proofs = await together('proved', read.submitted, (batch) =>
    proveLogEntries(context.database, link, submitter, batch, {
      now,
      leaseOwner,
      observations: context.statistics,
    }),
  );
  for (const id of proofs?.proved ?? []) stepped.add(id);
  const rowsRead = new Map(read.submitted.map(({ entry, row }) => [entry.outboxRowId, row]));
  // At most one wrong index put right per round (two requests to a log that may hang): the others are
  // backed off below as failures, and put right alone in later rounds.
  let correctionsLeft = 1;
  for (const leased of logRows) {
    const { row } = leased;
    const code = proofs?.failed.get(row.id);
    if (code === undefined) continue;
    stepped.add(row.id);
    const entryRow = rowsRead.get(row.id);
    if (code === 'PROOF_INVALID' && entryRow !== undefined && correctionsLeft > 0 && holds(leased)) {
      correctionsLeft -= 1;
      const retryAt = new Date(context.clock().getTime() + retryDelayMs(row.attempts + 1, context.limits));
      const corrected = await correctLogIndex(
        context.database,
        link,
        submitter,
        entryRow,
        { id: row.id, retryAt, leaseOwner },
        context.log,
      ).catch((error: unknown) => {
        context.log.warn({ err: error, paymentId: row.payment_id }, 'log index not checked');
        return undefined;
      });
      if (corrected !== undefined) continue;
    }
    // As one alone: not covered by a checkpoint yet, or a proof that did not verify; backed off.
    await markFailed(context, row, code, now);
  }
  return stepped;
}

/** A row leased to this start, with its payment as the step that wrote it left it (OutboxLease.payments). */
export interface LeasedRow {
  readonly row: OutboxRow;
  readonly until: Date;
  readonly written?: Payment | undefined;
}

/**
 * Claims due rows (all, or one payment's of one kind) by pushing their next
 * attempt a lease into the future, so that no other worker takes them while
 * this one delivers; a worker that dies leaves them due again after the lease,
 * or at once when its instance starts again (@mpay/storage's outbox-leases.ts).
 */
async function claimDue(
  context: GatewayContext,
  now: Date,
  only?: { paymentId: string; kind: OutboxKind },
): Promise<OutboxRow[]> {
  const { rows } = await context.database.query<OutboxRow>(
    `UPDATE outbox SET next_attempt_at = $1,
       lease_owner = (SELECT boot_id FROM outbox_instances WHERE boot_id = $6::uuid)
     WHERE id IN (SELECT id FROM outbox
                  WHERE delivered_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= $2
                    AND ($3::text IS NULL OR (payment_id = $3 AND kind = $4))
                  ORDER BY next_attempt_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
     RETURNING id::text AS id, payment_id, kind, payload, attempts`,
    [
      new Date(now.getTime() + context.limits.outboxLeaseMs).toISOString(),
      now.toISOString(),
      only?.paymentId ?? null,
      only?.kind ?? '',
      context.limits.outboxBatchSizeMax,
      context.outboxLeaseOwner ?? null,
    ],
  );
  return rows;
}

/**
 * Marks `row` delivered at `now` within `sql`, unless it was already (another
 * worker delivered it too, a receipt push cancelled meanwhile): the first
 * delivery's time and attempts stay, and the row is counted for the metrics
 * once, when the mark that changed it commits.
 */
async function markDelivered(context: GatewayContext, sql: Sql, row: OutboxRow, now: Date): Promise<void> {
  const { rows } = await sql.query<DeliveredRow>(
    `UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, last_error = NULL
     WHERE id = $1 AND delivered_at IS NULL
     RETURNING kind, created_at`,
    [row.id, now.toISOString()],
  );
  observeDeliveredAfterCommit(sql, context.statistics, rows, now);
}

/**
 * Rows delivered whose mark may wait for the end of their batch: effects the
 * receiver takes twice without harm (a webhook, which the merchant tells by
 * its delivery id and signature; a push, which the device tells by its
 * payment), so that a batch of them is marked in one statement. Should the
 * process stop before `write`, they are delivered again after their lease,
 * as a row whose own mark was lost would be.
 */
class DeliveredMarks {
  readonly #ids: string[] = [];
  #earliestUntil: Date | undefined;

  /** `row` delivered while it was leased until `until`: its mark must be written before then. */
  defer(row: OutboxRow, until: Date): void {
    this.#ids.push(row.id);
    if (this.#earliestUntil === undefined || until < this.#earliestUntil) this.#earliestUntil = until;
  }

  /** The earliest lease end of the marks waiting; undefined when none waits. */
  get earliestUntil(): Date | undefined {
    return this.#earliestUntil;
  }

  /**
   * Marks the deferred rows delivered (at `now`), in one statement; nothing
   * when there are none. A row marked meanwhile (another worker delivered it
   * too) keeps its mark and its attempts.
   */
  async write(context: GatewayContext, now: Date): Promise<void> {
    const ids = this.#ids.splice(0);
    this.#earliestUntil = undefined;
    if (ids.length === 0) return;
    const { rows } = await context.database.query<DeliveredRow>(
      `UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, last_error = NULL
       WHERE id = ANY($1::bigint[]) AND delivered_at IS NULL
       RETURNING kind, created_at`,
      [ids, now.toISOString()],
    );
    observeDeliveredAfterCommit(context.database, context.statistics, rows, now);
  }
}

/** Where a delivery defers its row's mark (DeliveredMarks, with the row's lease). */
interface DeferredMark {
  defer(row: OutboxRow): void;
}

/**
 * A failed attempt: due again after a backoff, or abandoned after the limit.
 * Bank orders and log entries are never abandoned: a payment must reach its
 * outcome, and the evidence of every outcome must reach the log. Only by the
 * start that holds the row (`outboxLeaseOwner`, none for an unnamed
 * instance): one whose lease ran out, and whose row another start took,
 * changes nothing (it would push back or abandon that start's delivery).
 */
async function markFailed(context: GatewayContext, row: OutboxRow, error: string, now: Date): Promise<void> {
  const attempts = row.attempts + 1;
  const persistent = row.kind === 'bank_order' || row.kind === 'log_entry' || row.kind === 'refund_order';
  if (!persistent && attempts >= context.limits.outboxAttemptsMax) {
    const abandoned = await context.database.transaction(async (sql) => {
      const updated = await sql.query(
        `UPDATE outbox SET abandoned_at = $2, attempts = $3, last_error = $4,
           lease_owner = NULLIF(lease_owner, $5::uuid)
         WHERE id = $1 AND lease_owner IS NOT DISTINCT FROM (SELECT boot_id FROM outbox_instances WHERE boot_id = $5::uuid)`,
        [row.id, now.toISOString(), attempts, error, context.outboxLeaseOwner ?? null],
      );
      // A mail given up on must not keep the mPIN it carries.
      if (updated.rowCount === 1 && row.kind === 'macro_mail') await eraseRegistrationMail(sql, row.id);
      return updated.rowCount === 1;
    });
    if (!abandoned) return;
    context.log.warn(
      { outboxId: row.id, paymentId: row.payment_id, kind: row.kind, error },
      'outbox effect abandoned',
    );
    return;
  }
  const next = new Date(now.getTime() + retryDelayMs(attempts, context.limits));
  await context.database.query(
    `UPDATE outbox SET attempts = $2, last_error = $3, next_attempt_at = $4,
       lease_owner = NULLIF(lease_owner, $5::uuid)
     WHERE id = $1 AND lease_owner IS NOT DISTINCT FROM (SELECT boot_id FROM outbox_instances WHERE boot_id = $5::uuid)`,
    [row.id, attempts, error.slice(0, 200), next.toISOString(), context.outboxLeaseOwner ?? null],
  );
}

/** The row's next attempt at `at`, without counting one; only by the start that holds it, as `markFailed`. */
async function deferAttempt(context: GatewayContext, row: OutboxRow, at: Date): Promise<void> {
  await context.database.query(
    `UPDATE outbox SET next_attempt_at = $2, lease_owner = NULLIF(lease_owner, $3::uuid)
     WHERE id = $1 AND lease_owner IS NOT DISTINCT FROM (SELECT boot_id FROM outbox_instances WHERE boot_id = $3::uuid)`,
    [row.id, at.toISOString(), context.outboxLeaseOwner ?? null],
  );
}

/**
 * A payment's event for its customer's device (undefined: nothing to send
 * now), encrypted to the binding's key. `written`: the payment as the step
 * that wrote the push left it a moment ago, rendered without reading it back
 * (a later step is possible, as it is after any read: the device's answer is
 * checked against the payment as it then stands).
 */
async function renderPaymentEvent(
  context: GatewayContext,
  paymentId: string,
  event: PaymentDeviceEvent,
  written?: Payment,
) {
  const payment = written?.id === paymentId ? written : await findPayment(context.database, paymentId);
  const binding = await activeBindingOf(
    context.database,
    payment.customer.id,
    context.clock(),
    context.keyCache,
  );
  let data: string | null;
  if (event === 'payment-request') {
    data = payment.state === 'awaiting_customer_signature' ? payment.pushMessage : null;
  } else {
    const signed = event === 'receipt' ? payment.receipt : payment.outcome;
    data = signed === null ? null : await encryptTo(signed, binding.encryptionJwk);
  }
  return data === null ? undefined : { payment, binding, data };
}

/**
 * Sends a payment's request, receipt or outcome to the customer: to the
 * customer's open streams (a device that is offline asks again), here and,
 * through the notice, at the other gateway instances, or, for a customer
 * whose key is in custody, to custody (iMS §5 step 1: the FSP "signs,
 * encrypts and redirects the message to the trusted mobile certificate
 * server"; custody must acknowledge, else it is retried).
 */
async function pushToDevice(
  context: GatewayContext,
  row: OutboxRow,
  event: PaymentDeviceEvent,
  now: Date,
  written: Payment | undefined,
  marks: DeferredMark | undefined,
): Promise<void> {
  const delivered = (sql: Sql) => markDelivered(context, sql, row, now);
  // Marked with the batch's other deliveries when there is a batch, else alone.
  const deliveredLater = async () => (marks === undefined ? delivered(context.database) : marks.defer(row));
  const rendered = await renderPaymentEvent(context, row.payment_id, event, written);
  if (rendered === undefined) return deliveredLater();
  const { payment, binding, data } = rendered;
  const custodian = custodianOf(context, binding);
  if (custodian !== undefined) {
    // Custody names a status other than a request or a receipt an `outcome`.
    const redirected = event === 'payment-status' ? 'outcome' : event;
    await redirectToCustody(context, custodian, { event: redirected, paymentId: payment.id, data });
    return deliveredLater();
  }
  context.hub.push(payment.customer.id, { event, id: payment.id, data });
  const notice = { kind: 'payment', party: payment.customer.id, paymentId: payment.id, event } as const;
  // With a relay, the row's mark commits with the notice to the other instances (one round trip);
  // without one (a single instance, or its relay stopped meanwhile), the mark goes with the batch's.
  if (!(await context.hub.announce(notice, delivered))) await deliveredLater();
}

/**
 * Another instance's notice (devices/relay.ts): the payment's event for its
 * customer's streams held here; none for a customer whose key is in custody
 * (the announcing instance redirected it there).
 */
export async function paymentEventForStreams(
  context: GatewayContext,
  paymentId: string,
  event: PaymentDeviceEvent,
): Promise<{ customerId: string; event: DeviceEvent } | undefined> {
  const rendered = await renderPaymentEvent(context, paymentId, event);
  if (rendered === undefined || custodianOf(context, rendered.binding) !== undefined) return undefined;
  return { customerId: rendered.payment.customer.id, event: { event, id: paymentId, data: rendered.data } };
}

/** iMS step 9's delivery: POST the signed notification; any 2xx is delivered, anything else is retried. */
async function postWebhook(context: GatewayContext, row: OutboxRow, payload: { url: string; body: string }) {
  await withRequestDeadline(context.limits.webhookTimeoutMs, async (signal) => {
    const answer = await exchangeFor(undefined)(payload.url, {
      method: 'POST',
      // The merchant's logs can name the payment as the platform's do (runOutboxRound sets the id).
      headers: {
        'content-type': 'application/jose',
        'mpay-delivery-id': row.id,
        [requestIdHeader]: currentRequestId() ?? `payment:${row.payment_id}`,
      },
      body: payload.body,
      signal,
      redirect: 'manual',
    });
    await answer.discard();
    if (answer.status < 200 || answer.status > 299) throw new Error(`HTTP ${answer.status}`);
  });
}

/**
 * One row's delivery. For a bank order, returns the payment as its settlement
 * left it (undefined when the bank has not answered yet, and for other
 * kinds); `known`: the payment as the caller (or the step that leased the
 * row) just committed it, which a bank order and a push use instead of
 * reading it. `marks`: where a delivered webhook or push is marked with the
 * rest of its batch (marked alone without it).
 */
async function deliver(
  context: GatewayContext,
  row: OutboxRow,
  known?: Payment,
  marks?: DeferredMark,
): Promise<Payment | undefined> {
  const now = context.clock();
  const payload = JSON.parse(row.payload) as Record<string, unknown>;
  try {
    switch (row.kind) {
      case 'device_push':
        if (payload.event !== 'refund-receipt') {
          // Marks the row delivered itself: with the notice to the other instances when there are any.
          await pushToDevice(context, row, payload.event as PaymentDeviceEvent, now, known, marks);
          return;
        }
        await pushRefundReceipt(context, String(payload.refundId));
        await markDelivered(context, context.database, row, now);
        return;
      case 'webhook':
        await postWebhook(context, row, payload as { url: string; body: string });
        if (marks === undefined) await markDelivered(context, context.database, row, now);
        else marks.defer(row);
        return;
      case 'bank_order': {
        const step = await settleWithBank(
          context,
          row.payment_id,
          (sql) => markDelivered(context, sql, row, now),
          known,
        );
        if (!step.done) {
          await markFailed(context, row, step.code, now);
          return undefined;
        }
        return step.payment;
      }
      case 'refund_order': {
        const step = await settleRefundWithBank(context, String(payload.refundId), (sql) =>
          markDelivered(context, sql, row, now),
        );
        if (!step.done) await markFailed(context, row, step.code, now);
        return;
      }
      case 'macro_mail':
        // Marks the row delivered (or abandoned) itself, erasing the mPIN in the same statement.
        await deliverRegistrationMail(context, row, now);
        return;
      case 'log_entry': {
        const link = context.transactionLog;
        if (link === undefined) throw new Error('no transaction log configured');
        const submitter = { id: context.fsp.id, key: context.fsp.signing.privateJwk };
        // Just submitted: no checkpoint covers it yet; its receipt is asked for once the log has had time
        // to integrate it and its witnesses to cosign, not at once (not a failure: attempts stay as they are).
        const recheckAt = new Date(now.getTime() + context.limits.logReceiptFirstCheckMs);
        if (typeof payload.refundId === 'string') {
          const step = await advanceRefundLogEntry(
            context.database,
            link,
            submitter,
            payload.refundId,
            context.log,
          );
          if (step === 'proved') await markDelivered(context, context.database, row, now);
          else await deferAttempt(context, row, recheckAt);
          return;
        }
        // A payment's entry: each step's write and this row's are one statement.
        const step = await advanceLogEntry(
          context.database,
          link,
          submitter,
          row.payment_id,
          {
            id: row.id,
            now,
            recheckAt,
            retryAt: new Date(now.getTime() + retryDelayMs(row.attempts + 1, context.limits)),
            leaseOwner: context.outboxLeaseOwner ?? null,
            observations: context.statistics,
          },
          context.log,
        );
        if (step === 'proved-before') await markDelivered(context, context.database, row, now);
        return;
      }
    }
  } catch (error) {
    const code = isMpayError(error) ? error.code : error instanceof Error ? error.message : 'error';
    // The log showed a checkpoint that does not extend the one the gateway holds: a log that forked or
    // went back. Every receipt stops until an operator looks (log entries are retried, never abandoned).
    if (checkpointRefusals.includes(code))
      context.log.error(
        {
          code,
          outboxId: row.id,
          paymentId: row.payment_id,
          detail: isMpayError(error) ? error.detail : undefined,
        },
        'the transaction log served a checkpoint that does not extend the one held: receipts stop',
      );
    await markFailed(context, row, code, now);
  }
}

/**
 * One round of the outbox: deliver every due effect (up to the batch size),
 * each while the lease its claim took holds. Returns how many were claimed.
 * By default it returns once all were attempted, the log entries handed to
 * the log line included; `awaitLogLine: false` (the service's own rounds)
 * leaves those to the line and returns once the others were.
 */
export async function runOutboxRound(
  context: GatewayContext,
  options: { readonly awaitLogLine?: boolean } = {},
): Promise<number> {
  const now = context.clock();
  const rows = await claimDue(context, now);
  const until = new Date(now.getTime() + context.limits.outboxLeaseMs);
  // Outside any request: the calls made for a row carry its payment as their request id.
  await deliverRows(
    context,
    rows.map((row) => ({ row, until })),
    { awaitLogLine: options.awaitLogLine ?? true },
  );
  return rows.length;
}

/**
 * Delivers one payment's effects of one kind now, and for a bank order waits
 * (up to `waitMs`) until the payment has its bank's answer, asking again as
 * the backoff allows. The background round delivers whatever this leaves.
 * For a bank order, returns the payment as last read (answered, or still
 * waiting when the time is up), so the caller need not read it again.
 * `known`: the payment as the caller just committed it (the confirmation),
 * which the first delivery uses instead of reading it.
 */
export async function deliverPaymentEffects(
  context: GatewayContext,
  paymentId: string,
  kind: OutboxKind,
  waitMs: number,
  known?: Payment,
  leased?: OutboxLease,
): Promise<Payment | undefined> {
  const deadline = Date.now() + waitMs;
  let fresh = known;
  // The rows the caller's commit leased to this start: delivered without a claim, the first time.
  const mine =
    leased === undefined || !leaseHolds(context, leased.until)
      ? []
      : leased.rows.filter((row) => row.payment_id === paymentId && row.kind === kind);
  let first = mine.length > 0 ? mine : undefined;
  for (;;) {
    let settled: Payment | undefined;
    const rows = first ?? (await claimDue(context, context.clock(), { paymentId, kind }));
    first = undefined;
    for (const row of rows) settled = (await deliver(context, row, fresh)) ?? settled;
    fresh = undefined;
    if (kind !== 'bank_order') return undefined;
    // The settlement's own reading when it got an answer; otherwise another worker may have: read.
    const payment = settled ?? (await findPayment(context.database, paymentId));
    const remainingMs = deadline - Date.now();
    if (!awaitingBankPaymentStates.includes(payment.state) || remainingMs <= 0) return payment;
    // Waiting for a condition (the bank's answer), polled at the outbox's base backoff.
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(remainingMs, context.limits.outboxBackoffBaseMs)),
    );
  }
}
