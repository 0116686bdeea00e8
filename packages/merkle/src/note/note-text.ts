import { hasControlCharacter, isWellFormedText, utf8Decode, utf8Encode } from '../bytes.ts';
import { noteBytesMax } from '../limits.ts';

/**
 * Brings a note (text or signed note) to a string and its exact UTF-8 bytes,
 * or returns undefined: invalid UTF-8, unpaired surrogates, control characters
 * other than newline, or more than noteBytesMax bytes.
 */
export function readNote(input: string | Uint8Array): { text: string; bytes: Uint8Array } | undefined {
  if (input instanceof Uint8Array) {
    if (input.length > noteBytesMax) return undefined;
    const text = utf8Decode(input);
    if (text === undefined || hasControlCharacter(text, true)) return undefined;
    return { text, bytes: input };
  }
  if (typeof input !== 'string' || input.length > noteBytesMax) return undefined;
  if (!isWellFormedText(input) || hasControlCharacter(input, true)) return undefined;
  const bytes = utf8Encode(input);
  if (bytes.length > noteBytesMax) return undefined;
  return { text: input, bytes };
}
