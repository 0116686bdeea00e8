import { assert } from '@mpay/protocol';

/** Hashes cross the SQL boundary as hex text: the same on PGlite and node-postgres. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  assert(/^(?:[0-9a-f]{2})*$/.test(text), 'hex text from the database');
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export function base64Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function bytesEqual(left: Uint8Array, right: Uint8Array): boolean {
  return left.length === right.length && left.every((byte, i) => byte === right[i]);
}
