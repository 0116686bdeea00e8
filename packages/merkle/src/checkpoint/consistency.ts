import { MpayError } from '@mpay/protocol';
import { bytesEqual } from '../bytes.ts';
import { emptyRootHash } from '../hash/rfc9162.ts';
import { verifyConsistency } from '../proof/consistency/verify.ts';
import { type Checkpoint, checkpointInvalid } from './checkpoint.ts';

/**
 * Checks that `next` extends `previous` (both already opened and trusted):
 * same origin, no smaller tree (CHECKPOINT_ROLLBACK), and a valid consistency
 * proof between them (PROOF_INVALID; equal sizes need equal roots, which is
 * how a fork at the same size shows). From an empty tree no proof is needed.
 */
export async function verifyCheckpointConsistency(
  previous: Checkpoint,
  next: Checkpoint,
  proof: readonly Uint8Array[],
): Promise<void> {
  if (previous.origin !== next.origin) throw checkpointInvalid('origin');
  if (next.treeSize < previous.treeSize) throw new MpayError('CHECKPOINT_ROLLBACK');
  const empty = await emptyRootHash();
  for (const checkpoint of [previous, next]) {
    if (checkpoint.treeSize === 0n && !bytesEqual(checkpoint.rootHash, empty))
      throw checkpointInvalid('empty tree');
  }
  if (previous.treeSize === 0n) {
    if (proof.length !== 0) throw new MpayError('PROOF_INVALID', 'proof does not verify');
    return;
  }
  await verifyConsistency(previous.treeSize, next.treeSize, previous.rootHash, next.rootHash, proof);
}
