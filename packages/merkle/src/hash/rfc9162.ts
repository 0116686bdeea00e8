import { concatBytes } from '../bytes.ts';
import { sha256, sha256Sync } from './sha256.ts';

export { sha256 } from './sha256.ts';

/** RFC 9162 section 2.1.1 domain separation prefixes. */
const leafPrefix = new Uint8Array([0x00]);
const nodePrefix = new Uint8Array([0x01]);

/** MTH of a one-leaf tree: SHA-256(0x00 || entry). */
export async function leafHash(entry: Uint8Array): Promise<Uint8Array> {
  return sha256(concatBytes(leafPrefix, entry));
}

/** Interior node: SHA-256(0x01 || left || right). */
export async function nodeHash(left: Uint8Array, right: Uint8Array): Promise<Uint8Array> {
  return sha256(concatBytes(nodePrefix, left, right));
}

/** nodeHash without a promise where the runtime hashes synchronously (Node); undefined elsewhere. */
export const nodeHashSync = syncNodeHash(sha256Sync);

function syncNodeHash(digest: typeof sha256Sync) {
  if (digest === undefined) return undefined;
  return (left: Uint8Array, right: Uint8Array): Uint8Array => digest(concatBytes(nodePrefix, left, right));
}

/** MTH of the empty tree: SHA-256 of the empty string. */
export async function emptyRootHash(): Promise<Uint8Array> {
  return sha256(new Uint8Array(0));
}
