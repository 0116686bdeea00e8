import { assert } from '@mpay/protocol';
import type { Account } from '../account/account.ts';
import type { LedgerView, TransferDecision } from '../transfer/decide.ts';
import type { Transfer } from '../transfer/transfer.ts';

/** Records by id, as the model keeps them and as a store loads them for a batch. */
export interface LedgerRecords {
  readonly accounts: ReadonlyMap<string, Account>;
  readonly transfers: ReadonlyMap<string, Transfer>;
  /** pending transfer id → the post_pending or void_pending that resolved it. */
  readonly resolutions: ReadonlyMap<string, Transfer>;
}

export function ledgerViewOf(records: LedgerRecords): LedgerView {
  return {
    account: (id) => records.accounts.get(id),
    transfer: (id) => records.transfers.get(id),
    resolution: (pendingId) => records.resolutions.get(pendingId),
  };
}

/**
 * A mutable working copy over a read-only view: what a batch or a linked
 * chain has decided so far, without touching the base. Writes stay here until
 * the owner copies them out (`changes`) or, for a fork, commits them to the parent.
 */
export interface LedgerOverlay extends LedgerView {
  write(decision: TransferDecision & { readonly created: true }): void;
  /** The created transfers in order, and the last value of every account they moved. */
  changes(): { readonly transfers: readonly Transfer[]; readonly accounts: readonly Account[] };
  /** A child overlay: its writes reach this one on `commit`, or never if it is dropped. */
  fork(): LedgerOverlay & { commit(): void };
}

type CreatedDecision = TransferDecision & { readonly created: true };

function overlayWithLog(base: LedgerView): { overlay: LedgerOverlay; log: readonly CreatedDecision[] } {
  const accounts = new Map<string, Account>();
  const transfers = new Map<string, Transfer>();
  const resolutions = new Map<string, Transfer>();
  const log: CreatedDecision[] = [];
  const overlay: LedgerOverlay = {
    account: (id) => accounts.get(id) ?? base.account(id),
    transfer: (id) => transfers.get(id) ?? base.transfer(id),
    resolution: (pendingId) => resolutions.get(pendingId) ?? base.resolution(pendingId),
    write: (decision) => {
      const { transfer, debit, credit } = decision;
      transfers.set(transfer.id, transfer);
      if (transfer.pendingId !== undefined) resolutions.set(transfer.pendingId, transfer);
      accounts.set(debit.id, debit).set(credit.id, credit);
      log.push(decision);
    },
    changes: () => ({ transfers: [...transfers.values()], accounts: [...accounts.values()] }),
    fork: () => {
      const child = overlayWithLog(overlay);
      let committed = false;
      const commit = () => {
        assert(!committed, 'a fork commits once');
        committed = true;
        for (const decision of child.log) overlay.write(decision);
      };
      return { ...child.overlay, commit };
    },
  };
  return { overlay, log };
}

export function createLedgerOverlay(base: LedgerView): LedgerOverlay {
  return overlayWithLog(base).overlay;
}
