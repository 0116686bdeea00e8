import { leafDataOfCanonicalMetadata, leafHash } from '@mpay/merkle';
import { assert } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { bytesEqual, fromHex } from './hex.ts';

/** What a submitter logs: the SHA-256 of signed messages (messagesHash), what they are, and small metadata. */
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
  /** The RFC 9162 leaf data: leafDataOf (@mpay/merkle) of the entry. */
  readonly leafData: string;
  readonly leafHash: Uint8Array;
}

/** The leaf data of an entry; anyone holding the entry recomputes its leaf hash from it. */
export function entryLeafData(submission: EntrySubmission, submitter: string): string {
  return leafDataOfCanonicalMetadata({
    messageHash: submission.messageHash,
    kind: submission.kind,
    transactionId: submission.transactionId,
    metadataJson: submission.metadata,
    submitter,
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
  leaf_hash: string;
  message_hash: string;
  kind: string;
  transaction_id: string;
  metadata: string;
  submitter: string;
  submitted_at: Date | string;
}

const entryColumns = `index::text AS index, encode(leaf_hash, 'hex') AS leaf_hash,
  encode(message_hash, 'hex') AS message_hash, kind, transaction_id, metadata, submitter, submitted_at`;

/** The entry of a row, its leaf data recomputed and checked against the stored leaf hash. */
async function entryOf(row: EntryRow): Promise<LogEntry> {
  const submission = {
    messageHash: fromHex(row.message_hash),
    kind: row.kind,
    transactionId: row.transaction_id,
    metadata: row.metadata,
  };
  const leafData = entryLeafData(submission, row.submitter);
  const stored = fromHex(row.leaf_hash);
  assert(
    bytesEqual(await leafHash(new TextEncoder().encode(leafData)), stored),
    'stored leaf hash matches the entry',
  );
  return Object.freeze({
    ...submission,
    index: BigInt(row.index),
    leafData,
    leafHash: stored,
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
      WHERE entries.index >= $1 AND entries.index < $1::bigint + $2 ORDER BY entries.index`,
    [begin, countMax],
  );
  // Distinct indices in [begin, begin + n) that start at begin and end at begin + n - 1 are dense.
  const last = rows.at(-1);
  if (last !== undefined) {
    assert(
      rows[0]!.index === begin.toString() && BigInt(last.index) === begin + BigInt(rows.length - 1),
      'entry indices are dense',
    );
  }
  return rows.map((row) => fromHex(row.leaf_hash));
}
