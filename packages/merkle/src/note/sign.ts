import { MpayError } from '@mpay/protocol';
import { utf8Length } from '../bytes.ts';
import { parseCosignerKey } from '../cosignature/cosigner-key.ts';
import { noteBytesMax, noteSignaturesMax } from '../limits.ts';
import { isValidKeyName } from './key-name.ts';
import { parseKeyText, signatureTypes, signerKeyPrefix } from './key-text.ts';
import { type NoteSigner, parseSignerKey } from './note-key.ts';
import { readNote } from './note-text.ts';
import { formatSignatureLine } from './signature-line.ts';

/** A signer key text of either type: Ed25519 note key (0x01) or cosigner key (0x04, cosigns at the current time). */
export async function parseAnySignerKey(text: string): Promise<NoteSigner> {
  const typed = typeof text === 'string' && text.startsWith(signerKeyPrefix);
  const type = typed ? parseKeyText(text.slice(signerKeyPrefix.length)).signatureType : undefined;
  return type === signatureTypes.cosignatureV1 ? parseCosignerKey(text) : parseSignerKey(text);
}

/**
 * Signs a note text (c2sp.org/signed-note) with each signer, in order:
 * text, a blank line, one signature line per signer. The text must end with a
 * newline and contain no control characters other than newline. Signer keys
 * are either key texts (`PRIVATE+KEY+...`, note or cosigner keys) or parsed keys.
 */
export async function signNote(text: string, signers: readonly (string | NoteSigner)[]): Promise<string> {
  const note = readNote(text);
  if (note === undefined || !note.text.endsWith('\n')) throw new MpayError('NOTE_INVALID', 'note text');
  if (signers.length === 0) throw new MpayError('NOTE_INVALID', 'no signer');
  if (signers.length > noteSignaturesMax) throw new MpayError('NOTE_TOO_MANY_SIGNATURES');
  const parsed = await Promise.all(signers.map((s) => (typeof s === 'string' ? parseAnySignerKey(s) : s)));
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
