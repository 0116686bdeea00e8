import type { Checkpoint } from '@mpay/merkle';
import type { Sql } from '@mpay/storage';
import { fromHex, toHex } from './hex.ts';

/** A checkpoint the log signed, with its signed note exactly as signed (log signature only). */
export interface SignedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly signedNote: string;
}

/** A published checkpoint: the log's signed note with the witnesses' cosignature lines appended. */
export interface PublishedCheckpoint extends SignedCheckpoint {
  /** The note clients fetch: signedNote followed by every stored cosignature line. */
  readonly cosignedNote: string;
}

interface CheckpointRow {
  tree_size: string;
  root_hash: string;
  signed_note: string;
}

function signedOf(origin: string, row: CheckpointRow): SignedCheckpoint {
  const checkpoint = Object.freeze({
    origin,
    treeSize: BigInt(row.tree_size),
    rootHash: fromHex(row.root_hash),
    extensions: Object.freeze([]),
  });
  return Object.freeze({ checkpoint, signedNote: row.signed_note });
}

const checkpointColumns = `tree_size::text AS tree_size, encode(root_hash, 'hex') AS root_hash, signed_note`;

/** The latest signed checkpoint, published or not (what the next integration must extend). */
export async function readLatestCheckpoint(sql: Sql, origin: string): Promise<SignedCheckpoint | undefined> {
  const { rows } = await sql.query<CheckpointRow>(
    `SELECT ${checkpointColumns} FROM checkpoints ORDER BY checkpoints.tree_size DESC LIMIT 1`,
  );
  return rows[0] === undefined ? undefined : signedOf(origin, rows[0]);
}

/** The latest published checkpoint with its cosignatures (one query). */
export async function readPublishedCheckpoint(
  sql: Sql,
  origin: string,
): Promise<PublishedCheckpoint | undefined> {
  const { rows } = await sql.query<CheckpointRow & { cosignatures: string | null }>(
    `SELECT ${checkpointColumns},
            (SELECT string_agg(c.signature_line, '' ORDER BY c.witness) FROM checkpoint_cosignatures c
              WHERE c.tree_size = checkpoints.tree_size) AS cosignatures
       FROM checkpoints WHERE published_at IS NOT NULL ORDER BY checkpoints.tree_size DESC LIMIT 1`,
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const signed = signedOf(origin, row);
  return Object.freeze({ ...signed, cosignedNote: `${signed.signedNote}${row.cosignatures ?? ''}` });
}

/** The size of the latest published checkpoint (0 before the first). */
export async function readPublishedSize(sql: Sql): Promise<bigint> {
  const { rows } = await sql.query<{ tree_size: string | null }>(
    'SELECT max(tree_size)::text AS tree_size FROM checkpoints WHERE published_at IS NOT NULL',
  );
  return BigInt(rows[0]?.tree_size ?? '0');
}

/** Stores a signed checkpoint and moves the integrated tree size to it; `published` makes it public at once. */
export async function storeCheckpoint(
  sql: Sql,
  signed: SignedCheckpoint,
  options: { now: Date; published: boolean },
): Promise<void> {
  const { treeSize, rootHash } = signed.checkpoint;
  await sql.query(
    `INSERT INTO checkpoints (tree_size, root_hash, signed_note, signed_at, published_at)
     VALUES ($1, decode($2, 'hex'), $3, $4, $5)`,
    [treeSize, toHex(rootHash), signed.signedNote, options.now, options.published ? options.now : null],
  );
  await sql.query('UPDATE log_state SET tree_size = $1 WHERE id = 1', [treeSize]);
}

/** The witnesses (`name+keyID`) that cosigned the checkpoint of this size. */
export async function readCosigners(sql: Sql, treeSize: bigint): Promise<Set<string>> {
  const { rows } = await sql.query<{ witness: string }>(
    'SELECT witness FROM checkpoint_cosignatures WHERE tree_size = $1',
    [treeSize],
  );
  return new Set(rows.map((row) => row.witness));
}

/** Stores a verified cosignature line (with its newline) of a witness; a repeat is ignored. */
export async function storeCosignature(
  sql: Sql,
  cosignature: { treeSize: bigint; witness: string; signatureLine: string },
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO checkpoint_cosignatures (tree_size, witness, signature_line, received_at)
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    [cosignature.treeSize, cosignature.witness, cosignature.signatureLine, now],
  );
}

export async function publishCheckpoint(sql: Sql, treeSize: bigint, now: Date): Promise<void> {
  await sql.query('UPDATE checkpoints SET published_at = $2 WHERE tree_size = $1 AND published_at IS NULL', [
    treeSize,
    now,
  ]);
}
