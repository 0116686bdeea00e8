import { MpayError } from '@mpay/protocol';
import type { NodeId } from '../../tree/node-id.ts';
import { readHashes, type TreeReader } from '../../tree/tree-reader.ts';
import { type TreeSize, toUint64 } from '../../tree-size.ts';
import { assembleProof, inclusionProofNodes, type ProofNodes } from '../proof-nodes.ts';

/**
 * RFC 9162 PATH(index, D[treeSize]): the inclusion proof of leaf `index` in the
 * tree of size `treeSize`, from one batched read of at most 64 + 63 stored
 * perfect-subtree hashes. Throws MpayError('PROOF_REQUEST_INVALID') unless
 * index < treeSize.
 */
export async function inclusionProof(
  index: TreeSize,
  treeSize: TreeSize,
  reader: TreeReader,
): Promise<Uint8Array[]> {
  const nodes = proofNodesOf(index, treeSize);
  return assembleProof(nodes, await readHashes(reader, nodes.ids));
}

/**
 * `inclusionProof` of several leaves in one tree size, from one batched read
 * of every node they need (shared nodes read once): proofs of leaves that sit
 * close together, as a batch of payments' entries do, share most of theirs.
 * The proofs come in the order of `indices`.
 */
export async function inclusionProofs(
  indices: readonly TreeSize[],
  treeSize: TreeSize,
  reader: TreeReader,
): Promise<Uint8Array[][]> {
  const plans = indices.map((index) => proofNodesOf(index, treeSize));
  const key = (id: NodeId) => `${id.level}/${id.index}`;
  const wanted = new Map<string, NodeId>();
  for (const plan of plans) for (const id of plan.ids) wanted.set(key(id), id);
  const ids = [...wanted.values()];
  const hashes = await readHashes(reader, ids);
  const byKey = new Map(ids.map((id, i) => [key(id), hashes[i] as Uint8Array]));
  return Promise.all(
    plans.map((plan) =>
      assembleProof(
        plan,
        plan.ids.map((id) => byKey.get(key(id)) as Uint8Array),
      ),
    ),
  );
}

function proofNodesOf(index: TreeSize, treeSize: TreeSize): ProofNodes {
  const leafIndex = toUint64(index);
  const size = toUint64(treeSize);
  if (leafIndex === undefined || size === undefined || leafIndex >= size) {
    throw new MpayError('PROOF_REQUEST_INVALID', 'index must be below tree size');
  }
  return inclusionProofNodes(leafIndex, size);
}
