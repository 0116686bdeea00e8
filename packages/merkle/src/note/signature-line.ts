import { base64Decode, base64Encode, concatBytes, utf8Length } from '../bytes.ts';
import { signatureLineBytesMax } from '../limits.ts';
import { isValidKeyName } from './key-name.ts';

/** "— " : em dash (U+2014) and a space start every signature line. */
export const signatureLinePrefix = '\u2014 ';

/** One signature of a note: the key that made it and the base64 of key hash || signature bytes. */
export interface NoteSignature {
  readonly name: string;
  readonly keyHash: number;
  readonly base64: string;
}

export interface ParsedSignatureLine extends NoteSignature {
  /** The signature bytes after the 4-byte key hash. */
  readonly signature: Uint8Array;
}

/** `— <name> <base64(keyHash || signature)>` without the newline. */
export function formatSignatureLine(name: string, keyHash: number, signature: Uint8Array): string {
  const keyHashBytes = new Uint8Array(4);
  new DataView(keyHashBytes.buffer).setUint32(0, keyHash);
  return `${signatureLinePrefix}${name} ${base64Encode(concatBytes(keyHashBytes, signature))}`;
}

/** Parses one signature line (without its newline); undefined if it is malformed. */
export function parseSignatureLine(line: string): ParsedSignatureLine | undefined {
  if (!line.startsWith(signatureLinePrefix) || utf8Length(line) > signatureLineBytesMax) return undefined;
  const rest = line.slice(signatureLinePrefix.length);
  const space = rest.indexOf(' ');
  if (space < 0) return undefined;
  const name = rest.slice(0, space);
  const base64 = rest.slice(space + 1);
  const bytes = base64Decode(base64);
  // At least one signature byte after the key hash (golang.org/x/mod/sumdb/note).
  if (!isValidKeyName(name) || bytes === undefined || bytes.length < 5) return undefined;
  const keyHash = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  return Object.freeze({ name, keyHash, base64, signature: bytes.subarray(4) });
}
