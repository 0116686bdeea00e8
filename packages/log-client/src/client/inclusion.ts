import {
  formatReceipt,
  formatTlogProof,
  type LeafInput,
  leafDataOf,
  messagesHash,
  samePolicy,
  type VerifiedTlogProof,
  verifyTlogProof,
  type WitnessPolicy,
} from '@mpay/merkle';
import { isMpayError, MpayError } from '@mpay/protocol';
import type { CheckpointFollower } from './checkpoints.ts';
import type { ClientLimits } from './http.ts';
import { fetchCheckpoint, fetchInclusionProof, fetchInclusionProofs } from './proofs.ts';

export interface WaitOptions extends ClientLimits {
  /** Give up after this long (SERVICE_UNAVAILABLE). */
  readonly waitMs?: number | undefined;
  /** Time between two polls of the checkpoint. */
  readonly pollIntervalMs?: number | undefined;
  /**
   * The client's checkpoint follower (checkpoints.ts): the checkpoint it
   * holds serves the entries it holds, and a fresh one must extend it.
   * Without: a checkpoint fetched for this entry alone.
   */
  readonly checkpoints?: CheckpointFollower | undefined;
}

export const waitDefaults = Object.freeze({ waitMs: 30_000, pollIntervalMs: 250 });

export interface Inclusion {
  /** The c2sp.org/tlog-proof text: verifiable offline with the policy's keys. */
  readonly proof: string;
  readonly verified: VerifiedTlogProof;
}

/** Conditions that end with time (the entry not integrated yet, cosignatures still to come). */
function isNotYet(error: unknown): boolean {
  return isMpayError(error, 'WITNESS_QUORUM_NOT_MET') || isMpayError(error, 'SERVICE_UNAVAILABLE');
}

/**
 * Polls the log until a checkpoint that includes entry `index` is cosigned by
 * the policy's quorum, fetches the inclusion proof at that size, and returns
 * it as a c2sp.org/tlog-proof that this function has verified for the leaf.
 */
export async function waitForInclusion(
  logUrl: string,
  entry: { readonly index: bigint } & LeafInput,
  policy: WitnessPolicy,
  options: WaitOptions = {},
): Promise<Inclusion> {
  const deadline = Date.now() + (options.waitMs ?? waitDefaults.waitMs);
  for (;;) {
    if (options.checkpoints !== undefined && !samePolicy(options.checkpoints.policy, policy))
      throw new Error('assertion failed: the checkpoint follower opens checkpoints with this policy');
    const fetching = options.checkpoints?.covering(entry.index) ?? fetchCheckpoint(logUrl, policy, options);
    const checkpoint = await fetching.catch((error: unknown) => {
      if (isNotYet(error) && Date.now() < deadline) return undefined;
      throw error;
    });
    if (checkpoint !== undefined && checkpoint.checkpoint.treeSize > entry.index) {
      const hashes = await fetchInclusionProof(logUrl, entry.index, checkpoint.checkpoint.treeSize, options);
      const proof = formatTlogProof({ index: entry.index, proof: hashes, checkpoint: checkpoint.signedNote });
      const leaf: LeafInput =
        entry.leafData !== undefined ? { leafData: entry.leafData } : { leafHash: entry.leafHash };
      // The checkpoint was opened with the policy's keys when it was fetched: not verified again.
      return { proof, verified: await verifyTlogProof(proof, { ...policy, ...leaf }, checkpoint) };
    }
    if (Date.now() >= deadline) throw new MpayError('SERVICE_UNAVAILABLE', 'entry not included in time');
    await new Promise((resolve) =>
      setTimeout(resolve, options.pollIntervalMs ?? waitDefaults.pollIntervalMs),
    );
  }
}

export interface ReceiptEntry {
  readonly index: bigint;
  readonly transactionId: string;
  /** The signed messages, in the order they were logged (submitMessages). */
  readonly messages: readonly string[];
  readonly kind: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** The submitter id the log recorded. */
  readonly submitter: string;
}

/**
 * The receipt file of a logged transaction (mpay-receipt/v1): waits for its
 * inclusion under a cosigned checkpoint, then writes messages, entry fields
 * and the verified tlog-proof. The policy's keys are named in the file for
 * the reader's information; verifiers bring their own.
 */
