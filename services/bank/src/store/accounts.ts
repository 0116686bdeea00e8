import { type Account, compareAccount } from '@mpay/ledger';
import { assert, MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { type AccountRow, accountColumns, accountFromRow } from './rows.ts';

export interface AccountOutcome {
  readonly account: Account;
  /** false when the same account already existed (an idempotent retry). */
  readonly created: boolean;
}

/** Stores a new account; the same id with the same fields returns the existing one, else ACCOUNT_EXISTS. */
export async function insertAccount(database: Sql, account: Account, now: Date): Promise<AccountOutcome> {
  assert(account.debitsPosted === 0n && account.creditsPosted === 0n, 'a new account has zero balances');
  const inserted = await database.query(
    `INSERT INTO accounts (id, ledger, owner, kind, debits_must_not_exceed_credits,
       credits_must_not_exceed_debits, closed, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
    [
      account.id,
      account.ledger,
      account.owner,
      account.kind,
      account.flags.debitsMustNotExceedCredits,
      account.flags.creditsMustNotExceedDebits,
      account.closed,
      now.toISOString(),
    ],
  );
  if (inserted.rowCount === 1) return { account, created: true };
  const existing = await selectAccount(database, account.id);
  assert(existing !== undefined, 'a conflicting account exists');
  compareAccount(existing, account);
  return { account: existing, created: false };
}

export async function selectAccount(sql: Sql, id: string): Promise<Account | undefined> {
  const { rows } = await sql.query<AccountRow>(`SELECT ${accountColumns} FROM accounts WHERE id = $1`, [id]);
  return rows[0] === undefined ? undefined : accountFromRow(rows[0]);
}

export async function selectAccounts(sql: Sql, ids: readonly string[]): Promise<Account[]> {
  const { rows } = await sql.query<AccountRow>(
    `SELECT ${accountColumns} FROM accounts WHERE id = ANY($1::uuid[]) ORDER BY id`,
    [ids],
  );
  const byId = new Map(rows.map((row) => [row.id, accountFromRow(row)]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** A transfer's two accounts as `lockAccounts` read them, locked until the transaction ends. */
export interface LockedAccounts {
  readonly debit: Account;
  readonly credit: Account;
}

/**
 * Locks the two accounts of a transfer for the rest of the transaction, always
 * in id order so that two transfers between the same accounts in opposite
 * directions cannot deadlock. In READ COMMITTED a waiting FOR UPDATE returns
 * the row as the other transaction committed it, so the balances are current.
 */
export async function lockAccounts(
  sql: Sql,
  debitAccountId: string,
  creditAccountId: string,
): Promise<LockedAccounts> {
  const { rows } = await sql.query<AccountRow>(
    `SELECT ${accountColumns} FROM accounts WHERE id IN ($1, $2) ORDER BY id FOR UPDATE`,
    [debitAccountId, creditAccountId],
  );
  const accounts = rows.map(accountFromRow);
  const debit = accounts.find((account) => account.id === debitAccountId);
  const credit = accounts.find((account) => account.id === creditAccountId);
  if (debit === undefined) throw new MpayError('ACCOUNT_UNKNOWN', 'debitAccountId');
  if (credit === undefined) throw new MpayError('ACCOUNT_UNKNOWN', 'creditAccountId');
  return { debit, credit };
}
