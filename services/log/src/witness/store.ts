import type { Checkpoint } from '@mpay/merkle';
import type { Database } from '@mpay/storage';
import { fromHex, toHex } from '../store/hex.ts';

export interface HeldCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly signedNote: string;
}

export async function readHeldCheckpoint(
  database: Database,
  origin: string,
): Promise<HeldCheckpoint | undefined> {
  const { rows } = await database.query<{ tree_size: string; root_hash: string; signed_note: string }>(
    `SELECT tree_size::text AS tree_size, encode(root_hash, 'hex') AS root_hash, signed_note
       FROM witness_checkpoints WHERE origin = $1`,
    [origin],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const checkpoint = {
    origin,
    treeSize: BigInt(row.tree_size),
    rootHash: fromHex(row.root_hash),
    extensions: [],
  };
  return Object.freeze({ checkpoint: Object.freeze(checkpoint), signedNote: row.signed_note });
}

/**
 * Moves the held checkpoint from `held` to `next` only if nobody moved it
 * meanwhile (compare and swap); false means another request won the race.
 */
export async function replaceHeldCheckpoint(
  database: Database,
  held: HeldCheckpoint | undefined,
  next: HeldCheckpoint,
  now: Date,
): Promise<boolean> {
  const { origin, treeSize, rootHash } = next.checkpoint;
  const result =
    held === undefined
      ? await database.query(
          `INSERT INTO witness_checkpoints (origin, tree_size, root_hash, signed_note, updated_at)
           VALUES ($1, $2, decode($3, 'hex'), $4, $5) ON CONFLICT DO NOTHING`,
          [origin, treeSize, toHex(rootHash), next.signedNote, now],
        )
      : await database.query(
          `UPDATE witness_checkpoints SET tree_size = $2, root_hash = decode($3, 'hex'), signed_note = $4, updated_at = $5
            WHERE origin = $1 AND tree_size = $6 AND root_hash = decode($7, 'hex')`,
          [
            origin,
            treeSize,
            toHex(rootHash),
            next.signedNote,
            now,
            held.checkpoint.treeSize,
            toHex(held.checkpoint.rootHash),
          ],
        );
  return result.rowCount === 1;
}

export async function recordAlarm(
  database: Database,
  alarm: { origin: string; code: string; heldNote: string; refusedNote: string },
  now: Date,
): Promise<void> {
  await database.query(
    `INSERT INTO witness_alarms (origin, code, held_note, refused_note, raised_at) VALUES ($1, $2, $3, $4, $5)`,
    [alarm.origin, alarm.code, alarm.heldNote, alarm.refusedNote, now],
  );
}
