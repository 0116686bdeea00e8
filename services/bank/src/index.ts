export type { RequestToVerify, VerifyRequest } from './http/authenticate.ts';
export { type BankLimits, createBankLimits } from './limits.ts';
export { bankMigrationsFolder, migrateBank } from './migrations.ts';
export { type BankService, type BankServiceOptions, createBankService } from './service.ts';
export type { AuditReport, BalanceMismatch } from './store/audit.ts';
export type { BankLedger, TransferView } from './store/bank-ledger.ts';
