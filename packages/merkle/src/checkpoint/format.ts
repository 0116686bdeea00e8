import { base64Encode } from '../bytes.ts';
import { type TreeSize, toUint64 } from '../tree-size.ts';
import { checkCheckpointFields, checkpointInvalid } from './checkpoint.ts';

export interface CheckpointFields {
  readonly origin: string;
  readonly treeSize: TreeSize;
  readonly rootHash: Uint8Array;
  readonly extensions?: readonly string[];
}

/** The checkpoint note text: origin, decimal tree size, base64 root hash, extension lines; each ends in a newline. */
export function formatCheckpoint({ origin, treeSize, rootHash, extensions = [] }: CheckpointFields): string {
  const size = toUint64(treeSize);
  if (size === undefined) throw checkpointInvalid('tree size');
  checkCheckpointFields(origin, rootHash, extensions);
  return [origin, size.toString(10), base64Encode(rootHash), ...extensions]
    .map((line) => `${line}\n`)
    .join('');
}
