import type { WitnessPolicy } from '../checkpoint/cosigned.ts';
import { type VerifiedTlogProof, verifyTlogProof } from '../tlog-proof/verify.ts';
import { leafDataOf, messagesHash } from './leaf.ts';
import { parseReceipt, type Receipt } from './receipt.ts';

export interface VerifiedReceipt {
  readonly receipt: Receipt;
  /** The leaf data recomputed from the receipt's messages and entry fields. */
  readonly leafData: string;
  readonly proof: VerifiedTlogProof;
}

/**
 * Verifies a receipt file offline: recomputes the leaf data from the
 * messages it holds (leafDataOf), then verifies its tlog-proof for that leaf
 * with the policy's keys only — the keys named inside the file are ignored.
 */
export async function verifyReceipt(text: string, policy: WitnessPolicy): Promise<VerifiedReceipt> {
  const receipt = parseReceipt(text);
  const leafData = leafDataOf({
    messageHash: await messagesHash(receipt.messages),
    kind: receipt.entry.kind,
    metadata: receipt.entry.metadata,
    submitter: receipt.entry.submitter,
    transactionId: receipt.transactionId,
  });
  const proof = await verifyTlogProof(receipt.proof, {
    logVerifierKey: policy.logVerifierKey,
    witnessVerifierKeys: policy.witnessVerifierKeys,
    witnessesRequired: policy.witnessesRequired,
    leafData,
  });
  return Object.freeze({ receipt, leafData, proof });
}
