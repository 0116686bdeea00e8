import { leafHash } from '@mpay/merkle';
import { assert, MpayError } from '@mpay/protocol';
import { type Database, type Sql, together } from '@mpay/storage';
import { type PhaseMeter, timed } from '../meter.ts';
import { type EntrySubmission, entryLeafData, lockLogState } from './entries.ts';
import { toHex } from './hex.ts';

export interface SubmitOptions {
  readonly now: Date;
  readonly pendingEntriesMax: number;
  readonly meter?: PhaseMeter | undefined;
}

export interface Submitted {
  readonly index: bigint;
  /** False when the same submitter logged the same hash for the same transaction before. */
  readonly created: boolean;
}

interface PreparedEntry {
  readonly submission: EntrySubmission;
  readonly key: string;
  readonly leafHash: string;
  readonly messageHash: string;
}

async function prepare(submissions: readonly EntrySubmission[], submitter: string): Promise<PreparedEntry[]> {
  return Promise.all(
    submissions.map(async (submission) => {
      const leafData = entryLeafData(submission, submitter);
      const messageHash = toHex(submission.messageHash);
      return {
        submission,
        key: `${submission.transactionId} ${messageHash}`,
        leafHash: toHex(await leafHash(new TextEncoder().encode(leafData))),
        messageHash,
      };
    }),
  );
}

/** Indices already given to (submitter, transaction id, message hash) of these entries. */
async function existingIndices(
  sql: Sql,
  submitter: string,
  entries: readonly PreparedEntry[],
): Promise<Map<string, bigint>> {
  const { rows } = await sql.query<{ index: string; transaction_id: string; message_hash: string }>(
    `SELECT e.index::text AS index, e.transaction_id, encode(e.message_hash, 'hex') AS message_hash
       FROM entries e
       JOIN unnest($2::text[], $3::text[]) AS wanted(transaction_id, message_hash)
         ON e.submitter = $1 AND e.transaction_id = wanted.transaction_id
        AND e.message_hash = decode(wanted.message_hash, 'hex')`,
    [
      submitter,
      entries.map((entry) => entry.submission.transactionId),
      entries.map((entry) => entry.messageHash),
    ],
  );
  return new Map(rows.map((row) => [`${row.transaction_id} ${row.message_hash}`, BigInt(row.index)]));
}

/** Inserts the new entries from index `first` and moves next_index past them, in one statement. */
async function insertEntries(
  sql: Sql,
  submitter: string,
  first: bigint,
  entries: readonly PreparedEntry[],
  now: Date,
): Promise<void> {
  const { rows } = await sql.query<{ next_index: string }>(
    `WITH inserted AS (
       INSERT INTO entries (index, leaf_hash, message_hash, kind, transaction_id, metadata, submitter, submitted_at)
       SELECT $1::bigint + n.ordinality - 1, decode(n.leaf_hash, 'hex'), decode(n.message_hash, 'hex'),
              n.kind, n.transaction_id, n.metadata, $2, $3
         FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
              WITH ORDINALITY AS n(leaf_hash, message_hash, kind, transaction_id, metadata)
       RETURNING 1)
     UPDATE log_state SET next_index = $1::bigint + (SELECT count(*) FROM inserted) WHERE id = 1
     RETURNING next_index::text AS next_index`,
    [
      first,
      submitter,
      now,
      entries.map((entry) => entry.leafHash),
      entries.map((entry) => entry.messageHash),
      entries.map((entry) => entry.submission.kind),
      entries.map((entry) => entry.submission.transactionId),
      entries.map((entry) => entry.submission.metadata),
    ],
  );
  assert(
    rows[0]?.next_index === (first + BigInt(entries.length)).toString(),
    'every new entry inserted once',
  );
}

/**
 * Queues a batch of entries from one submitter in one transaction, under the
 * next free indices, in order (one multi-row insert). An entry whose
 * submitter, transaction id and message hash were logged before — in an
 * earlier batch or earlier in this one — gets the existing index (created:
 * false). Locks the log state row, so indices are dense and never reused.
 * SERVICE_UNAVAILABLE when the new entries would overfill the queue.
 */
export async function submitEntries(
  database: Database,
  submissions: readonly EntrySubmission[],
  submitter: string,
  options: SubmitOptions,
): Promise<Submitted[]> {
  const prepared = await timed(options.meter, 'hashing', () => prepare(submissions, submitter));
  return database.transaction(async (sql) => {
    // One round trip: the state's lock, then under it the indices these entries already have.
    const [state, known] = await together([
      lockLogState(sql),
      prepared.length === 0
        ? Promise.resolve(new Map<string, bigint>())
        : existingIndices(sql, submitter, prepared),
    ]);
    const fresh: PreparedEntry[] = [];
    const results = prepared.map((entry) => {
      const existing = known.get(entry.key);
      if (existing !== undefined) return { index: existing, created: false };
      known.set(entry.key, state.nextIndex + BigInt(fresh.length));
      fresh.push(entry);
      return { index: state.nextIndex + BigInt(fresh.length - 1), created: true };
    });
    if (fresh.length === 0) return results;
    if (state.nextIndex - state.treeSize + BigInt(fresh.length) > BigInt(options.pendingEntriesMax)) {
      throw new MpayError('SERVICE_UNAVAILABLE', 'integration queue full');
    }
    // Its statement moves next_index past them too (checked there).
    await insertEntries(sql, submitter, state.nextIndex, fresh, options.now);
    return results;
  });
}
