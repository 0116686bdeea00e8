/**
 * @mpay/merkle: the pure core of the transparency log. RFC 9162 Merkle trees
 * (hashing, root hashes, inclusion and consistency proofs), C2SP signed notes
 * and checkpoints. No I/O; WebCrypto only, so it runs in Node and browsers.
 */

export type { Checkpoint } from './checkpoint/checkpoint.ts';
export { verifyCheckpointConsistency } from './checkpoint/consistency.ts';
export {
  type CosignedCheckpoint,
  openCosignedCheckpoint,
  samePolicy,
  type WitnessCosignature,
  type WitnessPolicy,
  witnessKeysMax,
} from './checkpoint/cosigned.ts';
export { type CheckpointFields, formatCheckpoint } from './checkpoint/format.ts';
export { type OpenedCheckpoint, openCheckpoint } from './checkpoint/open.ts';
export { parseCheckpoint } from './checkpoint/parse.ts';
export {
  type Cosigner,
  cosignatureTimestamp,
  generateCosignerKey,
  parseCosignerKey,
} from './cosignature/cosigner-key.ts';
export {
  cosignatureV1Header,
  cosignedMessage,
  type TimestampedSignature,
} from './cosignature/timestamped-signature.ts';
export { emptyRootHash, leafHash, nodeHash, sha256 } from './hash/rfc9162.ts';
export * from './limits.ts';
export { isValidKeyName } from './note/key-name.ts';
export { signatureTypes } from './note/key-text.ts';
export {
  formatVerifierKey,
  generateNoteKey,
  type NoteSigner,
  type NoteVerifier,
  parseSignerKey,
  parseVerifierKey,
} from './note/note-key.ts';
export { type OpenedNote, openNote } from './note/open.ts';
export { parseAnySignerKey, signNote } from './note/sign.ts';
export type { NoteSignature } from './note/signature-line.ts';
export { consistencyProof } from './proof/consistency/generate.ts';
export { verifyConsistency } from './proof/consistency/verify.ts';
export { inclusionProof, inclusionProofs } from './proof/inclusion/generate.ts';
export { verifyInclusion } from './proof/inclusion/verify.ts';
export {
  assembleProof,
  consistencyProofNodes,
  inclusionProofNodes,
  type ProofNodes,
} from './proof/proof-nodes.ts';
export {
  entryKindPattern,
  type LogEntryFields,
  leafDataOf,
  leafDataOfCanonicalMetadata,
  messagesHash,
  transactionIdPattern,
} from './receipt/leaf.ts';
export {
  checkReceipt,
  formatReceipt,
  parseReceipt,
  type Receipt,
  receiptBytesMax,
  receiptVersion,
} from './receipt/receipt.ts';
export { type VerifiedReceipt, verifyReceipt } from './receipt/verify.ts';
export { formatTlogProof, type TlogProofFields } from './tlog-proof/format.ts';
export { parseTlogProof } from './tlog-proof/parse.ts';
export { type TlogProof, tlogProofHeader } from './tlog-proof/tlog-proof.ts';
export {
  type LeafInput,
  type TlogProofPolicy,
  type VerifiedTlogProof,
  verifyTlogProof,
} from './tlog-proof/verify.ts';
export { CompactRange, type NodeVisitor } from './tree/compact-range.ts';
export { MemoryTree } from './tree/memory-tree.ts';
export { type NodeId, perfectSubtrees } from './tree/node-id.ts';
export { rootHash, treeRootHash } from './tree/root-hash.ts';
export type { TreeReader } from './tree/tree-reader.ts';
export type { TreeSize } from './tree-size.ts';
