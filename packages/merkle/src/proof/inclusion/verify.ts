import { bytesEqual } from '../../bytes.ts';
import { nodeHash } from '../../hash/rfc9162.ts';
import { inclusionProofHashesMax } from '../../limits.ts';
import type { TreeSize } from '../../tree-size.ts';
import { proofInvalid, proofSize, requireHash, requireProofHashes } from '../proof-input.ts';
import { inclusionProofLength } from '../proof-nodes.ts';

/**
 * RFC 9162 section 2.1.3.2: checks that `leafHash` is leaf `index` of the tree
 * of size `treeSize` whose root is `rootHash`. Resolves when it is; throws
 * MpayError('PROOF_INVALID') for any bad input or failed check.
 */
export async function verifyInclusion(
  leafHash: Uint8Array,
  index: TreeSize,
  treeSize: TreeSize,
  proof: readonly Uint8Array[],
  rootHash: Uint8Array,
): Promise<void> {
  const leafIndex = proofSize(index);
  const size = proofSize(treeSize);
  if (leafIndex >= size) throw proofInvalid();
  requireHash(leafHash);
  requireHash(rootHash);
  const expectedLength = inclusionProofLength(leafIndex, size);
  if (expectedLength > inclusionProofHashesMax) throw proofInvalid();
  requireProofHashes(proof, expectedLength);
  const calculated = await rootFromInclusionProof(leafHash, leafIndex, size, proof);
  if (!bytesEqual(calculated, rootHash)) throw proofInvalid();
}

/** The RFC 9162 verification loop itself, which also rejects a path of the wrong length. */
export async function rootFromInclusionProof(
  leafHash: Uint8Array,
  leafIndex: bigint,
  treeSize: bigint,
  proof: readonly Uint8Array[],
): Promise<Uint8Array> {
  let fn = leafIndex;
  let sn = treeSize - 1n;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0n) throw proofInvalid();
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw proofInvalid();
  return r;
}
