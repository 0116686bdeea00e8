import { openAccount } from '@mpay/ledger';
import type { Sql } from '@mpay/storage';
import { insertAccount } from '../store/accounts.ts';
import { derivedId, settlementAccountId } from './ids.ts';
import type { Interbank } from './peers.ts';

/**
 * Creates, if missing, the account that carries what this bank and `peer`
 * owe each other in `ledger` (kind settlement, owned by the peer, no balance
 * limit: its credit balance is what this bank owes the peer, its debit balance
 * what the peer owes). Its id is derived, so creating it twice is idempotent.
 *
 * Every interbank payment meets the same few accounts: once one was found
 * already stored (committed, then, by whoever made it), `seen` remembers it and
 * the insert is not sent again. Accounts are never deleted; one closed since
 * is refused by the ledger's rules when a transfer reaches it, as before.
 */
export async function ensureSettlementAccount(
  sql: Sql,
  interbank: Pick<Interbank, 'self' | 'settlementAccountsSeen'>,
  peer: string,
  ledger: string,
  now: Date,
) {
  const id = settlementAccountId(interbank.self, peer, ledger);
  if (interbank.settlementAccountsSeen.has(id)) return id;
  const outcome = await insertAccount(sql, openAccount({ id, ledger, owner: peer, kind: 'settlement' }), now);
  // Created by this transaction: kept in mind only once another one finds it (this one may still roll back).
  if (!outcome.created) interbank.settlementAccountsSeen.add(id);
  return id;
}

/** This bank's reserve in `ledger` (its money at the central bank): where settlement runs book to. */
export async function ensureReserveAccount(sql: Sql, bank: string, ledger: string, now: Date) {
  const id = derivedId('reserve-account', bank, ledger);
  await insertAccount(sql, openAccount({ id, ledger, owner: bank, kind: 'funding' }), now);
  return id;
}
