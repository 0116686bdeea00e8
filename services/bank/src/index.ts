export type { BankingOptions, BankTransactionLogLink, SmsSender } from './banking/context.ts';
export type { Correction, CorrectionKind, CorrectionRequest } from './corrections/correction.ts';
export type { RequestToVerify, VerifyRequest } from './http/authenticate.ts';
export { type BankClient, bankRequestVerifier } from './http/signed-clients.ts';
export { interbankCreditId } from './interbank/ids.ts';
export type { InterbankOptions, InterbankPeer } from './interbank/peers.ts';
export {
  type PairReconciliation,
  type PublishedPosition,
  reconcilePositions,
} from './interbank/reconcile.ts';
export type { KeyBindingStatus, KeyBindingView } from './key-depository/bindings.ts';
export type { Enrolment, EnrolmentRequest } from './key-depository/enrol.ts';
export { type BankLimits, createBankLimits } from './limits.ts';
export { bankMigrationsFolder, migrateBank } from './migrations.ts';
export { type BankService, type BankServiceOptions, createBankService } from './service.ts';
export type { AuditReport, BalanceMismatch } from './store/audit.ts';
export type { BankLedger, TransferView } from './store/bank-ledger.ts';
export { type BankLedgerOptions, createBankLedger } from './store/bank-ledger.ts';
export { closeAccount } from './store/close.ts';
export { type CorrectionOutcome, createCorrection } from './store/corrections.ts';
export { checkDebitLimits, createTransferWithinLimits, debitsOfDay } from './store/debit-limits.ts';
export { type AccountLimits, selectAccountLimits, setAccountLimits } from './store/limits.ts';
export { readStatement, type StatementEntry, type StatementPage } from './store/statement.ts';
