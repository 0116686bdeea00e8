import type { SubmitterCredentials } from '@mpay/log-service';
import { buildReceipt, submitMessages } from '@mpay/log-service';
import { isMpayError } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';

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

/** The entry kind of a completed payment. */
export const paymentCompletedKind = 'payment.completed';

/** Queues a completed payment's signed messages for the log, in the payment's own transaction. */
export async function enqueueLogEntry(sql: Sql, paymentId: string, messages: readonly string[], now: Date) {
  await sql.query(
    `INSERT INTO log_entries (payment_id, kind, messages, next_attempt_at, created_at)
     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (payment_id) DO NOTHING`,
    [paymentId, paymentCompletedKind, JSON.stringify(messages), now.toISOString()],
  );
}

interface EntryRow {
  payment_id: string;
  kind: string;
  messages: string;
  log_index: string | number | null;
  attempts: number;
}

async function dueEntries(database: Database, now: Date, limit: number): Promise<EntryRow[]> {
  const { rows } = await database.query<EntryRow>(
    `SELECT payment_id, kind, messages, log_index, attempts FROM log_entries
     WHERE receipt IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2`,
    [now.toISOString(), limit],
  );
  return rows;
}

/** One step for one entry: submit it, or (once submitted) collect its receipt if the log has proved it. */
async function advance(
  database: Database,
  link: TransactionLogLink,
  submitter: SubmitterCredentials,
  row: EntryRow,
) {
  const messages = JSON.parse(row.messages) as string[];
  const entry = { transactionId: row.payment_id, messages, kind: row.kind, metadata: {} };
  if (row.log_index === null) {
    const logged = await submitMessages({ url: link.url, origin: link.origin }, submitter, entry);
    await database.query('UPDATE log_entries SET log_index = $2 WHERE payment_id = $1', [
      row.payment_id,
      logged.index.toString(),
    ]);
    return;
  }
  const receipt = await buildReceipt(
    link.url,
    { ...entry, index: BigInt(row.log_index), submitter: submitter.id },
    link,
    // One look, no waiting: the background round must not stall on an entry the log has not proved yet.
    { waitMs: 0 },
  );
  await database.query('UPDATE log_entries SET receipt = $2, last_error = NULL WHERE payment_id = $1', [
    row.payment_id,
    receipt,
  ]);
}

/**
 * Moves queued log entries forward (submit, then collect the receipt), up to
 * `limit` per call. A failure (log or witness down, entry not yet under a
 * cosigned checkpoint) is retried later with backoff up to a minute; nothing
 * is ever dropped.
 */
export async function advanceLogEntries(
  database: Database,
  link: TransactionLogLink,
  submitter: SubmitterCredentials,
  now: Date,
  limit = 20,
): Promise<number> {
  let done = 0;
  for (const row of await dueEntries(database, now, limit)) {
    try {
      await advance(database, link, submitter, row);
      done += 1;
    } catch (error) {
      const delaySeconds = Math.min(60, 2 ** Math.min(row.attempts, 6));
      await database.query(
        `UPDATE log_entries SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 WHERE payment_id = $1`,
        [
          row.payment_id,
          isMpayError(error) ? error.code : 'INTERNAL',
          new Date(now.getTime() + delaySeconds * 1000).toISOString(),
        ],
      );
    }
  }
  return done;
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
