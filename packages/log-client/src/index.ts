/**
 * The log's client side, for submitters (the gateway after a payment), for
 * the log itself (asking witnesses to cosign) and for anyone who wants a
 * proof. A submitter's flow:
 *
 *   const logged = await submitMessages(log, submitter, { transactionId, messages, kind, metadata });
 *   const receipt = await buildReceipt(log.url, { ...entry, index: logged.index, submitter: submitter.id }, policy);
 *
 * where `policy` names the log's key and the witnesses' keys and how many
 * must have cosigned. Every request is bounded in time and answer size.
 */
export { CheckpointFollower, checkpointFollowerOf } from './client/checkpoints.ts';
export { fetchLoggedEntry, type LoggedEntry } from './client/entries.ts';
export { type ClientLimits, clientDefaults } from './client/http.ts';
export {
  buildReceipt,
  buildReceipts,
  type Inclusion,
  type ReceiptEntry,
  type ReceiptOutcome,
  type WaitOptions,
  waitDefaults,
  waitForInclusion,
} from './client/inclusion.ts';
export {
  type FetchCheckpointOptions,
  type FetchedCheckpoint,
  fetchCheckpoint,
  fetchConsistencyProof,
  fetchInclusionProof,
  fetchInclusionProofs,
  inclusionBatchIndicesMax,
} from './client/proofs.ts';
export {
  type EntryToSubmit,
  entryBatchLimits,
  type LogEndpoint,
  type LoggedMessages,
  type MessagesToLog,
  type SubmittedEntry,
  type SubmitterCredentials,
  submitEntry,
  submitEntryBatch,
  submitMessageBatch,
  submitMessages,
} from './client/submit.ts';
export {
  type CosignatureAnswer,
  type CosignatureRequest,
  requestCosignature,
} from './client/witness.ts';
export {
  type AddCheckpointRequest,
  formatAddCheckpoint,
  parseAddCheckpoint,
  treeSizeContentType,
} from './witness-protocol.ts';
