import { MpayError } from '@mpay/protocol';
import { utf8Encode } from '../bytes.ts';
import {
  type CosignedCheckpoint,
  openCosignedCheckpoint,
  openedCheckpointOf,
  type WitnessPolicy,
} from '../checkpoint/cosigned.ts';
import { leafHash as hashLeaf } from '../hash/rfc9162.ts';
import { verifyInclusion } from '../proof/inclusion/verify.ts';
import { parseTlogProof } from './parse.ts';

/** The entry a proof must be about: its RFC 9162 leaf data, or the leaf hash itself. */
export type LeafInput =
  | { readonly leafData: string | Uint8Array; readonly leafHash?: undefined }
  | { readonly leafHash: Uint8Array; readonly leafData?: undefined };

export type TlogProofPolicy = WitnessPolicy & LeafInput;

export interface VerifiedTlogProof extends CosignedCheckpoint {
  readonly index: bigint;
  readonly leafHash: Uint8Array;
  readonly extra?: Uint8Array | undefined;
}

async function leafHashOf(input: LeafInput): Promise<Uint8Array> {
  if (input.leafData !== undefined && input.leafHash === undefined) {
    const data = typeof input.leafData === 'string' ? utf8Encode(input.leafData) : input.leafData;
    return hashLeaf(data);
  }
  if (input.leafHash instanceof Uint8Array && input.leafData === undefined) return input.leafHash;
  throw new MpayError('REQUEST_INVALID', 'give the leaf data or the leaf hash');
}

/**
 * Verifies a c2sp.org/tlog-proof offline, with only the keys of the policy:
 * the proof text is well formed (TLOG_PROOF_INVALID), its checkpoint is
 * signed by the log and cosigned by enough known witnesses
 * (openCosignedCheckpoint), and the leaf is at `index` in the tree of the
 * checkpoint's size and root (PROOF_INVALID: truncated, padded, wrong index,
 * wrong size or wrong leaf). Resolves only when all hold.
 */
export async function verifyTlogProof(
  text: string | Uint8Array,
  policy: TlogProofPolicy,
  opened?: CosignedCheckpoint,
): Promise<VerifiedTlogProof> {
  const leafHash = await leafHashOf(policy);
  const parsed = parseTlogProof(text);
  // `opened`: a checkpoint the caller had openCosignedCheckpoint open (a client that just fetched it).
  // When that opening was of this very note text under the same keys and quorum, its signatures are
  // not verified again; any other note, or any other object, is opened here.
  const cosigned =
    (opened === undefined ? undefined : openedCheckpointOf(opened.checkpoint, parsed.checkpoint, policy)) ??
    (await openCosignedCheckpoint(parsed.checkpoint, policy));
  const { treeSize, rootHash } = cosigned.checkpoint;
  await verifyInclusion(leafHash, parsed.index, treeSize, parsed.proof, rootHash);
  return Object.freeze({ ...cosigned, index: parsed.index, leafHash, extra: parsed.extra });
}
