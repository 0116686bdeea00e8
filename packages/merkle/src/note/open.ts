import { MpayError } from '@mpay/protocol';
import { utf8Encode } from '../bytes.ts';
import { noteSignaturesMax } from '../limits.ts';
import type { NoteVerifier } from './note-key.ts';
import { readNote } from './note-text.ts';
import { type NoteSignature, type ParsedSignatureLine, parseSignatureLine } from './signature-line.ts';
import { type VerifierSet, verifierId, verifierSet } from './verifier-set.ts';

export interface OpenedNote {
  /** The signed text, ending in a newline. */
  readonly text: string;
  /** Signatures by known keys, all verified; one per key. */
  readonly verifiedSignatures: readonly NoteSignature[];
  /** Signatures by unknown keys, not checked; duplicates dropped. */
  readonly unverifiedSignatures: readonly NoteSignature[];
}

function malformed(detail: string): MpayError {
  return new MpayError('NOTE_INVALID', detail);
}

/** Splits at the last blank line into the text (with its final newline) and the signature lines. */
function splitNote(signedNote: string | Uint8Array): { text: string; lines: string[] } {
  const note = readNote(signedNote);
  if (note === undefined) throw malformed('encoding');
  const split = note.text.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no signature block');
  const block = note.text.slice(split + 2);
  if (!block.endsWith('\n')) throw malformed('signature block');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > noteSignaturesMax) throw new MpayError('NOTE_TOO_MANY_SIGNATURES');
  return { text: note.text.slice(0, split + 1), lines };
}

/**
 * Opens a signed note (c2sp.org/signed-note, golang.org/x/mod/sumdb/note
 * semantics). Every signature by a known key (same name and key hash) is
 * verified and one that fails rejects the whole note (NOTE_SIGNATURE_INVALID);
 * signatures by unknown keys are returned unchecked; a note without a verified
 * signature is rejected (NOTE_KEY_UNKNOWN). Malformed notes: NOTE_INVALID;
 * more than noteSignaturesMax signature lines: NOTE_TOO_MANY_SIGNATURES.
 */
export async function openNote(
  signedNote: string | Uint8Array,
  verifiers: readonly (string | NoteVerifier)[],
): Promise<OpenedNote> {
  const { text, lines } = splitNote(signedNote);
  const parsed = lines.map((line) => parseSignatureLine(line) ?? null);
  if (parsed.includes(null)) throw malformed('signature line');
  const known = await verifierSet(verifiers);
  const { verified, unverified } = await checkSignatures(text, parsed as ParsedSignatureLine[], known);
  if (verified.length === 0) throw new MpayError('NOTE_KEY_UNKNOWN');
  return Object.freeze({
    text,
    verifiedSignatures: Object.freeze(verified),
    unverifiedSignatures: Object.freeze(unverified),
  });
}

async function checkSignatures(
  text: string,
  lines: readonly ParsedSignatureLine[],
  known: VerifierSet,
): Promise<{ verified: NoteSignature[]; unverified: NoteSignature[] }> {
  const message = utf8Encode(text);
  const verified = new Map<string, NoteSignature>();
  const unverified = new Map<string, NoteSignature>();
  for (const { name, keyHash, base64, signature } of lines) {
    const id = verifierId(name, keyHash);
    const verifier = known.get(id);
    const entry = Object.freeze({ name, keyHash, base64 });
    if (verifier === undefined) {
      if (!unverified.has(`${id} ${base64}`)) unverified.set(`${id} ${base64}`, entry);
      continue;
    }
    // Unlike Go, which skips repeats, every signature by a known key is checked.
    if (!(await verifier.verify(message, signature))) throw new MpayError('NOTE_SIGNATURE_INVALID');
    if (!verified.has(id)) verified.set(id, entry);
  }
  return { verified: [...verified.values()], unverified: [...unverified.values()] };
}
