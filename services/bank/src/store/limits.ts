import type { Account } from '@mpay/ledger';
import { MpayError } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import { type AccountRow, accountColumns, accountFromRow } from './rows.ts';

/** Operator-set debit limits of one account, in minor units; undefined: no limit of that kind. */
export interface AccountLimits {
  readonly perTransactionMax?: bigint | undefined;
  /** The most the account may be debited per UTC calendar day (see `checkDebitLimits`). */
  readonly dailyDebitMax?: bigint | undefined;
}

export interface AccountWithLimits {
  readonly account: Account;
  readonly limits: AccountLimits;
}

interface LimitsRow {
  per_transaction_max: string | null;
  daily_debit_max: string | null;
}

function limitsFromRow(row: LimitsRow | undefined): AccountLimits {
  if (row === undefined) return Object.freeze({});
  return Object.freeze({
    ...(row.per_transaction_max === null ? {} : { perTransactionMax: BigInt(row.per_transaction_max) }),
    ...(row.daily_debit_max === null ? {} : { dailyDebitMax: BigInt(row.daily_debit_max) }),
  });
}

/** The limits in force: the newest row of the account's limit history. */
export async function selectAccountLimits(sql: Sql, accountId: string): Promise<AccountLimits> {
  const { rows } = await sql.query<LimitsRow>(
    `SELECT per_transaction_max::text AS per_transaction_max, daily_debit_max::text AS daily_debit_max
     FROM account_limits WHERE account_id = $1 ORDER BY version DESC LIMIT 1`,
    [accountId],
  );
  return limitsFromRow(rows[0]);
}

export async function selectAccountWithLimits(sql: Sql, accountId: string): Promise<AccountWithLimits> {
  const { rows } = await sql.query<AccountRow>(`SELECT ${accountColumns} FROM accounts WHERE id = $1`, [
    accountId,
  ]);
  if (rows[0] === undefined) throw new MpayError('ACCOUNT_UNKNOWN');
  return { account: accountFromRow(rows[0]), limits: await selectAccountLimits(sql, accountId) };
}

function sameLimits(left: AccountLimits, right: AccountLimits): boolean {
  return left.perTransactionMax === right.perTransactionMax && left.dailyDebitMax === right.dailyDebitMax;
}

/**
 * Replaces the account's limits by `limits` (an absent field removes that
 * limit) and records who set them; setting the limits already in force adds
 * nothing to the history. A closed account takes no new limits.
 */
export async function setAccountLimits(
  database: Database,
  accountId: string,
  limits: AccountLimits,
  setBy: string,
  now: Date,
): Promise<AccountWithLimits> {
  return database.transaction(async (sql) => {
    const { rows } = await sql.query<AccountRow>(
      `SELECT ${accountColumns} FROM accounts WHERE id = $1 FOR UPDATE`,
      [accountId],
    );
    if (rows[0] === undefined) throw new MpayError('ACCOUNT_UNKNOWN');
    const account = accountFromRow(rows[0]);
    if (account.closed) throw new MpayError('ACCOUNT_CLOSED');
    if (!sameLimits(await selectAccountLimits(sql, accountId), limits)) {
      await sql.query(
        `INSERT INTO account_limits (account_id, per_transaction_max, daily_debit_max, set_by, set_at)
         VALUES ($1, $2, $3, $4, $5)`,
        [accountId, limits.perTransactionMax ?? null, limits.dailyDebitMax ?? null, setBy, now.toISOString()],
      );
    }
    return { account, limits: Object.freeze({ ...limits }) };
  });
}
