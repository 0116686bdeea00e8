import { assert } from '@mpay/protocol';
import { foldRight } from '../tree/fold-right.ts';
import { type NodeId, nodeId, perfectSubtrees } from '../tree/node-id.ts';
import { isPowerOfTwo, trailingZeros } from '../tree-size.ts';

/**
 * What to read to build a proof. Every proof hash is a stored perfect subtree,
 * except at most one: the sibling on the tree's right border, which is the
 * root of a partial subtree and is rebuilt from the perfect subtrees
 * ids[ephemeralBegin, ephemeralEnd). All ids are read in one batch.
 */
export interface ProofNodes {
  readonly ids: readonly NodeId[];
  readonly ephemeralBegin: number;
  readonly ephemeralEnd: number;
}

/** Number of hashes in the proof these nodes produce. */
export function proofLength(nodes: ProofNodes): number {
  const ephemeralParts = nodes.ephemeralEnd - nodes.ephemeralBegin;
  return nodes.ids.length - (ephemeralParts > 1 ? ephemeralParts - 1 : 0);
}

/**
 * Siblings on the path from node (level, index) to the root of the tree of the
 * given size, bottom up: RFC 9162 PATH generalised to a subtree. A level whose
 * sibling lies entirely beyond the tree size contributes nothing (the node is
 * promoted unchanged).
 */
export function pathNodes(level: number, index: bigint, treeSize: bigint): ProofNodes {
  assert(treeSize > 0n && (index + 1n) << BigInt(level) <= treeSize, 'node inside the tree');
  const ids: NodeId[] = [];
  let ephemeralBegin = 0;
  let ephemeralEnd = 0;
  const lastLeaf = treeSize - 1n;
  for (let l = level, i = index; lastLeaf >> BigInt(l) > 0n; l++, i >>= 1n) {
    const sibling = i ^ 1n;
    const begin = sibling << BigInt(l);
    const end = (sibling + 1n) << BigInt(l);
    if (end <= treeSize) {
      ids.push(nodeId(l, sibling));
    } else if (begin < treeSize) {
      ephemeralBegin = ids.length;
      ids.push(...perfectSubtrees(begin, treeSize));
      ephemeralEnd = ids.length;
    }
  }
  return Object.freeze({ ids: Object.freeze(ids), ephemeralBegin, ephemeralEnd });
}

/** RFC 9162 section 2.1.3.1: the inclusion proof of leaf `index`. Requires index < treeSize. */
export function inclusionProofNodes(index: bigint, treeSize: bigint): ProofNodes {
  assert(index < treeSize, 'leaf index inside the tree');
  return pathNodes(0, index, treeSize);
}

/**
 * RFC 9162 section 2.1.4.1: the consistency proof from size1 to size2, for
 * 0 < size1 < size2. It is the inclusion proof of the last perfect subtree of
 * the old tree inside the new one, preceded by that subtree's hash unless the
 * old tree is that subtree (size1 a power of two: the verifier has its root).
 */
export function consistencyProofNodes(size1: bigint, size2: bigint): ProofNodes {
  assert(size1 > 0n && size1 < size2, '0 < size1 < size2');
  const level = trailingZeros(size1);
  const index = (size1 - 1n) >> BigInt(level);
  const path = pathNodes(level, index, size2);
  if (isPowerOfTwo(size1)) return path;
  return Object.freeze({
    ids: Object.freeze([nodeId(level, index), ...path.ids]),
    ephemeralBegin: path.ephemeralBegin + 1,
    ephemeralEnd: path.ephemeralEnd + 1,
  });
}

/** Turns the hashes of `nodes.ids` (same order) into proof hashes. */
export async function assembleProof(nodes: ProofNodes, hashes: readonly Uint8Array[]): Promise<Uint8Array[]> {
  assert(hashes.length === nodes.ids.length, 'one hash per proof node');
  const { ephemeralBegin, ephemeralEnd } = nodes;
  if (ephemeralEnd - ephemeralBegin <= 1) return [...hashes];
  const ephemeral = await foldRight(hashes.slice(ephemeralBegin, ephemeralEnd));
  const proof = [...hashes.slice(0, ephemeralBegin), ephemeral, ...hashes.slice(ephemeralEnd)];
  assert(proof.length === proofLength(nodes), 'proof length matches its plan');
  return proof;
}

/** Expected proof lengths, used by the verifiers to reject a wrong-length proof before hashing. */
export function inclusionProofLength(index: bigint, treeSize: bigint): number {
  return proofLength(inclusionProofNodes(index, treeSize));
}

export function consistencyProofLength(size1: bigint, size2: bigint): number {
  return proofLength(consistencyProofNodes(size1, size2));
}
