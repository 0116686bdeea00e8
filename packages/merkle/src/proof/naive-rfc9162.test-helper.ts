/**
 * RFC 9162 section 2.1 definitions written out literally (recursive MTH, PATH
 * and PROOF). Slow on purpose: the reference the fast code is checked against.
 */
import { emptyRootHash, nodeHash } from '../hash/rfc9162.ts';

/** Largest power of two smaller than n (n > 1). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export async function naiveRootHash(leaves: readonly Uint8Array[]): Promise<Uint8Array> {
  if (leaves.length === 0) return emptyRootHash();
  if (leaves.length === 1) return leaves[0]!;
  const k = split(leaves.length);
  return nodeHash(await naiveRootHash(leaves.slice(0, k)), await naiveRootHash(leaves.slice(k)));
}

export async function naiveInclusionProof(m: number, leaves: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const n = leaves.length;
  if (n <= 1) return [];
  const k = split(n);
  if (m < k)
    return [...(await naiveInclusionProof(m, leaves.slice(0, k))), await naiveRootHash(leaves.slice(k))];
  return [...(await naiveInclusionProof(m - k, leaves.slice(k))), await naiveRootHash(leaves.slice(0, k))];
}

async function subproof(m: number, leaves: readonly Uint8Array[], complete: boolean): Promise<Uint8Array[]> {
  const n = leaves.length;
  if (m === n) return complete ? [] : [await naiveRootHash(leaves)];
  const k = split(n);
  if (m <= k)
    return [...(await subproof(m, leaves.slice(0, k), complete)), await naiveRootHash(leaves.slice(k))];
  return [...(await subproof(m - k, leaves.slice(k), false)), await naiveRootHash(leaves.slice(0, k))];
}

export async function naiveConsistencyProof(m: number, leaves: readonly Uint8Array[]): Promise<Uint8Array[]> {
  return subproof(m, leaves, true);
}
