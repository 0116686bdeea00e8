import { consistencyProofHashesMax, noteBytesMax } from '@mpay/merkle';
import { MpayError } from '@mpay/protocol';

/**
 * The add-checkpoint body of c2sp.org/tlog-witness, shared by the witness
 * (parse) and the log's client (format): `old N`, one base64 hash per line,
 * an empty line, the checkpoint note.
 */
export interface AddCheckpointRequest {
  /** The log's signed checkpoint note. */
  readonly checkpoint: string;
  /** RFC 9162 consistency proof from `oldSize` to the checkpoint's size. */
  readonly proof: readonly Uint8Array[];
  /** The size the submitter believes the witness holds (`old`). */
  readonly oldSize: bigint;
}

/** c2sp.org/tlog-witness: 409 answers carry the held size as this content type. */
export const treeSizeContentType = 'text/x.tlog.size';

const canonicalHashBase64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const oldSizeLine = /^old (0|[1-9][0-9]{0,19})$/;

function invalid(detail: string): MpayError {
  return new MpayError('REQUEST_INVALID', detail);
}

/** Strict: canonical decimal and base64, at most consistencyProofHashesMax hashes; REQUEST_INVALID otherwise. */
export function parseAddCheckpoint(body: unknown): AddCheckpointRequest {
  if (typeof body !== 'string' || body.length > noteBytesMax + 8_192) throw invalid('body');
  const split = body.indexOf('\n\n');
  if (split < 0) throw invalid('no checkpoint');
  const [oldLine = '', ...hashLines] = body.slice(0, split).split('\n');
  const old = oldSizeLine.exec(oldLine)?.[1];
  if (old === undefined || BigInt(old) > (1n << 64n) - 1n) throw invalid('old size');
  if (hashLines.length > consistencyProofHashesMax) throw invalid('proof');
  if (!hashLines.every((hash) => canonicalHashBase64.test(hash))) throw invalid('proof');
  return {
    oldSize: BigInt(old),
    proof: hashLines.map((hash) => new Uint8Array(Buffer.from(hash, 'base64'))),
    checkpoint: body.slice(split + 2),
  };
}

export function formatAddCheckpoint(request: AddCheckpointRequest): string {
  const hashes = request.proof.map((hash) => `${Buffer.from(hash).toString('base64')}\n`).join('');
  return `old ${request.oldSize.toString(10)}\n${hashes}\n${request.checkpoint}`;
}
