import {
  buildReceipt,
  buildReceipts,
  checkpointFollowerOf,
  fetchLoggedEntry,
  type ReceiptEntry,
  type SubmitterCredentials,
  submitMessageBatch,
  submitMessages,
} from '@mpay/log-client';
import { isMpayError } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import {
  type DeliveredRow,
  observeDeliveredAfterCommit,
  type PaymentObservations,
} from '../payments/statistics.ts';

/** Where the gateway logs, and what a receipt must carry to be accepted. */
export interface TransactionLogLink {
  readonly url: string;
  /** The log's origin: the audience of signed submissions and the checkpoints' first line. */
  readonly origin: string;
  readonly logVerifierKey: string;
  readonly witnessVerifierKeys: readonly string[];
  /** Cosignatures a receipt's checkpoint needs from those witnesses. */
  readonly witnessesRequired: number;
}

/**
 * Records what the log will commit to for a payment's outcome, in the
 * payment's own transaction (the outbox row that submits it is written beside
 * it). The row is also the evidence store: log index, then the receipt.
 */
export async function enqueueLogEntry(
  sql: Sql,
  paymentId: string,
  kind: string,
  messages: readonly string[],
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO log_entries (payment_id, kind, messages, next_attempt_at, created_at)
     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (payment_id) DO NOTHING`,
    [paymentId, kind, JSON.stringify(messages), now.toISOString()],
  );
}

export interface EntryRow {
  payment_id: string;
  kind: string;
  messages: string;
  log_index: string | number | null;
  receipt: string | null;
}

/**
 * Where one step left a log entry: its receipt in (`proved`), or `submitted`
 * just now, when no checkpoint can cover it yet (the log integrates on its
 * own timer, then its witnesses cosign): the caller looks again after
 * `logReceiptFirstCheckMs` instead of asking at once and failing.
 */
export type LogEntryStep = 'proved' | 'submitted';

/**
 * The outbox row that drives the entry, closed in the statement that records
 * the step: delivered with the receipt, or due again at `recheckAt` with the
 * log index (its lease given back when `leaseOwner` holds it).
 */
export interface LogEntryOutboxRow {
  readonly id: string;
  readonly now: Date;
  readonly recheckAt: Date;
  /** When an entry whose index was corrected is looked at again: the backoff of one more failed attempt. */
  readonly retryAt: Date;
  readonly leaseOwner: string | null;
  /** Where the row's delivery is counted once it commits (the gateway's metrics); none: not counted. */
  readonly observations?: PaymentObservations | undefined;
}

/**
 * One step for one payment's entry: submit it, or (once submitted) collect
 * its receipt if the log has proved it; throws while the log has not. Each
 * step's write and `outboxRow`'s are one statement; an entry proved before
 * leaves the row to the caller. A proof that does not verify because the
 * log gave a wrong index is put right (`correctLogIndex`: `submitted`
 * again); any other stands.
 */
export async function advanceLogEntry(
  sql: Sql,
  link: TransactionLogLink,
  submitter: SubmitterCredentials,
  paymentId: string,
  outboxRow: LogEntryOutboxRow,
  log: IndexCorrectionLog,
): Promise<LogEntryStep | 'proved-before'> {
  const { rows } = await sql.query<EntryRow>(
    'SELECT payment_id, kind, messages, log_index, receipt FROM log_entries WHERE payment_id = $1',
    [paymentId],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`assertion failed: payment ${paymentId} has a log entry`);
  if (row.receipt !== null) return 'proved-before';
  const entry = {
    transactionId: row.payment_id,
    messages: JSON.parse(row.messages) as string[],
    kind: row.kind,
    metadata: {},
  };
  let index = row.log_index === null ? undefined : BigInt(row.log_index);
  if (index === undefined) {
    const logged = await submitMessages({ url: link.url, origin: link.origin }, submitter, entry);
    index = logged.index;
    await sql.query(
      `WITH entry AS (UPDATE log_entries SET log_index = $2 WHERE payment_id = $1 RETURNING 1)
         UPDATE outbox SET next_attempt_at = $4, lease_owner = NULLIF(lease_owner, $5::uuid)
         WHERE id = $3 AND lease_owner IS NOT DISTINCT FROM
           (SELECT boot_id FROM outbox_instances WHERE boot_id = $5::uuid)`,
      [paymentId, index.toString(), outboxRow.id, outboxRow.recheckAt.toISOString(), outboxRow.leaseOwner],
    );
    return 'submitted';
  }
  let receipt: string;
  try {
    receipt = await receiptIfProved(link, submitter, entry, index);
  } catch (error) {
    if (!isMpayError(error) || error.code !== 'PROOF_INVALID') throw error;
    // A wrong index is put right (the entry then proved at its own), anything else stands: the refusal
    // stays PROOF_INVALID whatever the check's own requests met.
    const corrected = await correctLogIndex(sql, link, submitter, row, outboxRow, log).catch(
      (checkFailed: unknown) => {
        log.warn({ err: checkFailed, paymentId }, 'log index not checked');
        return undefined;
      },
    );
    if (corrected === undefined) throw error;
    return 'submitted';
  }
  const delivered = await sql.query<DeliveredRow>(
    `WITH entry AS (
       UPDATE log_entries SET receipt = $2, last_error = NULL WHERE payment_id = $1 AND receipt IS NULL RETURNING 1)
       UPDATE outbox SET delivered_at = $4, attempts = attempts + 1, last_error = NULL
       WHERE id = $3 AND delivered_at IS NULL
       RETURNING kind, created_at`,
    [paymentId, receipt, outboxRow.id, outboxRow.now.toISOString()],
  );
  observeDeliveredAfterCommit(sql, outboxRow.observations, delivered.rows, outboxRow.now);
  return 'proved';
}

/** Where a corrected index is said (the gateway's logger). */
export interface IndexCorrectionLog {
  warn(fields: object, message: string): void;
}

/**
 * A submitted entry's receipt at `index`, from one look and no waiting (the
 * outbox must not stall on an entry the log has not proved yet): throws
 * while no checkpoint covers it, and PROOF_INVALID for a proof that does not
 * verify against the entry as given.
 */
export function receiptIfProved(
  link: TransactionLogLink,
  submitter: SubmitterCredentials,
  entry: Omit<ReceiptEntry, 'index' | 'submitter'>,
  index: bigint,
): Promise<string> {
  return buildReceipt(link.url, { ...entry, index, submitter: submitter.id }, link, {
    waitMs: 0,
    checkpoints: checkpointFollowerOf(link),
  });
}

/**
 * Whether the log holds, at the index it gave a submitter's entry, something
 * else (GET /entries/:index): the transaction id it holds there instead (null
 * for nothing there), or false when it holds that very transaction's entry
 * by this submitter there (the index is right).
 */
export async function entryElsewhere(
  link: TransactionLogLink,
  index: bigint,
  transactionId: string,
  submitter: SubmitterCredentials,
): Promise<string | null | false> {
  const held = await fetchLoggedEntry(link.url, index);
  if (held === undefined) return null;
  return held.transactionId === transactionId && held.submitter === submitter.id ? false : held.transactionId;
}

/**
 * After a submitted entry's inclusion proof did not verify (PROOF_INVALID):
 * asks the log what it holds at the index it gave (GET /entries/:index).
 *
 * - Another transaction's entry there, or another submitter's, or none: the
 *   index is wrong (a log that answered wrongly, a write it lost). The entry
 *   is submitted again: the log answers the index it holds it at, and
 *   appends it only if it holds it nowhere. That index is stored, with the
 *   outbox row counted as one failed attempt (PROOF_INVALID) and due again at
 *   `retryAt`, its backoff: a log that keeps lying meets the backoff, as a
 *   failure would, and the row shows among those retrying. The correction is
 *   said as a warning. Returns the new index.
 * - This transaction's own entry there: the index is right, the data or the
 *   proof is not. Nothing changes (undefined); the caller backs the row off
 *   and the refusal stays in its last error for an operator.
 *
 * Written only while this start holds the row and the entry still has the
 * index checked and no receipt (undefined otherwise: another start took it).
 * Only ever a liveness repair: a receipt is still built only from a proof
 * that verifies against the gateway's own leaf data.
 */
export async function correctLogIndex(
  sql: Sql,
  link: TransactionLogLink,
  submitter: SubmitterCredentials,
  row: EntryRow,
  outboxRow: { readonly id: string; readonly retryAt: Date; readonly leaseOwner: string | null },
  log: IndexCorrectionLog,
): Promise<bigint | undefined> {
  if (row.log_index === null) return undefined;
  const given = BigInt(row.log_index);
  const held = await entryElsewhere(link, given, row.payment_id, submitter);
  if (held === false) return undefined;
  const logged = await submitMessages({ url: link.url, origin: link.origin }, submitter, {
    transactionId: row.payment_id,
    messages: JSON.parse(row.messages) as string[],
    kind: row.kind,
    metadata: {},
  });
  if (logged.index === given) return undefined;
  // The lease, the entry's index and the row's attempt in one statement, each part on the one before.
  const { rowCount } = await sql.query(
    `WITH lease AS (
       SELECT 1 FROM outbox
        WHERE id = $3 AND delivered_at IS NULL AND lease_owner IS NOT DISTINCT FROM
          (SELECT boot_id FROM outbox_instances WHERE boot_id = $5::uuid)),
     entry AS (
       UPDATE log_entries SET log_index = $2
        WHERE payment_id = $1 AND log_index = $6 AND receipt IS NULL AND EXISTS (SELECT 1 FROM lease)
        RETURNING 1)
     UPDATE outbox SET attempts = attempts + 1, last_error = 'PROOF_INVALID', next_attempt_at = $4,
         lease_owner = NULLIF(lease_owner, $5::uuid)
      WHERE id = $3 AND EXISTS (SELECT 1 FROM entry)`,
    [
      row.payment_id,
      logged.index.toString(),
      outboxRow.id,
      outboxRow.retryAt.toISOString(),
      outboxRow.leaseOwner,
      given.toString(),
    ],
  );
  if (rowCount !== 1) return undefined;
  log.warn(
    {
      paymentId: row.payment_id,
      givenIndex: given.toString(),
      heldThere: held,
      index: logged.index.toString(),
    },
    'the transaction log gave a log entry a wrong index: submitted again, its index corrected',
  );
  return logged.index;
}

/** A payment's entry to submit with others: its payment and the outbox row that drives it. */
export interface LogEntryToSubmit {
  readonly paymentId: string;
  readonly outboxRowId: string;
}

/** A payment's entry to step with others, as read for the round (`logEntriesAt`). */
export interface LogEntryAt {
  readonly entry: LogEntryToSubmit;
  readonly row: EntryRow;
}

/**
 * Those of `entries` whose log entry has no receipt yet, read in one
 * statement for both batched steps: the ones not submitted yet and the ones
 * submitted and not proved, each with its row, in the order given; a
 * payment listed twice comes once.
 */
export async function logEntriesAt(
  database: Database,
  entries: readonly LogEntryToSubmit[],
): Promise<{ unsubmitted: LogEntryAt[]; submitted: LogEntryAt[] }> {
  const { rows } = await database.query<EntryRow>(
    `SELECT payment_id, kind, messages, log_index, receipt FROM log_entries
      WHERE payment_id = ANY($1::text[]) AND receipt IS NULL`,
    [entries.map((entry) => entry.paymentId)],
  );
  const found = new Map(rows.map((row) => [row.payment_id, row]));
  const unsubmitted: LogEntryAt[] = [];
  const submitted: LogEntryAt[] = [];
  for (const entry of entries) {
    const row = found.get(entry.paymentId);
    found.delete(entry.paymentId);
    if (row !== undefined) (row.log_index === null ? unsubmitted : submitted).push({ entry, row });
  }
  return { unsubmitted, submitted };
}

/**
 * The first step of several payments' entries at once, those not submitted
 * yet (`logEntriesAt`'s unsubmitted): they go to the log in one signed
 * request (POST /entry-batches, in as many as its limits need), then each
 * gets its log index and its outbox row the recheck at `recheckAt`, all in
 * one statement, as `advanceLogEntry` does for one. Returns the outbox rows
 * stepped. Throws when the log refuses or cannot be reached, having written
 * nothing.
 */
export async function submitLogEntries(
  database: Database,
  link: TransactionLogLink,
  submitter: SubmitterCredentials,
  batch: readonly LogEntryAt[],
  outbox: { readonly recheckAt: Date; readonly leaseOwner: string | null },
): Promise<Set<string>> {
  if (batch.length === 0) return new Set();
  const logged = await submitMessageBatch(
    { url: link.url, origin: link.origin },
    submitter,
    batch.map(({ row }) => ({
      transactionId: row.payment_id,
      messages: JSON.parse(row.messages) as string[],
      kind: row.kind,
      metadata: {},
    })),
  );
  await database.query(
    `WITH given AS (
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS g(payment_id, log_index, outbox_id)),
     entry AS (
       UPDATE log_entries e SET log_index = g.log_index FROM given g WHERE e.payment_id = g.payment_id RETURNING 1)
     UPDATE outbox o SET next_attempt_at = $4, lease_owner = NULLIF(o.lease_owner, $5::uuid)
       FROM given g
      WHERE o.id = g.outbox_id AND o.lease_owner IS NOT DISTINCT FROM
        (SELECT boot_id FROM outbox_instances WHERE boot_id = $5::uuid)`,
    [
      batch.map(({ entry }) => entry.paymentId),
      logged.map((entry) => entry.index.toString()),
      batch.map(({ entry }) => entry.outboxRowId),
      outbox.recheckAt.toISOString(),
      outbox.leaseOwner,
    ],
  );
  return new Set(batch.map(({ entry }) => entry.outboxRowId));
}

/**
 * The receipts of several payments' submitted entries at once (`logEntriesAt`'s
 * submitted; `buildReceipts`: one checkpoint, one request for all their proofs), each
 * stored with its outbox row delivered, in one statement, as
 * `advanceLogEntry` does for one, while this start holds the row. Returns
 * the outbox rows proved, and those the caller backs off as it would one
 * alone, with the code of the failure (an entry the checkpoint does not
 * cover yet: SERVICE_UNAVAILABLE; a proof that does not verify: its code).
 * Throws what the log's answers throw for all of them, having written
 * nothing.
 */
export async function proveLogEntries(
  database: Database,
  link: TransactionLogLink,
  submitter: SubmitterCredentials,
  batch: readonly LogEntryAt[],
  outbox: {
    readonly now: Date;
    readonly leaseOwner: string | null;
    /** Where the rows' deliveries are counted (the gateway's metrics); none: not counted. */
    readonly observations?: PaymentObservations | undefined;
  },
): Promise<{ proved: Set<string>; failed: Map<string, string> }> {
  if (batch.length === 0) return { proved: new Set(), failed: new Map() };
  const outcomes = await buildReceipts(
    link.url,
    batch.map(({ row }) => ({
      transactionId: row.payment_id,
      messages: JSON.parse(row.messages) as string[],
      kind: row.kind,
      metadata: {},
      index: BigInt(row.log_index as string | number),
      submitter: submitter.id,
    })),
    link,
    { checkpoints: checkpointFollowerOf(link) },
  );
  const proved: { entry: LogEntryToSubmit; receipt: string }[] = [];
  const failed = new Map<string, string>();
  for (const [i, { entry }] of batch.entries()) {
    const outcome = outcomes[i] ?? { notYet: true };
    if ('receipt' in outcome) proved.push({ entry, receipt: outcome.receipt });
    else failed.set(entry.outboxRowId, 'refused' in outcome ? outcome.refused.code : 'SERVICE_UNAVAILABLE');
  }
  if (proved.length > 0) {
    const delivered = await database.query<DeliveredRow>(
      `WITH given AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS g(payment_id, receipt, outbox_id)),
       entry AS (
         UPDATE log_entries e SET receipt = g.receipt, last_error = NULL FROM given g
          WHERE e.payment_id = g.payment_id AND e.receipt IS NULL RETURNING 1)
       UPDATE outbox o SET delivered_at = $4, attempts = o.attempts + 1, last_error = NULL
         FROM given g
        WHERE o.id = g.outbox_id AND o.delivered_at IS NULL AND o.lease_owner IS NOT DISTINCT FROM
          (SELECT boot_id FROM outbox_instances WHERE boot_id = $5::uuid)
       RETURNING o.kind, o.created_at`,
      [
        proved.map(({ entry }) => entry.paymentId),
        proved.map(({ receipt }) => receipt),
        proved.map(({ entry }) => entry.outboxRowId),
        outbox.now.toISOString(),
        outbox.leaseOwner,
      ],
    );
    observeDeliveredAfterCommit(database, outbox.observations, delivered.rows, outbox.now);
  }
  return { proved: new Set(proved.map(({ entry }) => entry.outboxRowId)), failed };
}

/**
 * At start: the gateway's checkpoint follower holds the checkpoint of the
 * last receipt it stored (the proved entry with the largest index), so that
 * a log that went back or forked while the gateway was stopped is refused
 * at the next receipt. A stored receipt that cannot be read again is
 * logged and left: the follower then starts from the log's first answer.
 */
export async function rememberLastReceipt(
  sql: Sql,
  link: TransactionLogLink,
  log: { warn(fields: object, message: string): void },
): Promise<void> {
  const { rows } = await sql.query<{ payment_id: string; receipt: string }>(
    'SELECT payment_id, receipt FROM log_entries WHERE receipt IS NOT NULL ORDER BY log_index DESC LIMIT 1',
  );
  const last = rows[0];
  if (last === undefined) return;
  try {
    await checkpointFollowerOf(link).rememberReceipt(last.receipt);
  } catch (error) {
    log.warn(
      { err: error, paymentId: last.payment_id },
      "the last stored receipt could not be read again: the log's checkpoints are followed from its next answer",
    );
  }
}

/** The payment's receipt file once the log has proved it; undefined while it is still on its way. */
export async function logReceiptOf(
  sql: Sql,
  paymentId: string,
): Promise<{ queued: boolean; receipt?: string }> {
  const { rows } = await sql.query<{ receipt: string | null }>(
    'SELECT receipt FROM log_entries WHERE payment_id = $1',
    [paymentId],
  );
  if (rows[0] === undefined) return { queued: false };
  return rows[0].receipt === null ? { queued: true } : { queued: true, receipt: rows[0].receipt };
}
