import { type NoteVerifier, noteBytesMax, openNote, parseVerifierKey, signatureTypes } from '@mpay/merkle';
import { type ErrorCode, MpayError } from '@mpay/protocol';
import { formatAddCheckpoint, treeSizeContentType } from '../witness-protocol.ts';
import { type ClientLimits, errorOf, fetchText, joinUrl } from './http.ts';

export interface CosignatureRequest {
  /** The log's signed checkpoint note. */
  readonly checkpoint: string;
  /** RFC 9162 consistency proof from `oldSize` to the checkpoint's size. */
  readonly consistencyProof: readonly Uint8Array[];
  /** The size the log believes the witness holds (0 when it does not know). */
  readonly oldSize: bigint;
}

export type CosignatureAnswer =
  | { readonly cosigned: true; readonly cosignature: string; readonly witness: string }
  | { readonly cosigned: false; readonly heldSize: bigint };

/** HTTP statuses of c2sp.org/tlog-witness, for witnesses that answer without mpay's JSON errors. */
function witnessCode(status: number): ErrorCode {
  const codes: Record<number, ErrorCode> = {
    400: 'REQUEST_INVALID',
    403: 'NOTE_KEY_UNKNOWN',
    404: 'LOG_UNKNOWN',
    409: 'CHECKPOINT_FORK',
    422: 'PROOF_INVALID',
  };
  return codes[status] ?? 'SERVICE_UNAVAILABLE';
}

/** The witness's own line among those it answered, checked against its key. */
async function verifiedCosignature(
  checkpoint: string,
  lines: string,
  witness: NoteVerifier,
): Promise<string> {
  const body = checkpoint.slice(0, checkpoint.indexOf('\n\n') + 1);
  if (!lines.endsWith('\n') || lines.length > noteBytesMax)
    throw new MpayError('NOTE_INVALID', 'cosignature');
  const own = lines
    .slice(0, -1)
    .split('\n')
    .filter((line) => line.startsWith(`\u2014 ${witness.name} `));
  const opened = await openNote(`${body}\n${own.map((line) => `${line}\n`).join('')}`, [witness]);
  const signature = opened.verifiedSignatures[0]!;
  return `\u2014 ${signature.name} ${signature.base64}\n`;
}

/**
 * Asks a witness to cosign (c2sp.org/tlog-witness add-checkpoint). Returns
 * its cosignature line, verified with `witnessVerifierKey` (type 0x04), or
 * the size the witness holds when `oldSize` was not it (409), so the caller
 * can retry with a proof from there. Other refusals throw their code.
 */
export async function requestCosignature(
  witnessUrl: string,
  request: CosignatureRequest,
  witnessVerifierKey: string | NoteVerifier,
  limits: ClientLimits = {},
): Promise<CosignatureAnswer> {
  const witness =
    typeof witnessVerifierKey === 'string' ? await parseVerifierKey(witnessVerifierKey) : witnessVerifierKey;
  if (witness.signatureType !== signatureTypes.cosignatureV1)
    throw new MpayError('CRYPTO_KEY_INVALID', 'witness key type');
  const body = formatAddCheckpoint({
    checkpoint: request.checkpoint,
    proof: request.consistencyProof,
    oldSize: request.oldSize,
  });
  const answer = await fetchText(
    joinUrl(witnessUrl, '/add-checkpoint'),
    { method: 'POST', body, headers: { 'content-type': 'text/plain; charset=utf-8' } },
    limits,
  );
  if (answer.status === 409 && answer.contentType.startsWith(treeSizeContentType)) {
    const size = /^(0|[1-9][0-9]{0,19})\n$/.exec(answer.text)?.[1];
    if (size === undefined) throw new MpayError('SERVICE_UNAVAILABLE', 'witness size answer');
    return { cosigned: false, heldSize: BigInt(size) };
  }
  if (answer.status !== 200) throw errorOf(answer, witnessCode);
  const cosignature = await verifiedCosignature(request.checkpoint, answer.text, witness);
  return {
    cosigned: true,
    cosignature,
    witness: `${witness.name}+${witness.keyHash.toString(16).padStart(8, '0')}`,
  };
}
