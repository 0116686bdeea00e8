import { openAccount } from '@mpay/ledger';
import type { Sql } from '@mpay/storage';
import { insertAccount } from '../store/accounts.ts';
import { derivedId, settlementAccountId } from './ids.ts';

/**
 * Creates, if missing, the account that carries what this bank and `peer`
 * owe each other in `ledger` (kind settlement, owned by the peer, no balance
 * limit: its credit balance is what this bank owes the peer, its debit balance
 * what the peer owes). Its id is derived, so creating it twice is idempotent.
 */
export async function ensureSettlementAccount(
  sql: Sql,
  bank: string,
  peer: string,
  ledger: string,
  now: Date,
) {
  const id = settlementAccountId(bank, peer, ledger);
  await insertAccount(sql, openAccount({ id, ledger, owner: peer, kind: 'settlement' }), now);
  return id;
}

/** This bank's reserve in `ledger` (its money at the central bank): where settlement runs book to. */
export async function ensureReserveAccount(sql: Sql, bank: string, ledger: string, now: Date) {
  const id = derivedId('reserve-account', bank, ledger);
  await insertAccount(sql, openAccount({ id, ledger, owner: bank, kind: 'funding' }), now);
  return id;
}
