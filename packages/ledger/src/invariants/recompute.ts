import { assert } from '@mpay/protocol';
import { type AccountBalances, zeroBalances } from '../account/account.ts';
import type { Transfer } from '../transfer/transfer.ts';

type MutableBalances = { -readonly [field in keyof AccountBalances]: AccountBalances[field] };

function balancesOf(balances: Map<string, MutableBalances>, accountId: string): MutableBalances {
  let found = balances.get(accountId);
  if (found === undefined) {
    found = { ...zeroBalances };
    balances.set(accountId, found);
  }
  return found;
}

/**
 * Every account's balances replayed from the transfer log alone: the second,
 * independent computation that an audit compares with the stored balances.
 */
export function balancesFromTransfers(transfers: Iterable<Transfer>): Map<string, AccountBalances> {
  const all = [...transfers];
  const byId = new Map(all.map((transfer) => [transfer.id, transfer]));
  const balances = new Map<string, MutableBalances>();
  for (const transfer of all) {
    const debit = balancesOf(balances, transfer.debitAccountId);
    const credit = balancesOf(balances, transfer.creditAccountId);
    const pending = transfer.pendingId === undefined ? undefined : byId.get(transfer.pendingId);
    assert(
      transfer.pendingId === undefined || pending !== undefined,
      'a resolution follows its pending transfer',
    );
    const held = transfer.kind === 'pending' ? transfer.amount : 0n;
    const released = pending?.amount ?? 0n;
    const posted = transfer.kind === 'posted' || transfer.kind === 'post_pending' ? transfer.amount : 0n;
    debit.debitsPending += held - released;
    debit.debitsPosted += posted;
    credit.creditsPending += held - released;
    credit.creditsPosted += posted;
  }
  return balances;
}
