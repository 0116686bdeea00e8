import { assert } from '@mpay/protocol';
import { hashBytes } from '../limits.ts';
import type { NodeId } from './node-id.ts';

/**
 * Read access to the stored perfect-subtree hashes of a log. A storage layer
 * answers one batch per proof: proof generation asks for O(log n) ids at once.
 * Implementations throw MpayError('NOT_FOUND') for a node that is not stored
 * yet (beyond the tree size they hold).
 */
export interface TreeReader {
  getHashes(ids: readonly NodeId[]): Promise<Uint8Array[]>;
}

/** Reads a batch and checks the reader kept its contract (a broken one is a bug, not bad input). */
export async function readHashes(reader: TreeReader, ids: readonly NodeId[]): Promise<Uint8Array[]> {
  if (ids.length === 0) return [];
  const hashes = await reader.getHashes(ids);
  assert(hashes.length === ids.length, 'tree reader returns one hash per id');
  for (const hash of hashes) assert(hash.length === hashBytes, 'tree reader returns 32-byte hashes');
  return hashes;
}
