import { MpayError } from '@mpay/protocol';
import { type TreeSize, toUint64 } from '../tree-size.ts';
import { CompactRange } from './compact-range.ts';
import { foldRight } from './fold-right.ts';
import { readHashes, type TreeReader } from './tree-reader.ts';

/** RFC 9162 MTH of a list of leaf hashes (`leafHash(entry)` each). */
export async function rootHash(leafHashes: readonly Uint8Array[]): Promise<Uint8Array> {
  const range = await CompactRange.empty().append(leafHashes);
  return range.rootHash();
}

/** Root hash of the tree of the given size, from at most 64 stored perfect-subtree hashes. */
export async function treeRootHash(treeSize: TreeSize, reader: TreeReader): Promise<Uint8Array> {
  const size = toUint64(treeSize);
  if (size === undefined) throw new MpayError('PROOF_REQUEST_INVALID', 'tree size');
  return foldRight(await readHashes(reader, CompactRange.ids(size)));
}
