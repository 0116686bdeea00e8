import { bytesEqual } from '../../bytes.ts';
import { nodeHash } from '../../hash/rfc9162.ts';
import { consistencyProofHashesMax } from '../../limits.ts';
import { isPowerOfTwo, type TreeSize } from '../../tree-size.ts';
import { proofInvalid, proofSize, requireHash, requireProofHashes } from '../proof-input.ts';
import { consistencyProofLength } from '../proof-nodes.ts';

/**
 * RFC 9162 section 2.1.4.2: checks that the tree of size `size2` with root
 * `root2` extends the tree of size `size1` with root `root1`. Resolves when it
 * does; throws MpayError('PROOF_INVALID') otherwise. A proof from size 0 is
 * always rejected (it would prove nothing). Equal sizes need an empty proof
 * and equal roots.
 */
export async function verifyConsistency(
  size1: TreeSize,
  size2: TreeSize,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): Promise<void> {
  const first = proofSize(size1);
  const second = proofSize(size2);
  if (first === 0n || second < first) throw proofInvalid();
  if (first === second) {
    if (!Array.isArray(proof) || proof.length !== 0 || !bytesEqual(root1, root2)) throw proofInvalid();
    return;
  }
  requireHash(root1);
  requireHash(root2);
  const expectedLength = consistencyProofLength(first, second);
  if (expectedLength > consistencyProofHashesMax) throw proofInvalid();
  requireProofHashes(proof, expectedLength);
  await checkConsistencyPath(first, second, root1, root2, proof);
}

/** The RFC 9162 verification loop, computing both roots from one path. */
async function checkConsistencyPath(
  first: bigint,
  second: bigint,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): Promise<void> {
  const path = isPowerOfTwo(first) ? [root1, ...proof] : [...proof];
  let fn = first - 1n;
  let sn = second - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0n) throw proofInvalid();
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n || !bytesEqual(fr, root1) || !bytesEqual(sr, root2)) throw proofInvalid();
}
