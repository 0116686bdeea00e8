import type { NoteVerifier } from '../note/note-key.ts';
import { type OpenedNote, openNote } from '../note/open.ts';
import type { Checkpoint } from './checkpoint.ts';
import { checkpointInvalid } from './checkpoint.ts';
import { parseCheckpoint } from './parse.ts';

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly note: OpenedNote;
}

/**
 * Opens a signed checkpoint: the note must carry a verified signature by one
 * of `verifiers` (the log's key, or witnesses) and its origin must be the one
 * expected — clients pin the origin, they never learn it from the note.
 */
export async function openCheckpoint(
  signedNote: string | Uint8Array,
  origin: string,
  verifiers: readonly (string | NoteVerifier)[],
): Promise<OpenedCheckpoint> {
  const note = await openNote(signedNote, verifiers);
  const checkpoint = parseCheckpoint(note.text);
  if (checkpoint.origin !== origin) throw checkpointInvalid('origin');
  return Object.freeze({ checkpoint, note });
}
