import { MpayError } from '@mpay/protocol';
import { type Account, compareAccount } from '../account/account.ts';
import { applyTransfer } from '../transfer/apply.ts';
import { compareTransfer } from '../transfer/compare.ts';
import { expirePendingTransfer, pendingStateOf, resolvePendingTransfer } from '../transfer/pending.ts';
import {
  isResolveRequest,
  recordTransfer,
  type Transfer,
  type TransferRequest,
} from '../transfer/transfer.ts';

/**
 * The whole ledger as an immutable value: the reference implementation of
 * the rules in this package. Property tests run on it, and a storage
 * implementation is correct when it gives the same outcomes for the same
 * operations (the bank service's differential test).
 */
export interface LedgerModel {
  readonly accounts: ReadonlyMap<string, Account>;
  readonly transfers: ReadonlyMap<string, Transfer>;
  /** pending transfer id → the post_pending or void_pending that resolved it. */
  readonly resolutions: ReadonlyMap<string, Transfer>;
}

export interface ModelTransferOutcome {
  readonly model: LedgerModel;
  readonly transfer: Transfer;
  /** false when the request repeated an existing transfer (idempotent replay). */
  readonly created: boolean;
}

export const emptyLedgerModel: LedgerModel = Object.freeze({
  accounts: new Map(),
  transfers: new Map(),
  resolutions: new Map(),
});

function withEntry<Value>(
  map: ReadonlyMap<string, Value>,
  key: string,
  value: Value,
): ReadonlyMap<string, Value> {
  return new Map(map).set(key, value);
}

/** Adds an account opened by `openAccount`; the same account again changes nothing. */
export function modelOpenAccount(model: LedgerModel, account: Account): LedgerModel {
  const existing = model.accounts.get(account.id);
  if (existing !== undefined) {
    compareAccount(existing, account);
    return model;
  }
  return { ...model, accounts: withEntry(model.accounts, account.id, account) };
}

function commit(model: LedgerModel, transfer: Transfer, pending: Transfer | undefined): LedgerModel {
  const debit = model.accounts.get(transfer.debitAccountId);
  const credit = model.accounts.get(transfer.creditAccountId);
  if (debit === undefined || credit === undefined) throw new MpayError('ACCOUNT_UNKNOWN');
  const applied = applyTransfer(debit, credit, transfer, pending);
  const accounts = new Map(model.accounts).set(debit.id, applied.debit).set(credit.id, applied.credit);
  const resolutions =
    transfer.pendingId === undefined
      ? model.resolutions
      : withEntry(model.resolutions, transfer.pendingId, transfer);
  return { accounts, transfers: withEntry(model.transfers, transfer.id, transfer), resolutions };
}

/** Creates a validated transfer at `now`, or returns the existing one with this id, or throws. */
export function modelCreateTransfer(
  model: LedgerModel,
  request: TransferRequest,
  now: Date,
): ModelTransferOutcome {
  const existing = model.transfers.get(request.id);
  if (existing !== undefined) {
    compareTransfer(existing, request);
    return { model, transfer: existing, created: false };
  }
  if (!isResolveRequest(request)) {
    const transfer = recordTransfer(request, now);
    return { model: commit(model, transfer, undefined), transfer, created: true };
  }
  const pending = model.transfers.get(request.pendingId);
  if (pending === undefined) throw new MpayError('TRANSFER_UNKNOWN', 'pendingId');
  const transfer = resolvePendingTransfer(request, pending, model.resolutions.get(pending.id), now);
  return { model: commit(model, transfer, pending), transfer, created: true };
}

/** Voids every hold whose timeout has passed unresolved, at most `batchSizeMax`, with ids from `nextId`. */
export function modelExpirePendingTransfers(
  model: LedgerModel,
  now: Date,
  nextId: () => string,
  batchSizeMax: number,
): { readonly model: LedgerModel; readonly expired: readonly Transfer[] } {
  let next = model;
  const expired: Transfer[] = [];
  for (const pending of model.transfers.values()) {
    if (expired.length >= batchSizeMax) break;
    if (pending.kind !== 'pending' || model.resolutions.has(pending.id)) continue;
    if (pendingStateOf(pending, undefined, now) !== 'expired') continue;
    const transfer = expirePendingTransfer(pending, undefined, nextId(), now);
    next = commit(next, transfer, pending);
    expired.push(transfer);
  }
  return { model: next, expired };
}
