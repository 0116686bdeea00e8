import { concatBytes, utf8Encode } from '../bytes.ts';
import { ed25519SignatureBytes } from '../note/ed25519.ts';

/**
 * c2sp.org/tlog-cosignature v1 (Ed25519, signature type 0x04). The signed
 * message is `cosignature/v1\ntime <POSIX seconds>\n` followed by the whole
 * checkpoint body; the signature is a `timestamped_signature`: the u64
 * timestamp, big-endian, then the 64-byte Ed25519 signature.
 */

export const cosignatureV1Header = 'cosignature/v1\n';

/** The spec caps the timestamp at 2^63 - 1. */
export const cosignatureTimestampMax = (1n << 63n) - 1n;

/** 8-byte timestamp + 64-byte Ed25519 signature. */
export const timestampedSignatureBytes = 8 + ed25519SignatureBytes;

export interface TimestampedSignature {
  /** POSIX seconds. */
  readonly timestamp: bigint;
  readonly signature: Uint8Array;
}

export function isCosignatureTimestamp(timestamp: bigint): boolean {
  return typeof timestamp === 'bigint' && timestamp >= 0n && timestamp <= cosignatureTimestampMax;
}

/** What the cosigner signs: the two header lines, then the checkpoint body (with its final newline). */
export function cosignedMessage(checkpointBody: Uint8Array, timestamp: bigint): Uint8Array {
  return concatBytes(utf8Encode(`${cosignatureV1Header}time ${timestamp.toString(10)}\n`), checkpointBody);
}

export function formatTimestampedSignature(timestamp: bigint, signature: Uint8Array): Uint8Array {
  const out = new Uint8Array(timestampedSignatureBytes);
  new DataView(out.buffer).setBigUint64(0, timestamp);
  out.set(signature, 8);
  return out;
}

/** Splits the bytes after the key ID; undefined unless exactly 72 bytes with a timestamp ≤ 2^63 - 1. */
export function parseTimestampedSignature(bytes: Uint8Array): TimestampedSignature | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length !== timestampedSignatureBytes) return undefined;
  const timestamp = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);
  if (!isCosignatureTimestamp(timestamp)) return undefined;
  return { timestamp, signature: bytes.subarray(8) };
}
