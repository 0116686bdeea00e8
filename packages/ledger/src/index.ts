export {
  type Account,
  type AccountBalances,
  type AccountFlags,
  type AccountInput,
  type AccountKind,
  accountAvailable,
  accountBalance,
  accountKinds,
  compareAccount,
  flagsForKind,
  openAccount,
  zeroBalances,
} from './account/account.ts';
export { isLedgerId, parseLedgerId } from './identifiers.ts';
export {
  checkInvariants,
  type InvariantReport,
  type InvariantRule,
  type InvariantViolation,
  type LedgerTotals,
} from './invariants/check.ts';
export { balancesFromTransfers } from './invariants/recompute.ts';
export {
  balanceMax,
  createLedgerLimits,
  defaultLedgerLimits,
  type LedgerLimits,
  referenceLengthCeiling,
  timeoutSecondsCeiling,
} from './limits.ts';
export {
  applyLinkedTransfers,
  isTransferRefusal,
  refuseLinkedChain,
  type TransferResult,
} from './linked/linked.ts';
export {
  createLedgerOverlay,
  type LedgerOverlay,
  type LedgerRecords,
  ledgerViewOf,
} from './linked/overlay.ts';
export {
  emptyLedgerModel,
  type LedgerModel,
  type ModelTransferOutcome,
  modelCreateLinkedTransfers,
  modelCreateTransfer,
  modelExpirePendingTransfers,
  modelOpenAccount,
} from './model/ledger-model.ts';
export { type AppliedTransfer, applyTransfer } from './transfer/apply.ts';
export { compareTransfer } from './transfer/compare.ts';
export { decideTransfer, type LedgerView, type TransferDecision } from './transfer/decide.ts';
export {
  assertPendingTransition,
  expirePendingTransfer,
  expiryReference,
  type PendingState,
  pendingExpiresAt,
  pendingStateOf,
  pendingStates,
  pendingTransitions,
  resolvePendingTransfer,
} from './transfer/pending.ts';
export {
  isResolveRequest,
  type NewTransferRequest,
  type PendingTransferRequest,
  type PostedTransferRequest,
  type PostPendingTransferRequest,
  type ResolveTransferRequest,
  recordTransfer,
  type Transfer,
  type TransferInput,
  type TransferKind,
  type TransferRequest,
  transferKinds,
  type VoidPendingTransferRequest,
} from './transfer/transfer.ts';
export { parseTransferAmount, validateTransfer } from './transfer/validate.ts';
