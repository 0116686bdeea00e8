/**
 * @mpay/merkle: the pure core of the transparency log. RFC 9162 Merkle trees
 * (hashing, root hashes, inclusion and consistency proofs), C2SP signed notes
 * and checkpoints. No I/O; WebCrypto only, so it runs in Node and browsers.
 */

export type { Checkpoint } from './checkpoint/checkpoint.ts';
export { verifyCheckpointConsistency } from './checkpoint/consistency.ts';
export { type CheckpointFields, formatCheckpoint } from './checkpoint/format.ts';
export { type OpenedCheckpoint, openCheckpoint } from './checkpoint/open.ts';
export { parseCheckpoint } from './checkpoint/parse.ts';
export { emptyRootHash, leafHash, nodeHash } from './hash/rfc9162.ts';
export * from './limits.ts';
export { isValidKeyName } from './note/key-name.ts';
export {
  formatVerifierKey,
  generateNoteKey,
  type NoteSigner,
  type NoteVerifier,
  parseSignerKey,
  parseVerifierKey,
} from './note/note-key.ts';
export { type OpenedNote, openNote } from './note/open.ts';
export { signNote } from './note/sign.ts';
export type { NoteSignature } from './note/signature-line.ts';
export { consistencyProof } from './proof/consistency/generate.ts';
export { verifyConsistency } from './proof/consistency/verify.ts';
export { inclusionProof } from './proof/inclusion/generate.ts';
export { verifyInclusion } from './proof/inclusion/verify.ts';
export {
  assembleProof,
  consistencyProofNodes,
  inclusionProofNodes,
  type ProofNodes,
} from './proof/proof-nodes.ts';
export { CompactRange, type NodeVisitor } from './tree/compact-range.ts';
export { MemoryTree } from './tree/memory-tree.ts';
export { type NodeId, perfectSubtrees } from './tree/node-id.ts';
export { rootHash, treeRootHash } from './tree/root-hash.ts';
export type { TreeReader } from './tree/tree-reader.ts';
export type { TreeSize } from './tree-size.ts';
