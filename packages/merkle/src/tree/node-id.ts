import { assert } from '@mpay/protocol';
import { bitLength } from '../tree-size.ts';

/**
 * A perfect subtree: the 2^level leaves [index * 2^level, (index + 1) * 2^level).
 * Level 0 nodes are leaf hashes. Only perfect subtrees are ever stored; every
 * other node of an RFC 9162 tree is derived from them.
 */
export interface NodeId {
  readonly level: number;
  readonly index: bigint;
}

export function nodeId(level: number, index: bigint): NodeId {
  assert(Number.isInteger(level) && level >= 0 && level < 64, 'node level in [0, 63]');
  assert(index >= 0n, 'node index is non-negative');
  return Object.freeze({ level, index });
}

/**
 * The perfect subtrees that make up the leaf range [begin, end), left to right,
 * largest first. `begin` must be aligned to the size of the largest one, which
 * holds for [0, size) and for the right-border range under a tree node.
 */
export function perfectSubtrees(begin: bigint, end: bigint): NodeId[] {
  assert(begin <= end, 'range begin <= end');
  const ids: NodeId[] = [];
  let position = begin;
  for (let level = bitLength(end - begin) - 1; level >= 0; level--) {
    const width = 1n << BigInt(level);
    if (((end - begin) & width) === 0n) continue;
    assert(position % width === 0n, 'range is aligned');
    ids.push(nodeId(level, position >> BigInt(level)));
    position += width;
  }
  assert(position === end, 'range fully covered');
  return ids;
}
