import { assert, MpayError } from '@mpay/protocol';
import { nodeHash, nodeHashSync } from '../hash/rfc9162.ts';
import { hashBytes, treeSizeMax } from '../limits.ts';
import { type TreeSize, toUint64 } from '../tree-size.ts';
import { foldRight } from './fold-right.ts';
import { type NodeId, perfectSubtrees } from './node-id.ts';

/** Called for every perfect subtree an append completes (leaves included), so storage can persist it. */
export type NodeVisitor = (id: NodeId, hash: Uint8Array) => void;

/**
 * The compact range [0, treeSize): one hash per set bit of treeSize, the roots
 * of the perfect subtrees that make up the tree, largest (leftmost) first.
 * Enough to append leaves and compute the new root hash without rereading the
 * tree. Immutable: `append` returns a new range.
 */
export class CompactRange {
  readonly treeSize: bigint;
  readonly hashes: readonly Uint8Array[];

  private constructor(treeSize: bigint, hashes: readonly Uint8Array[]) {
    this.treeSize = treeSize;
    this.hashes = Object.freeze([...hashes]);
    Object.freeze(this);
  }

  static empty(): CompactRange {
    return new CompactRange(0n, []);
  }

  /** Restores a range from stored hashes of `CompactRange.ids(treeSize)`, in that order. */
  static fromHashes(treeSize: TreeSize, hashes: readonly Uint8Array[]): CompactRange {
    const size = toUint64(treeSize);
    if (size === undefined) throw new MpayError('PROOF_REQUEST_INVALID', 'tree size');
    assert(hashes.length === CompactRange.ids(size).length, 'one hash per perfect subtree');
    for (const hash of hashes) assert(hash.length === hashBytes, '32-byte hashes');
    return new CompactRange(size, hashes);
  }

  /** The perfect subtrees whose hashes form the compact range of [0, treeSize). */
  static ids(treeSize: bigint): NodeId[] {
    return perfectSubtrees(0n, treeSize);
  }

  /** Appends a batch of leaf hashes; `onNode` sees every completed perfect subtree. */
  async append(leafHashes: readonly Uint8Array[], onNode?: NodeVisitor): Promise<CompactRange> {
    assert(BigInt(leafHashes.length) <= treeSizeMax - this.treeSize, 'tree size stays below 2^64');
    const stack = [...this.hashes];
    let size = this.treeSize;
    for (const leaf of leafHashes) {
      assert(leaf.length === hashBytes, 'leaf hashes are 32 bytes');
      let hash = leaf;
      let index = size;
      let level = 0;
      onNode?.({ level, index }, hash);
      // Each trailing one bit of the old size is a left sibling waiting for this subtree.
      while ((index & 1n) === 1n) {
        const left = stack.pop();
        assert(left !== undefined, 'compact range holds one hash per set bit');
        hash = nodeHashSync === undefined ? await nodeHash(left, hash) : nodeHashSync(left, hash);
        index >>= 1n;
        level++;
        onNode?.({ level, index }, hash);
      }
      stack.push(hash);
      size++;
    }
    return new CompactRange(size, stack);
  }

  /** RFC 9162 MTH of the whole range: the subtree roots folded right to left. */
  async rootHash(): Promise<Uint8Array> {
    return foldRight(this.hashes);
  }
}
