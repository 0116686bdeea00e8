import { assert } from '@mpay/protocol';

/** Hashes cross the SQL boundary as hex text: the same on PGlite and node-postgres. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  assert(/^(?:[0-9a-f]{2})*$/.test(text), 'hex text from the database');
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** A PostgreSQL array literal of values that need no quoting (digits, hex). */
export function arrayLiteral(values: readonly (string | number | bigint)[]): string {
  return `{${values.join(',')}}`;
}

export function base64Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
