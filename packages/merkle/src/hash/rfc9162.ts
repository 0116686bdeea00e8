import { concatBytes } from '../bytes.ts';

/** RFC 9162 section 2.1.1 domain separation prefixes. */
const leafPrefix = new Uint8Array([0x00]);
const nodePrefix = new Uint8Array([0x01]);

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  const input = data.buffer instanceof ArrayBuffer ? (data as Uint8Array<ArrayBuffer>) : concatBytes(data);
  return new Uint8Array(await crypto.subtle.digest('SHA-256', input));
}

/** MTH of a one-leaf tree: SHA-256(0x00 || entry). */
export async function leafHash(entry: Uint8Array): Promise<Uint8Array> {
  return sha256(concatBytes(leafPrefix, entry));
}

/** Interior node: SHA-256(0x01 || left || right). */
export async function nodeHash(left: Uint8Array, right: Uint8Array): Promise<Uint8Array> {
  return sha256(concatBytes(nodePrefix, left, right));
}

/** MTH of the empty tree: SHA-256 of the empty string. */
export async function emptyRootHash(): Promise<Uint8Array> {
  return sha256(new Uint8Array(0));
}
