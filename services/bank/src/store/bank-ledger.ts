import { randomUUID } from 'node:crypto';
import {
  type Account,
  type AccountInput,
  openAccount,
  type PendingState,
  pendingStateOf,
  type Transfer,
  type TransferRequest,
} from '@mpay/ledger';
import { MpayError } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import type { BankLimits } from '../limits.ts';
import { checkAccountOwner } from '../owner.ts';
import { type AccountOutcome, insertAccount, selectAccount, selectAccounts } from './accounts.ts';
import { type AuditReport, auditLedger } from './audit.ts';
import { createTransfer, expirePendingTransfers, type TransferOutcome } from './create-transfer.ts';
import { selectResolution, selectTransfer } from './transfers.ts';

export interface TransferView {
  readonly transfer: Transfer;
  /** For a pending transfer: its state now (pending, posted, voided or expired). */
  readonly pendingState?: PendingState | undefined;
}

/** The bank's ledger over its database: what the HTTP routes, the expiry sweep and in-process callers use. */
export interface BankLedger {
  openAccount(input: AccountInput, now: Date): Promise<AccountOutcome>;
  getAccount(id: string): Promise<Account>;
  getAccounts(ids: readonly string[]): Promise<Account[]>;
  createTransfer(request: TransferRequest, now: Date): Promise<TransferOutcome>;
  getTransfer(id: string, now: Date): Promise<TransferView>;
  describeTransfer(transfer: Transfer, now: Date): Promise<TransferView>;
  /** Voids holds whose timeout has passed (at most `expiryBatchSizeMax` per call). */
  expirePendingTransfers(now: Date): Promise<Transfer[]>;
  audit(): Promise<AuditReport>;
}

export interface BankLedgerOptions {
  readonly bankName: string;
  readonly limits: BankLimits;
  /** Ids of the voids the expiry sweep writes (default: random UUIDs). */
  readonly nextId?: (() => string) | undefined;
}

export function createBankLedger(database: Database, options: BankLedgerOptions): BankLedger {
  const nextId = options.nextId ?? randomUUID;
  const describeTransfer = async (transfer: Transfer, now: Date): Promise<TransferView> => {
    if (transfer.kind !== 'pending') return { transfer };
    return {
      transfer,
      pendingState: pendingStateOf(transfer, await selectResolution(database, transfer.id), now),
    };
  };
  return {
    openAccount: (input, now) => {
      const account = openAccount(input);
      checkAccountOwner(account, options.bankName);
      return insertAccount(database, account, now);
    },
    getAccount: async (id) =>
      (await selectAccount(database, id)) ?? Promise.reject(new MpayError('ACCOUNT_UNKNOWN')),
    getAccounts: (ids) => selectAccounts(database, ids),
    createTransfer: (request, now) => createTransfer(database, request, now),
    getTransfer: async (id, now) => {
      const transfer = await selectTransfer(database, id);
      if (transfer === undefined) throw new MpayError('TRANSFER_UNKNOWN');
      return describeTransfer(transfer, now);
    },
    describeTransfer,
    expirePendingTransfers: (now) =>
      expirePendingTransfers(database, now, options.limits.expiryBatchSizeMax, nextId),
    audit: () => auditLedger(database, options.limits.auditAccountsMax),
  };
}
