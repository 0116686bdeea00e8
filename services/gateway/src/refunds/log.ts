import { type SubmitterCredentials, submitMessages } from '@mpay/log-client';
import { isMpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { Logger } from '../context.ts';
import {
  entryElsewhere,
  type LogEntryStep,
  receiptIfProved,
  type TransactionLogLink,
} from '../log/outbox.ts';

/**
 * Records what the log will commit to for a refund's outcome, in the
 * refund's own transaction (the outbox row that submits it is written beside
 * it): the merchant's signed refund, the merchant's bank's signed answer and
 * the FSP's receipt or outcome statement. The row then keeps the log index
 * and the receipt.
 */
export async function enqueueRefundLogEntry(
  sql: Sql,
  refundId: string,
  kind: string,
  messages: readonly string[],
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO refund_log_entries (refund_id, kind, messages, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (refund_id) DO NOTHING`,
    [refundId, kind, JSON.stringify(messages), now.toISOString()],
  );
}

interface RefundEntryRow {
  refund_id: string;
  payment_id: string;
  kind: string;
  messages: string;
  log_index: string | number | null;
  receipt: string | null;
}

/**
 * One step for one refund's entry, as advanceLogEntry does for a payment's:
 * submit it (transaction id the refund id, the payment named in the
 * metadata), or once submitted collect its receipt if the log has proved it.
 * Returns true when the receipt is in.
 */
export async function advanceRefundLogEntry(
  sql: Sql,
  link: TransactionLogLink,
  submitter: SubmitterCredentials,
  refundId: string,
  log?: Pick<Logger, 'warn'>,
): Promise<LogEntryStep> {
  const { rows } = await sql.query<RefundEntryRow>(
    `SELECT e.refund_id, r.payment_id, e.kind, e.messages, e.log_index, e.receipt
     FROM refund_log_entries e JOIN refunds r ON r.id = e.refund_id WHERE e.refund_id = $1`,
    [refundId],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`assertion failed: refund ${refundId} has a log entry`);
  if (row.receipt !== null) return 'proved';
  const entry = {
    transactionId: row.refund_id,
    messages: JSON.parse(row.messages) as string[],
    kind: row.kind,
    metadata: { paymentId: row.payment_id },
  };
  let index = row.log_index === null ? undefined : BigInt(row.log_index);
  if (index === undefined) {
    const logged = await submitMessages({ url: link.url, origin: link.origin }, submitter, entry);
    index = logged.index;
    await sql.query('UPDATE refund_log_entries SET log_index = $2 WHERE refund_id = $1', [
      refundId,
      index.toString(),
    ]);
    return 'submitted';
  }
  let receipt: string;
  try {
    receipt = await receiptIfProved(link, submitter, entry, index);
  } catch (error) {
    if (isMpayError(error) && error.code === 'PROOF_INVALID')
      await correctRefundLogIndex(sql, link, submitter, entry, index).catch((correction: unknown) =>
        // Said, not thrown: the proof's refusal is what the caller records; the next attempt checks again.
        log?.warn({ err: correction, refundId }, 'refund log index not checked'),
      );
    // Thrown in any case: the caller backs the row off, and its next attempt uses the index put right.
    throw error;
  }
  await sql.query('UPDATE refund_log_entries SET receipt = $2 WHERE refund_id = $1', [refundId, receipt]);
  return 'proved';
}

/**
 * A refund's entry whose proof did not verify, as correctLogIndex does for a
 * payment's: when the log holds something else at the index it gave, the
 * entry is submitted again and the index the log answers stored (while the
 * entry still has the index checked and no receipt). Returns the new index,
 * or undefined when the index was right (the data or the proof is not) or
 * nothing was written.
 */
export async function correctRefundLogIndex(
  sql: Sql,
  link: TransactionLogLink,
  submitter: SubmitterCredentials,
  entry: { transactionId: string; messages: string[]; kind: string; metadata: Record<string, unknown> },
  given: bigint,
): Promise<bigint | undefined> {
  if ((await entryElsewhere(link, given, entry.transactionId, submitter)) === false) return undefined;
  const logged = await submitMessages({ url: link.url, origin: link.origin }, submitter, entry);
  if (logged.index === given) return undefined;
  const { rowCount } = await sql.query(
    `UPDATE refund_log_entries SET log_index = $2
      WHERE refund_id = $1 AND log_index = $3 AND receipt IS NULL`,
    [entry.transactionId, logged.index.toString(), given.toString()],
  );
  return rowCount === 1 ? logged.index : undefined;
}

/** The refund's log receipt once the log has proved it; undefined while it is on its way. */
export async function refundLogReceiptOf(
  sql: Sql,
  refundId: string,
): Promise<{ queued: boolean; receipt?: string }> {
  const { rows } = await sql.query<{ receipt: string | null }>(
    'SELECT receipt FROM refund_log_entries WHERE refund_id = $1',
    [refundId],
  );
  if (rows[0] === undefined) return { queued: false };
  return rows[0].receipt === null ? { queued: true } : { queued: true, receipt: rows[0].receipt };
}
