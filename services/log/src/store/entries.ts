import { leafHash } from '@mpay/merkle';
import { assert, canonicalize, MpayError } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import { base64Of, fromHex, toHex } from './hex.ts';

/** What a submitter logs: the SHA-256 of a signed message, what it is, and small metadata. */
export interface EntrySubmission {
  readonly messageHash: Uint8Array;
  readonly kind: string;
  readonly transactionId: string;
  /** Canonical JSON (RFC 8785) of a JSON object. */
  readonly metadata: string;
}

export interface LogEntry extends EntrySubmission {
  readonly index: bigint;
  readonly submitter: string;
  readonly submittedAt: Date;
  /** The RFC 9162 leaf data: canonical JSON of hash, kind, metadata, submitter, transactionId. */
  readonly leafData: string;
  readonly leafHash: Uint8Array;
}

/** The leaf data of an entry; anyone holding the entry recomputes its leaf hash from it. */
export function entryLeafData(submission: EntrySubmission, submitter: string): string {
  return canonicalize({
    hash: base64Of(submission.messageHash),
    kind: submission.kind,
    metadata: JSON.parse(submission.metadata) as unknown,
    submitter,
    transactionId: submission.transactionId,
  });
}

/**
 * Queues an entry under the next index. The same message hash and transaction
 * id from the same submitter returns the existing index (created: false).
 * Locks the log state row, so indices are dense and never reused.
 */
export async function submitEntry(
  database: Database,
  submission: EntrySubmission,
  submitter: string,
  options: { now: Date; pendingEntriesMax: number },
): Promise<{ index: bigint; created: boolean }> {
  const leafData = entryLeafData(submission, submitter);
  const leaf = await leafHash(new TextEncoder().encode(leafData));
  return database.transaction(async (sql) => {
    const state = await lockLogState(sql);
    const existing = await sql.query<{ index: string }>(
      `SELECT index::text AS index FROM entries
        WHERE submitter = $1 AND transaction_id = $2 AND message_hash = decode($3, 'hex')`,
      [submitter, submission.transactionId, toHex(submission.messageHash)],
    );
    if (existing.rows[0] !== undefined) return { index: BigInt(existing.rows[0].index), created: false };
    if (state.nextIndex - state.treeSize >= BigInt(options.pendingEntriesMax)) {
      throw new MpayError('SERVICE_UNAVAILABLE', 'integration queue full');
    }
    const index = state.nextIndex;
    await sql.query(
      `INSERT INTO entries (index, leaf_data, leaf_hash, message_hash, kind, transaction_id, metadata, submitter, submitted_at)
       VALUES ($1, $2, decode($3, 'hex'), decode($4, 'hex'), $5, $6, $7, $8, $9)`,
      [
        index,
        leafData,
        toHex(leaf),
        toHex(submission.messageHash),
        submission.kind,
        submission.transactionId,
        submission.metadata,
        submitter,
        options.now,
      ],
    );
    await sql.query('UPDATE log_state SET next_index = $1 WHERE id = 1', [index + 1n]);
    return { index, created: true };
  });
}

export interface LogState {
  readonly nextIndex: bigint;
  readonly treeSize: bigint;
}

/** Reads and locks the one log state row until the transaction ends. */
export async function lockLogState(sql: Sql): Promise<LogState> {
  const { rows } = await sql.query<{ next_index: string; tree_size: string }>(
    'SELECT next_index::text AS next_index, tree_size::text AS tree_size FROM log_state WHERE id = 1 FOR UPDATE',
  );
  const row = rows[0];
  assert(row !== undefined, 'log state row exists (migration 0001)');
  const state = { nextIndex: BigInt(row.next_index), treeSize: BigInt(row.tree_size) };
  assert(state.treeSize <= state.nextIndex, 'tree size <= next index');
  return state;
}

interface EntryRow {
  index: string;
  leaf_data: string;
  leaf_hash: string;
  message_hash: string;
  kind: string;
  transaction_id: string;
  metadata: string;
  submitter: string;
  submitted_at: Date | string;
}

const entryColumns = `index::text AS index, leaf_data, encode(leaf_hash, 'hex') AS leaf_hash,
  encode(message_hash, 'hex') AS message_hash, kind, transaction_id, metadata, submitter, submitted_at`;

function entryOf(row: EntryRow): LogEntry {
  return Object.freeze({
    index: BigInt(row.index),
    leafData: row.leaf_data,
    leafHash: fromHex(row.leaf_hash),
    messageHash: fromHex(row.message_hash),
    kind: row.kind,
    transactionId: row.transaction_id,
    metadata: row.metadata,
    submitter: row.submitter,
    submittedAt: new Date(row.submitted_at),
  });
}

export async function readEntry(sql: Sql, index: bigint): Promise<LogEntry | undefined> {
  const { rows } = await sql.query<EntryRow>(`SELECT ${entryColumns} FROM entries WHERE index = $1`, [index]);
  return rows[0] === undefined ? undefined : entryOf(rows[0]);
}

/** The leaf hashes of entries [begin, begin + countMax) that exist, in index order. */
export async function readLeafHashes(sql: Sql, begin: bigint, countMax: number): Promise<Uint8Array[]> {
  const { rows } = await sql.query<{ index: string; leaf_hash: string }>(
    `SELECT index::text AS index, encode(leaf_hash, 'hex') AS leaf_hash FROM entries
      WHERE entries.index >= $1 ORDER BY entries.index LIMIT $2`,
    [begin, countMax],
  );
  rows.forEach((row, offset) => {
    assert(BigInt(row.index) === begin + BigInt(offset), 'entry indices are dense');
  });
  return rows.map((row) => fromHex(row.leaf_hash));
}
