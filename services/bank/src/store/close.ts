import { type Account, accountBalance } from '@mpay/ledger';
import { assert, MpayError } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import { type AccountRow, accountColumns, accountFromRow } from './rows.ts';

export interface CloseOutcome {
  readonly account: Account;
  /** false when the account was already closed (an idempotent retry). */
  readonly closed: boolean;
}

/** An account may close once nothing is in it and nothing is held for or against it. */
export function isEmptyAccount(account: Account): boolean {
  return accountBalance(account) === 0n && account.debitsPending === 0n && account.creditsPending === 0n;
}

/**
 * Closes an empty account (else ACCOUNT_NOT_EMPTY). The row is locked FOR
 * UPDATE first: a transfer touching the account either committed before (and
 * the check sees its balances) or waits for the close and is then refused
 * ACCOUNT_CLOSED by the ledger rules. Closing a closed account changes nothing.
 */
export async function closeAccount(database: Database, id: string): Promise<CloseOutcome> {
  return database.transaction(async (sql) => {
    const { rows } = await sql.query<AccountRow>(
      `SELECT ${accountColumns} FROM accounts WHERE id = $1 FOR UPDATE`,
      [id],
    );
    if (rows[0] === undefined) throw new MpayError('ACCOUNT_UNKNOWN');
    const account = accountFromRow(rows[0]);
    if (account.closed) return { account, closed: false };
    if (!isEmptyAccount(account)) throw new MpayError('ACCOUNT_NOT_EMPTY');
    const updated = await sql.query('UPDATE accounts SET closed = true WHERE id = $1 AND NOT closed', [id]);
    assert(updated.rowCount === 1, 'a locked open account is closed once');
    return { account: Object.freeze({ ...account, closed: true }), closed: true };
  });
}
