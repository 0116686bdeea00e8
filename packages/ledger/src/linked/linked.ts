import { assert, isMpayError, MpayError } from '@mpay/protocol';
import { decideTransfer } from '../transfer/decide.ts';
import type { Transfer, TransferRequest } from '../transfer/transfer.ts';
import type { LedgerOverlay } from './overlay.ts';

/** One request's answer in a batch: the transfer (created, or replayed by id), or the refusal. */
export type TransferResult =
  | { readonly transfer: Transfer; readonly created: boolean }
  | { readonly error: MpayError };

export function isTransferRefusal(result: TransferResult): result is { readonly error: MpayError } {
  return 'error' in result;
}

/** The answers of a chain refused at member `failed`: its error, every other member LINKED_EVENT_FAILED. */
export function refuseLinkedChain(
  ids: readonly string[],
  failed: number,
  error: MpayError,
): TransferResult[] {
  return ids.map((_, index) =>
    index === failed ? { error } : { error: new MpayError('LINKED_EVENT_FAILED', ids[failed]) },
  );
}

/**
 * TigerBeetle's linked transfers: `requests` are decided in order, each
 * seeing the ones before it (a chain may hold a pending transfer and its
 * post), and either every one is written to `ledger` or none is. A member
 * that repeats an existing transfer with the same fields counts as done. The
 * first member refused answers its own error, every other member
 * LINKED_EVENT_FAILED naming it, and `ledger` is left as it was. A chain of
 * one is a plain transfer. Errors other than MpayError (assertions) propagate.
 */
export function applyLinkedTransfers(
  ledger: LedgerOverlay,
  requests: readonly TransferRequest[],
  now: Date,
): TransferResult[] {
  assert(requests.length > 0, 'a chain has a member');
  const chain = requests.length === 1 ? undefined : ledger.fork();
  const results: TransferResult[] = [];
  for (const [index, request] of requests.entries()) {
    try {
      const decision = decideTransfer(chain ?? ledger, request, now);
      if (decision.created) (chain ?? ledger).write(decision);
      results.push({ transfer: decision.transfer, created: decision.created });
    } catch (error) {
      if (!isMpayError(error)) throw error;
      return refuseLinkedChain(
        requests.map((member) => member.id),
        index,
        error,
      );
    }
  }
  chain?.commit();
  return results;
}
