import {
  type Checkpoint,
  type CosignedCheckpoint,
  consistencyProofHashesMax,
  inclusionProofHashesMax,
  noteBytesMax,
  openCosignedCheckpoint,
  verifyCheckpointConsistency,
  type WitnessPolicy,
} from '@mpay/merkle';
import { isMpayError, MpayError } from '@mpay/protocol';
import { type ClientLimits, defaultCode, errorOf, fetchText, joinUrl, jsonOf } from './http.ts';

const hashBase64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

function hashesOf(body: unknown, countMax: number): Uint8Array[] {
  const hashes = (body as { hashes?: unknown } | null)?.hashes;
  if (!Array.isArray(hashes) || hashes.length > countMax)
    throw new MpayError('PROOF_INVALID', 'proof encoding');
  return hashes.map((hash: unknown) => {
    if (typeof hash !== 'string' || !hashBase64.test(hash))
      throw new MpayError('PROOF_INVALID', 'proof encoding');
    return new Uint8Array(Buffer.from(hash, 'base64'));
  });
}

/** GET /proofs/inclusion: the RFC 9162 inclusion proof of leaf `index` in the tree of `treeSize` (not verified here). */
export async function fetchInclusionProof(
  logUrl: string,
  index: bigint,
  treeSize: bigint,
  limits: ClientLimits = {},
): Promise<Uint8Array[]> {
  const answer = await fetchText(
    joinUrl(logUrl, `/proofs/inclusion?index=${index}&size=${treeSize}`),
    {},
    limits,
  );
  return hashesOf(jsonOf(answer), inclusionProofHashesMax);
}

/** What the client asks in one GET /proofs/inclusions, and the log's default proofBatchIndicesMax (defined as this). */
export const inclusionBatchIndicesMax = 64;

/**
 * GET /proofs/inclusions: the inclusion proofs of `indices` in the tree of
 * `treeSize`, in their order (not verified here), in as many requests of
 * `inclusionBatchIndicesMax` as they need. An answer for other leaves than
 * asked is PROOF_INVALID.
 */
export async function fetchInclusionProofs(
  logUrl: string,
  indices: readonly bigint[],
  treeSize: bigint,
  limits: ClientLimits = {},
): Promise<Uint8Array[][]> {
  const proofs: Uint8Array[][] = [];
  for (let start = 0; start < indices.length; start += inclusionBatchIndicesMax) {
    const asked = indices.slice(start, start + inclusionBatchIndicesMax);
    const answer = await fetchText(
      joinUrl(logUrl, `/proofs/inclusions?indices=${asked.join(',')}&size=${treeSize}`),
      {},
      limits,
    );
    const answered = (jsonOf(answer) as { proofs?: unknown } | null)?.proofs;
    if (!Array.isArray(answered) || answered.length !== asked.length)
      throw new MpayError('PROOF_INVALID', 'proof encoding');
    for (const [i, proof] of answered.entries()) {
      if ((proof as { index?: unknown } | null)?.index !== Number(asked[i]))
        throw new MpayError('PROOF_INVALID', 'proof for another leaf');
      proofs.push(hashesOf(proof, inclusionProofHashesMax));
    }
  }
  return proofs;
}

/** GET /proofs/consistency from `from` to `to` (not verified here). */
export async function fetchConsistencyProof(
  logUrl: string,
  from: bigint,
  to: bigint,
  limits: ClientLimits = {},
): Promise<Uint8Array[]> {
  const answer = await fetchText(joinUrl(logUrl, `/proofs/consistency?from=${from}&to=${to}`), {}, limits);
  return hashesOf(jsonOf(answer), consistencyProofHashesMax);
}

export interface FetchCheckpointOptions extends ClientLimits {
  /** The last checkpoint this client trusted: the new one must extend it (rollback and fork checks). */
  readonly previous?: Checkpoint | undefined;
}

export interface FetchedCheckpoint extends CosignedCheckpoint {
  /** The signed note as served: log signature and cosignatures. */
  readonly signedNote: string;
}

/**
 * GET /checkpoint, opened with the policy's keys (log signature, witness
 * quorum, origin, no extension lines). With `previous`, also checks it
 * extends that one: CHECKPOINT_ROLLBACK for a smaller tree, CHECKPOINT_FORK
 * for another root at the same size or a consistency proof that fails.
 */
export async function fetchCheckpoint(
  logUrl: string,
  policy: WitnessPolicy,
  options: FetchCheckpointOptions = {},
): Promise<FetchedCheckpoint> {
  const answer = await fetchText(joinUrl(logUrl, '/checkpoint'), {}, options);
  if (answer.status !== 200) throw errorOf(answer, defaultCode);
  if (answer.text.length > noteBytesMax) throw new MpayError('NOTE_INVALID', 'too large');
  const cosigned = await openCosignedCheckpoint(answer.text, policy);
  const { previous } = options;
  if (previous !== undefined) await checkExtends(logUrl, previous, cosigned.checkpoint, options);
  return Object.freeze({ ...cosigned, signedNote: answer.text });
}

async function checkExtends(logUrl: string, previous: Checkpoint, next: Checkpoint, limits: ClientLimits) {
  const proof =
    previous.treeSize === 0n || next.treeSize <= previous.treeSize
      ? []
      : await fetchConsistencyProof(logUrl, previous.treeSize, next.treeSize, limits);
  try {
    await verifyCheckpointConsistency(previous, next, proof);
  } catch (error) {
    if (isMpayError(error, 'PROOF_INVALID'))
      throw new MpayError('CHECKPOINT_FORK', `held size ${previous.treeSize}`);
    throw error;
  }
}
