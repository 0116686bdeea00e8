import { type Account, compareAccount } from '@mpay/ledger';
import { assert, MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { type AccountRow, accountColumns, accountFromRow } from './rows.ts';

export interface AccountOutcome {
  readonly account: Account;
  /** false when the same account already existed (an idempotent retry). */
  readonly created: boolean;
}

/**
 * Stores a new account; the same id with the same fields returns the existing
 * one, else ACCOUNT_EXISTS. One statement: the insert and, in the same
 * snapshot, the row it conflicted with (what a payment's settlement account
 * meets every time). A conflicting row committed after that snapshot (a
 * concurrent insert the conflict waited for) is read in a second statement.
 */
export async function insertAccount(database: Sql, account: Account, now: Date): Promise<AccountOutcome> {
  assert(account.debitsPosted === 0n && account.creditsPosted === 0n, 'a new account has zero balances');
  const { rows } = await database.query<{ inserted: number } & Nullable<AccountRow>>(
    `WITH inserted AS (
       INSERT INTO accounts (id, ledger, owner, kind, debits_must_not_exceed_credits,
         credits_must_not_exceed_debits, closed, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING id
     )
     SELECT (SELECT count(*) FROM inserted)::integer AS inserted, ${accountColumns}
     FROM (SELECT 1) AS one LEFT JOIN accounts ON accounts.id = $1`,
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
  const row = rows[0];
  assert(row !== undefined, 'the insert answers one row');
  if (row.inserted === 1) return { account, created: true };
  const existing = isPresent(row) ? accountFromRow(row) : await selectAccount(database, account.id);
  assert(existing !== undefined, 'a conflicting account exists');
  compareAccount(existing, account);
  return { account: existing, created: false };
}

type Nullable<Row> = { [Column in keyof Row]: Row[Column] | null };

/** The LEFT JOIN found the row: every column of an account is NOT NULL. */
function isPresent(row: Nullable<AccountRow>): row is AccountRow {
  return row.id !== null;
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
  const accounts = await lockAccountRows(sql, debitAccountId, creditAccountId);
  const debit = accounts.find((account) => account.id === debitAccountId);
  const credit = accounts.find((account) => account.id === creditAccountId);
  if (debit === undefined) throw new MpayError('ACCOUNT_UNKNOWN', 'debitAccountId');
  if (credit === undefined) throw new MpayError('ACCOUNT_UNKNOWN', 'creditAccountId');
  return { debit, credit };
}

/**
 * `lockAccounts` for a caller that lets the ledger's decision say which is
 * unknown (@mpay/ledger's decideTransfer: an existing transfer id first):
 * the accounts of the two that exist, locked in id order.
 */
export async function lockAccountRows(
  sql: Sql,
  debitAccountId: string,
  creditAccountId: string,
): Promise<Account[]> {
  const { rows } = await sql.query<AccountRow>(
    `SELECT ${accountColumns} FROM accounts WHERE id IN ($1, $2) ORDER BY id FOR UPDATE`,
    [debitAccountId, creditAccountId],
  );
  return rows.map(accountFromRow);
}
