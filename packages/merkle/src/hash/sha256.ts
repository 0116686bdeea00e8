import { concatBytes } from '../bytes.ts';

/**
 * SHA-256 for the Merkle tree. WebCrypto everywhere, except that on Node
 * (where `process.getBuiltinModule` exists, Node ≥ 20.16) the synchronous
 * node:crypto hash is used: about 20 times faster per call than
 * `crypto.subtle.digest`, which matters at two hashes per appended leaf.
 */
type Digest = (data: Uint8Array) => Uint8Array;

interface NodeCrypto {
  createHash(algorithm: 'sha256'): { update(data: Uint8Array): { digest(): Uint8Array } };
}

function nodeDigest(): Digest | undefined {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const nodeCrypto = runtime?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
  if (nodeCrypto === undefined) return undefined;
  return (data) => {
    // A copy: a fresh ArrayBuffer of exactly 32 bytes, never a view into a Buffer pool.
    return new Uint8Array(nodeCrypto.createHash('sha256').update(data).digest());
  };
}

const fastDigest = nodeDigest();

/** The synchronous SHA-256 where the runtime has one (Node), for hot loops; undefined in browsers. */
export const sha256Sync: Digest | undefined = fastDigest;

/** SHA-256 through WebCrypto only (the browser path; tests compare both). */
export async function sha256WebCrypto(data: Uint8Array): Promise<Uint8Array> {
  const input = data.buffer instanceof ArrayBuffer ? (data as Uint8Array<ArrayBuffer>) : concatBytes(data);
  return new Uint8Array(await crypto.subtle.digest('SHA-256', input));
}

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return fastDigest === undefined ? sha256WebCrypto(data) : fastDigest(data);
}
