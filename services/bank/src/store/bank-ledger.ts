import { randomUUID } from 'node:crypto';
import {
  type Account,
  type AccountInput,
  openAccount,
  type PendingState,
  pendingStateOf,
  type Transfer,
  type TransferRequest,
  type TransferResult,
} from '@mpay/ledger';
import { isMpayError, MpayError } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import type { BankLimits } from '../limits.ts';
import { checkAccountOwner } from '../owner.ts';
import { type AccountOutcome, insertAccount, selectAccount, selectAccounts } from './accounts.ts';
import { type AuditReport, auditLedger } from './audit.ts';
import { commitEntryAlone } from './batch-transfers.ts';
import {
  type BatcherStatistics,
  type BatchObservation,
  createTransferBatcher,
  type TransferBatcher,
  type TransferBatcherOptions,
} from './batcher.ts';
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
  /** One transfer, batched with concurrent ones; throws the rule's MpayError when refused. */
  createTransfer(request: TransferRequest, now: Date): Promise<TransferOutcome>;
  /**
   * Several transfers, one result each (a refusal is a result, not a throw):
   * each alone, or with `linked` as one chain that is created whole or not
   * at all. A chain longer than a batch is refused whole (LIMIT_EXCEEDED).
   */
  createTransfers(
    requests: readonly TransferRequest[],
    options: { readonly linked: boolean },
    now: Date,
  ): Promise<TransferResult[]>;
  getTransfer(id: string, now: Date): Promise<TransferView>;
  describeTransfer(transfer: Transfer, now: Date): Promise<TransferView>;
  /** Voids holds whose timeout has passed (at most `expiryBatchSizeMax` per call). */
  expirePendingTransfers(now: Date): Promise<Transfer[]>;
  audit(): Promise<AuditReport>;
  /** What the transfer batcher did so far; undefined when batching is off. */
  batchStatistics(): BatcherStatistics | undefined;
}

export interface BankLedgerOptions {
  readonly bankName: string;
  readonly limits: BankLimits;
  /** Ids of the voids the expiry sweep writes (default: random UUIDs). */
  readonly nextId?: (() => string) | undefined;
  /**
   * Concurrent transfers share database transactions (store/batcher.ts) unless
   * false: then each is its own transaction (the textbook path, for comparison).
   */
  readonly batching?: Partial<TransferBatcherOptions> | false | undefined;
  /** Told of every batch transaction (metrics: batch sizes, commit latency, outcomes). */
  readonly observeBatch?: ((batch: BatchObservation) => void) | undefined;
}

/** The transfer paths of a ledger: batched, or one transaction per transfer. */
function transferPaths(database: Database, batcher: TransferBatcher | undefined) {
  const submit = (request: TransferRequest, now: Date): Promise<TransferOutcome> =>
    batcher === undefined ? createTransfer(database, request, now) : batcher.submit(request, now);
  const alone = (request: TransferRequest, now: Date): Promise<TransferResult> =>
    submit(request, now).catch((error: unknown) => {
      if (isMpayError(error)) return { error };
      throw error;
    });
  const createTransfers = (
    requests: readonly TransferRequest[],
    options: { readonly linked: boolean },
    now: Date,
  ): Promise<TransferResult[]> => {
    if (requests.length === 0) return Promise.resolve([]);
    if (!options.linked) return Promise.all(requests.map((request) => alone(request, now)));
    const chain =
      batcher === undefined
        ? commitEntryAlone(database, { requests, now })
        : batcher.submitLinked(requests, now);
    // A chain the batcher cannot take (longer than a batch, queue full) is refused whole.
    return chain.catch((error: unknown) => {
      if (!isMpayError(error)) throw error;
      return requests.map(() => ({ error }));
    });
  };
  return { createTransfer: submit, createTransfers };
}

export function createBankLedger(database: Database, options: BankLedgerOptions): BankLedger {
  const nextId = options.nextId ?? randomUUID;
  const batcher =
    options.batching === false
      ? undefined
      : createTransferBatcher(database, options.batching ?? {}, options.observeBatch);
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
    ...transferPaths(database, batcher),
    getTransfer: async (id, now) => {
      const transfer = await selectTransfer(database, id);
      if (transfer === undefined) throw new MpayError('TRANSFER_UNKNOWN');
      return describeTransfer(transfer, now);
    },
    describeTransfer,
    expirePendingTransfers: (now) =>
      expirePendingTransfers(database, now, options.limits.expiryBatchSizeMax, nextId),
    audit: () => auditLedger(database, options.limits.auditAccountsMax),
    batchStatistics: () => batcher?.statistics(),
  };
}
