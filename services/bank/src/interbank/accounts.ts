import { openAccount } from '@mpay/ledger';
import type { Sql } from '@mpay/storage';
import { derivedId, settlementAccountId } from './ids.ts';

/**
 * Creates, if missing, the account that carries what this bank and `peer`
 * owe each other in `ledger` (kind settlement, owned by the peer, no balance
 * limit: its credit balance is what this bank owes the peer, its debit balance
 * what the peer owes). Safe under concurrency: ON CONFLICT DO NOTHING.
 */
export async function ensureSettlementAccount(
  sql: Sql,
  bank: string,
  peer: string,
  ledger: string,
  now: Date,
) {
  const id = settlementAccountId(bank, peer, ledger);
  await insertIfMissing(sql, openAccount({ id, ledger, owner: peer, kind: 'settlement' }), now);
  return id;
}

/** This bank's reserve in `ledger` (its money at the central bank): where settlement runs book to. */
export async function ensureReserveAccount(sql: Sql, bank: string, ledger: string, now: Date) {
  const id = derivedId('reserve-account', bank, ledger);
  await insertIfMissing(sql, openAccount({ id, ledger, owner: bank, kind: 'funding' }), now);
  return id;
}

async function insertIfMissing(sql: Sql, account: ReturnType<typeof openAccount>, now: Date): Promise<void> {
  await sql.query(
    `INSERT INTO accounts (id, ledger, owner, kind, debits_must_not_exceed_credits,
       credits_must_not_exceed_debits, closed, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, false, $7) ON CONFLICT (id) DO NOTHING`,
    [
      account.id,
      account.ledger,
      account.owner,
      account.kind,
      account.flags.debitsMustNotExceedCredits,
      account.flags.creditsMustNotExceedDebits,
      now.toISOString(),
    ],
  );
}