export async function buildReceipt(
  logUrl: string,
  entry: ReceiptEntry,
  policy: WitnessPolicy,
  options: WaitOptions = {},
): Promise<string> {
  const leafData = await leafDataOfEntry(entry);
  const { proof } = await waitForInclusion(logUrl, { index: entry.index, leafData }, policy, options);
  return receiptFile(entry, proof, policy);
}

/** One entry's part of `buildReceipts`. */
export type ReceiptOutcome =
  | { readonly receipt: string }
  /** The checkpoint does not cover the entry yet. */
  | { readonly notYet: true }
  /** Its proof did not verify (PROOF_INVALID, …): no receipt, as `buildReceipt` would refuse it alone. */
  | { readonly refused: MpayError };

/**
 * `buildReceipt` for several entries at once, without waiting: one
 * checkpoint (the follower's, or a fresh one when it does not cover the
 * largest index), then the inclusion proofs of every entry it covers in one
 * request (GET /proofs/inclusions), each verified as `buildReceipt` verifies
 * one. In the order of `entries`, each one's outcome: one proof that fails
 * refuses that entry only. Throws what a checkpoint or a proof request
 * throws (a log that is down, a checkpoint not cosigned yet, a fork).
 */
export async function buildReceipts(
  logUrl: string,
  entries: readonly ReceiptEntry[],
  policy: WitnessPolicy,
  options: ClientLimits & { readonly checkpoints?: CheckpointFollower | undefined } = {},
): Promise<ReceiptOutcome[]> {
  if (entries.length === 0) return [];
  if (options.checkpoints !== undefined && !samePolicy(options.checkpoints.policy, policy))
    throw new Error('assertion failed: the checkpoint follower opens checkpoints with this policy');
  let largest = 0n;
  for (const entry of entries) if (entry.index > largest) largest = entry.index;
  const checkpoint = await (options.checkpoints?.covering(largest) ??
    fetchCheckpoint(logUrl, policy, options));
  const size = checkpoint.checkpoint.treeSize;
  const covered = entries.filter((entry) => entry.index < size);
  const hashes = await fetchInclusionProofs(
    logUrl,
    covered.map((entry) => entry.index),
    size,
    options,
  );
  const outcomes = new Map<ReceiptEntry, ReceiptOutcome>();
  for (const [i, entry] of covered.entries()) {
    const proof = formatTlogProof({
      index: entry.index,
      proof: hashes[i] ?? [],
      checkpoint: checkpoint.signedNote,
    });
    try {
      // The checkpoint was opened with the policy's keys when it was fetched: not verified again.
      await verifyTlogProof(proof, { ...policy, leafData: await leafDataOfEntry(entry) }, checkpoint);
    } catch (error) {
      if (!isMpayError(error)) throw error;
      outcomes.set(entry, { refused: error });
      continue;
    }
    outcomes.set(entry, { receipt: receiptFile(entry, proof, policy) });
  }
  return entries.map((entry) => outcomes.get(entry) ?? { notYet: true });
}

async function leafDataOfEntry(entry: ReceiptEntry): Promise<string> {
  return leafDataOf({
    messageHash: await messagesHash(entry.messages),
    kind: entry.kind,
    transactionId: entry.transactionId,
    metadata: entry.metadata,
    submitter: entry.submitter,
  });
}

/** The mpay-receipt/v1 file of an entry and its verified tlog-proof. */
function receiptFile(entry: ReceiptEntry, proof: string, policy: WitnessPolicy): string {
  const keyText = (key: unknown) => (typeof key === 'string' ? key : undefined);
  return formatReceipt({
    transactionId: entry.transactionId,
    messages: entry.messages,
    entry: { kind: entry.kind, metadata: entry.metadata, submitter: entry.submitter },
    proof,
    logKey: keyText(policy.logVerifierKey),
    witnessKeys: policy.witnessVerifierKeys.every((key) => typeof key === 'string')
      ? (policy.witnessVerifierKeys as string[])
      : undefined,
  });
}
