import { base64Decode } from '../bytes.ts';
import { checkpointExtensionLinesMax, treeSizeMax } from '../limits.ts';
import { type Checkpoint, checkCheckpointFields, checkpointInvalid } from './checkpoint.ts';

/** Decimal without leading zeros (only "0" itself starts with 0), at most 20 digits. */
const canonicalDecimal = /^(?:0|[1-9][0-9]{0,19})$/;

/**
 * Parses checkpoint note text (the `text` of an opened note). Strict: every
 * line non-empty and ending in a newline, canonical decimal size within
 * uint64, canonical base64 of exactly 32 bytes. Throws CHECKPOINT_INVALID.
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string' || !text.endsWith('\n'))
    throw checkpointInvalid('text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length > 3 + checkpointExtensionLinesMax) throw checkpointInvalid('extension lines');
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  if (origin === undefined || sizeLine === undefined || rootLine === undefined)
    throw checkpointInvalid('too short');
  if (!canonicalDecimal.test(sizeLine) || BigInt(sizeLine) > treeSizeMax)
    throw checkpointInvalid('tree size');
  const rootHash = base64Decode(rootLine);
  if (rootHash === undefined) throw checkpointInvalid('root hash');
  checkCheckpointFields(origin, rootHash, extensions);
  return Object.freeze({
    origin,
    treeSize: BigInt(sizeLine),
    rootHash,
    extensions: Object.freeze(extensions),
  });
}
