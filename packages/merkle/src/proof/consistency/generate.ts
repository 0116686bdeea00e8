import { MpayError } from '@mpay/protocol';
import { readHashes, type TreeReader } from '../../tree/tree-reader.ts';
import { type TreeSize, toUint64 } from '../../tree-size.ts';
import { assembleProof, consistencyProofNodes } from '../proof-nodes.ts';

/**
 * RFC 9162 PROOF(size1, D[size2]): the consistency proof between two tree
 * sizes, from one batched read. Empty when the sizes are equal. Throws
 * MpayError('PROOF_REQUEST_INVALID') unless 0 < size1 <= size2.
 */
export async function consistencyProof(
  size1: TreeSize,
  size2: TreeSize,
  reader: TreeReader,
): Promise<Uint8Array[]> {
  const first = toUint64(size1);
  const second = toUint64(size2);
  if (first === undefined || second === undefined || first === 0n || first > second) {
    throw new MpayError('PROOF_REQUEST_INVALID', 'sizes must satisfy 0 < size1 <= size2');
  }
  if (first === second) return [];
  const nodes = consistencyProofNodes(first, second);
  return assembleProof(nodes, await readHashes(reader, nodes.ids));
}
