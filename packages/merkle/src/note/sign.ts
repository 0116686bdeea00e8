import { MpayError } from '@mpay/protocol';
import { utf8Length } from '../bytes.ts';
import { noteBytesMax, noteSignaturesMax } from '../limits.ts';
import { isValidKeyName } from './key-name.ts';
import { type NoteSigner, parseSignerKey } from './note-key.ts';
import { readNote } from './note-text.ts';
import { formatSignatureLine } from './signature-line.ts';

/**
 * Signs a note text (c2sp.org/signed-note) with each signer, in order:
 * text, a blank line, one signature line per signer. The text must end with a
 * newline and contain no control characters other than newline. Signer keys
 * are either key texts (`PRIVATE+KEY+...`) or keys parsed with parseSignerKey.
 */
export async function signNote(text: string, signers: readonly (string | NoteSigner)[]): Promise<string> {
  const note = readNote(text);
  if (note === undefined || !note.text.endsWith('\n')) throw new MpayError('NOTE_INVALID', 'note text');
  if (signers.length === 0) throw new MpayError('NOTE_INVALID', 'no signer');
  if (signers.length > noteSignaturesMax) throw new MpayError('NOTE_TOO_MANY_SIGNATURES');
  const parsed = await Promise.all(signers.map((s) => (typeof s === 'string' ? parseSignerKey(s) : s)));
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const signer of parsed) {
    const id = `${signer.name}+${signer.keyHash}`;
    if (!isValidKeyName(signer.name) || seen.has(id)) throw new MpayError('NOTE_INVALID', 'signer');
    seen.add(id);
    lines.push(formatSignatureLine(signer.name, signer.keyHash, await signer.sign(note.bytes)));
  }
  const signed = `${note.text}\n${lines.map((line) => `${line}\n`).join('')}`;
  if (utf8Length(signed) > noteBytesMax) throw new MpayError('NOTE_INVALID', 'note too large');
  return signed;
}
