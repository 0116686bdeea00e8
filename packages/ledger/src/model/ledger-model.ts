import { assert } from '@mpay/protocol';
import { type Account, compareAccount } from '../account/account.ts';
import { applyLinkedTransfers, type TransferResult } from '../linked/linked.ts';
import { createLedgerOverlay, ledgerViewOf } from '../linked/overlay.ts';
import { applyTransfer } from '../transfer/apply.ts';
import { decideTransfer, type TransferDecision } from '../transfer/decide.ts';
import { expirePendingTransfer, pendingStateOf } from '../transfer/pending.ts';
import type { Transfer, TransferRequest } from '../transfer/transfer.ts';

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

function withDecision(model: LedgerModel, decision: TransferDecision & { created: true }): LedgerModel {
  const { transfer, debit, credit } = decision;
  const accounts = new Map(model.accounts).set(debit.id, debit).set(credit.id, credit);
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
  const decision = decideTransfer(ledgerViewOf(model), request, now);
  if (!decision.created) return { model, transfer: decision.transfer, created: false };
  return { model: withDecision(model, decision), transfer: decision.transfer, created: true };
}

/** A linked chain at `now`: every request commits or none does (see applyLinkedTransfers). */
export function modelCreateLinkedTransfers(
  model: LedgerModel,
  requests: readonly TransferRequest[],
  now: Date,
): { readonly model: LedgerModel; readonly results: readonly TransferResult[] } {
  const overlay = createLedgerOverlay(ledgerViewOf(model));
  const results = applyLinkedTransfers(overlay, requests, now);
  const changes = overlay.changes();
  if (changes.transfers.length === 0) return { model, results };
  const accounts = new Map(model.accounts);
  for (const account of changes.accounts) accounts.set(account.id, account);
  const transfers = new Map(model.transfers);
  const resolutions = new Map(model.resolutions);
  for (const transfer of changes.transfers) {
    transfers.set(transfer.id, transfer);
    if (transfer.pendingId !== undefined) resolutions.set(transfer.pendingId, transfer);
  }
  return { model: { accounts, transfers, resolutions }, results };
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
    const debit = next.accounts.get(transfer.debitAccountId);
    const credit = next.accounts.get(transfer.creditAccountId);
    assert(debit !== undefined && credit !== undefined, 'a pending transfer names known accounts');
    next = withDecision(next, {
      created: true,
      transfer,
      ...applyTransfer(debit, credit, transfer, pending),
    });
    expired.push(transfer);
  }
  return { model: next, expired };
}
