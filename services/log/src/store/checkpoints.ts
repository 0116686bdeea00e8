import type { Checkpoint } from '@mpay/merkle';
import type { Sql } from '@mpay/storage';
import { fromHex, toHex } from './hex.ts';

/** A checkpoint the log signed, with its signed note exactly as published. */
export interface SignedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly signedNote: string;
}

export async function readLatestCheckpoint(sql: Sql, origin: string): Promise<SignedCheckpoint | undefined> {
  const { rows } = await sql.query<{ tree_size: string; root_hash: string; signed_note: string }>(
    `SELECT tree_size::text AS tree_size, encode(root_hash, 'hex') AS root_hash, signed_note
       FROM checkpoints ORDER BY checkpoints.tree_size DESC LIMIT 1`,
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const checkpoint = Object.freeze({
    origin,
    treeSize: BigInt(row.tree_size),
    rootHash: fromHex(row.root_hash),
    extensions: Object.freeze([]),
  });
  return Object.freeze({ checkpoint, signedNote: row.signed_note });
}

/** Stores a signed checkpoint and moves the integrated tree size to it. */
export async function storeCheckpoint(sql: Sql, signed: SignedCheckpoint, now: Date): Promise<void> {
  const { treeSize, rootHash } = signed.checkpoint;
  await sql.query(
    `INSERT INTO checkpoints (tree_size, root_hash, signed_note, signed_at) VALUES ($1, decode($2, 'hex'), $3, $4)`,
    [treeSize, toHex(rootHash), signed.signedNote, now],
  );
  await sql.query('UPDATE log_state SET tree_size = $1 WHERE id = 1', [treeSize]);
}
