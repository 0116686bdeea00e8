import { MpayError } from '@mpay/protocol';
import { hasControlCharacter, isWellFormedText, utf8Length } from '../bytes.ts';
import {
  checkpointExtensionLineBytesMax,
  checkpointExtensionLinesMax,
  checkpointOriginBytesMax,
  hashBytes,
} from '../limits.ts';

/** c2sp.org/tlog-checkpoint note text: the tree head of a log at one size. */
export interface Checkpoint {
  /** Unique identifier of the log, e.g. `log.mpay.example/transactions`. */
  readonly origin: string;
  readonly treeSize: bigint;
  readonly rootHash: Uint8Array;
  /** Opaque extra lines after the root hash (not recommended by the spec). */
  readonly extensions: readonly string[];
}

export function checkpointInvalid(detail: string): MpayError {
  return new MpayError('CHECKPOINT_INVALID', detail);
}

/** A non-empty line without control characters, at most `bytesMax` UTF-8 bytes. */
export function isValidLine(line: string, bytesMax: number): boolean {
  return (
    typeof line === 'string' &&
    line.length > 0 &&
    !hasControlCharacter(line, false) &&
    isWellFormedText(line) &&
    utf8Length(line) <= bytesMax
  );
}

export function checkCheckpointFields(
  origin: string,
  rootHash: Uint8Array,
  extensions: readonly string[],
): void {
  // The spec only requires a non-empty origin: Go's sumdb uses "go.sum database tree", with spaces.
  if (!isValidLine(origin, checkpointOriginBytesMax)) throw checkpointInvalid('origin');
  if (!(rootHash instanceof Uint8Array) || rootHash.length !== hashBytes)
    throw checkpointInvalid('root hash');
  if (extensions.length > checkpointExtensionLinesMax) throw checkpointInvalid('extension lines');
  for (const line of extensions) {
    if (!isValidLine(line, checkpointExtensionLineBytesMax)) throw checkpointInvalid('extension line');
  }
}
