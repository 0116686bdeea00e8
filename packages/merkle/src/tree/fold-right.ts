import { emptyRootHash, nodeHash } from '../hash/rfc9162.ts';

/**
 * RFC 9162 MTH of a leaf range given the roots of its perfect subtrees, left to
 * right and largest first: each split point k is the largest power of two below
 * the range size, so the hashes combine from the right.
 */
export async function foldRight(hashes: readonly Uint8Array[]): Promise<Uint8Array> {
  let hash = hashes.at(-1);
  if (hash === undefined) return emptyRootHash();
  for (let i = hashes.length - 2; i >= 0; i--) {
    hash = await nodeHash(hashes[i]!, hash);
  }
  return hash;
}
