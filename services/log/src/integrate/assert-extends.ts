import {
  type Checkpoint,
  consistencyProof,
  type TreeReader,
  verifyCheckpointConsistency,
} from '@mpay/merkle';
import { assert } from '@mpay/protocol';

/**
 * The log's one promise: it never signs two inconsistent checkpoints. Before
 * signing `next` the log proves, from its own stored tree, that `next`
 * extends `previous` (no smaller size, a verifying RFC 9162 consistency
 * proof). A failure is a broken invariant (a bug or corrupted storage), not
 * bad input: it is an assertion, and nothing is signed.
 */
export async function assertCheckpointExtends(
  previous: Checkpoint,
  next: Checkpoint,
  reader: TreeReader,
): Promise<void> {
  assert(next.origin === previous.origin, 'checkpoint origin never changes');
  assert(next.treeSize >= previous.treeSize, 'checkpoint tree size never decreases');
  const proof =
    previous.treeSize === 0n ? [] : await consistencyProof(previous.treeSize, next.treeSize, reader);
  const consistent = await verifyCheckpointConsistency(previous, next, proof).then(
    () => true,
    () => false,
  );
  assert(consistent, 'new checkpoint is consistent with the previous one');
}
