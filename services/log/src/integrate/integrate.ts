import { CompactRange, formatCheckpoint, type NodeId, type NoteSigner, signNote } from '@mpay/merkle';
import { assert } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import { type PhaseMeter, timed } from '../meter.ts';
import { readLatestCheckpoint, type SignedCheckpoint, storeCheckpoint } from '../store/checkpoints.ts';
import { lockLogState, readLeafHashes } from '../store/entries.ts';
import { SqlTreeReader, storeNodes } from '../store/tree-nodes.ts';
import { assertCheckpointExtends } from './assert-extends.ts';

export interface LogIdentity {
  /** The checkpoint origin, also the note key name and the audience of submissions. */
  readonly origin: string;
  readonly signer: NoteSigner;
}

export interface IntegrationResult {
  readonly appended: number;
  readonly checkpoint: SignedCheckpoint;
}

export interface IntegrationOptions {
  readonly batchSizeMax: number;
  readonly now: () => Date;
  /** False when witnesses must be asked first: the checkpoint is stored unpublished. */
  readonly publish: boolean;
  readonly meter?: PhaseMeter | undefined;
}

/**
 * Integrates up to `batchSizeMax` queued entries in one transaction: appends
 * their leaf hashes to the compact range, stores the completed perfect
 * subtrees, checks the new tree head extends the last checkpoint and signs
 * it. With nothing queued it signs only the first (empty) checkpoint.
 */
export async function integrateBatch(
  database: Database,
  log: LogIdentity,
  options: IntegrationOptions,
): Promise<IntegrationResult> {
  return database.transaction(async (sql) => {
    const state = await lockLogState(sql);
    const previous = await readLatestCheckpoint(sql, log.origin);
    assert((previous?.checkpoint.treeSize ?? 0n) === state.treeSize, 'log state matches last checkpoint');
    const leaves = await readLeafHashes(sql, state.treeSize, options.batchSizeMax);
    if (leaves.length === 0 && previous !== undefined) return { appended: 0, checkpoint: previous };
    const reader = new SqlTreeReader(sql);
    const range = CompactRange.fromHashes(
      state.treeSize,
      await reader.getHashes(CompactRange.ids(state.treeSize)),
    );
    const next = await appendAndStore(sql, range, leaves, options.meter);
    assert(next.range.treeSize === state.treeSize + BigInt(leaves.length), 'every leaf appended once');
    const checkpoint = Object.freeze({
      origin: log.origin,
      treeSize: next.range.treeSize,
      rootHash: next.rootHash,
      extensions: Object.freeze([]),
    });
    if (previous !== undefined) {
      await timed(options.meter, 'checking', () =>
        assertCheckpointExtends(previous.checkpoint, checkpoint, reader),
      );
    }
    const signedNote = await timed(options.meter, 'signing', () =>
      signNote(formatCheckpoint(checkpoint), [log.signer]),
    );
    const signed = Object.freeze({ checkpoint, signedNote });
    await storeCheckpoint(sql, signed, { now: options.now(), published: options.publish });
    return { appended: leaves.length, checkpoint: signed };
  });
}

async function appendAndStore(
  sql: Sql,
  range: CompactRange,
  leaves: readonly Uint8Array[],
  meter: PhaseMeter | undefined,
): Promise<{ range: CompactRange; rootHash: Uint8Array }> {
  const nodes: Array<readonly [NodeId, Uint8Array]> = [];
  const next = await timed(meter, 'hashing', async () => {
    const appended = await range.append(leaves, (id, hash) => nodes.push([id, hash]));
    return { range: appended, rootHash: await appended.rootHash() };
  });
  await storeNodes(sql, nodes);
  return next;
}
