import { MpayError } from '@mpay/protocol';
import type { Account } from '../account/account.ts';
import { applyTransfer } from './apply.ts';
import { compareTransfer } from './compare.ts';
import { resolvePendingTransfer } from './pending.ts';
import { isResolveRequest, recordTransfer, type Transfer, type TransferRequest } from './transfer.ts';

/** The records one transfer request reads: a transfer by id, a pending transfer's resolution, accounts. */
export interface LedgerView {
  account(id: string): Account | undefined;
  transfer(id: string): Transfer | undefined;
  /** The post_pending or void_pending that resolved `pendingId`, if any. */
  resolution(pendingId: string): Transfer | undefined;
}

/** What a request does: replays an existing transfer, or creates one and moves both accounts. */
export type TransferDecision =
  | { readonly created: false; readonly transfer: Transfer }
  | {
      readonly created: true;
      readonly transfer: Transfer;
      readonly debit: Account;
      readonly credit: Account;
    };

function commit(view: LedgerView, transfer: Transfer, pending: Transfer | undefined): TransferDecision {
  const debit = view.account(transfer.debitAccountId);
  if (debit === undefined) throw new MpayError('ACCOUNT_UNKNOWN', 'debitAccountId');
  const credit = view.account(transfer.creditAccountId);
  if (credit === undefined) throw new MpayError('ACCOUNT_UNKNOWN', 'creditAccountId');
  const applied = applyTransfer(debit, credit, transfer, pending);
  return { created: true, transfer, debit: applied.debit, credit: applied.credit };
}

/**
 * The one place a request meets the ledger's state, for the model and for
 * every store: an existing id is an idempotent replay (same fields) or
 * TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS; a post or void needs its pending
 * transfer; then the balance rules of `applyTransfer`. Pure: `view` is only
 * read, the caller writes the decision.
 */
export function decideTransfer(view: LedgerView, request: TransferRequest, now: Date): TransferDecision {
  const existing = view.transfer(request.id);
  if (existing !== undefined) {
    compareTransfer(existing, request);
    return { created: false, transfer: existing };
  }
  if (!isResolveRequest(request)) return commit(view, recordTransfer(request, now), undefined);
  const pending = view.transfer(request.pendingId);
  if (pending === undefined) throw new MpayError('TRANSFER_UNKNOWN', 'pendingId');
  const transfer = resolvePendingTransfer(request, pending, view.resolution(pending.id), now);
  return commit(view, transfer, pending);
}
