import { base64Encode } from '../bytes.ts';
import { hashBytes, inclusionProofHashesMax, tlogProofExtraBytesMax } from '../limits.ts';
import { readNote } from '../note/note-text.ts';
import { type TreeSize, toUint64 } from '../tree-size.ts';
import { type TlogProof, tlogProofHeader, tlogProofInvalid } from './tlog-proof.ts';

export interface TlogProofFields extends Omit<TlogProof, 'index'> {
  readonly index: TreeSize;
}

/**
 * The c2sp.org/tlog-proof text: the header line, an optional `extra` line,
 * `index N`, one base64 hash per line, an empty line, the checkpoint note.
 */
export function formatTlogProof({ index, proof, checkpoint, extra }: TlogProofFields): string {
  const leafIndex = toUint64(index);
  if (leafIndex === undefined) throw tlogProofInvalid('index');
  if (!Array.isArray(proof) || proof.length > inclusionProofHashesMax) throw tlogProofInvalid('proof');
  for (const hash of proof) {
    if (!(hash instanceof Uint8Array) || hash.length !== hashBytes) throw tlogProofInvalid('proof hash');
  }
  const note = readNote(checkpoint);
  if (note === undefined || !note.text.endsWith('\n')) throw tlogProofInvalid('checkpoint');
  const lines = [tlogProofHeader];
  if (extra !== undefined) {
    if (!(extra instanceof Uint8Array) || extra.length === 0 || extra.length > tlogProofExtraBytesMax) {
      throw tlogProofInvalid('extra');
    }
    lines.push(`extra ${base64Encode(extra)}`);
  }
  lines.push(`index ${leafIndex.toString(10)}`, ...proof.map(base64Encode));
  return `${lines.join('\n')}\n\n${note.text}`;
}
