import { MpayError } from '@mpay/protocol';
import { readHashes, type TreeReader } from '../../tree/tree-reader.ts';
import { type TreeSize, toUint64 } from '../../tree-size.ts';
import { assembleProof, inclusionProofNodes } from '../proof-nodes.ts';

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
  const leafIndex = toUint64(index);
  const size = toUint64(treeSize);
  if (leafIndex === undefined || size === undefined || leafIndex >= size) {
    throw new MpayError('PROOF_REQUEST_INVALID', 'index must be below tree size');
  }
  const nodes = inclusionProofNodes(leafIndex, size);
  return assembleProof(nodes, await readHashes(reader, nodes.ids));
}
