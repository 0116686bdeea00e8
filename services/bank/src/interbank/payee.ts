import type { Account } from '@mpay/ledger';
import type { Sql } from '@mpay/storage';
import { type AccountRow, accountColumns, accountFromRow } from '../store/rows.ts';

/**
 * The account this bank credits for payee `payeeId` in `currency`: from the
 * bank's own records, never from the FSP or a peer bank (they name the payee
 * by party id only). An open customer or merchant account of that owner in
 * that currency; when the payee has several, the oldest (then the smallest
 * id): a deterministic choice, so that a retried credit lands on the same
 * account, and a payee's first account stays the one it is paid on until it
 * is closed. Undefined when there is none: the caller refuses with PAYEE_UNKNOWN.
 */
export async function resolvePayeeAccount(
  sql: Sql,
  payeeId: string,
  currency: string,
): Promise<string | undefined> {
  const { rows } = await sql.query<{ id: string }>(
    `SELECT id::text AS id FROM accounts
     WHERE owner = $1 AND ledger = $2 AND NOT closed AND kind IN ('customer', 'merchant')
     ORDER BY created_at, id LIMIT 1`,
    [payeeId, currency],
  );
  return rows[0]?.id;
}

/** What `lockWithPayeeAccount` read: the payee's account as `resolvePayeeAccount` resolves it, and the locked rows. */
export interface LockedWithPayee {
  /** Undefined when the payee has no open account in the currency (the caller refuses with PAYEE_UNKNOWN). */
  readonly payeeAccountId: string | undefined;
  /** The settlement account and the payee's, those of the two that exist, locked in id order. */
  readonly locked: readonly Account[];
}

/**
 * `resolvePayeeAccount` and the lock of both accounts a credit moves (the
 * debtor bank's settlement account here and the payee's), in one statement:
 * the payee's account is resolved as `resolvePayeeAccount` does, then both
 * rows are locked in id order, as `lockAccountRows` locks them. One round
 * trip where a read of the payee's account and then a lock by its id took
 * two. Each row carries the resolved payee account, so a payee without one is
 * told apart from a settlement account that does not exist (no row at all).
 */
export async function lockWithPayeeAccount(
  sql: Sql,
  settlementAccountId: string,
  payeeId: string,
  currency: string,
): Promise<LockedWithPayee> {
  const { rows } = await sql.query<AccountRow & { payee_account_id: string | null }>(
    `WITH payee AS (
       SELECT id FROM accounts
       WHERE owner = $2 AND ledger = $3 AND NOT closed AND kind IN ('customer', 'merchant')
       ORDER BY created_at, id LIMIT 1
     )
     SELECT (SELECT id::text FROM payee) AS payee_account_id, ${accountColumns}
     FROM accounts WHERE accounts.id = $1 OR accounts.id = (SELECT id FROM payee)
     ORDER BY accounts.id FOR UPDATE OF accounts`,
    [settlementAccountId, payeeId, currency],
  );
  return { payeeAccountId: rows[0]?.payee_account_id ?? undefined, locked: rows.map(accountFromRow) };
}
