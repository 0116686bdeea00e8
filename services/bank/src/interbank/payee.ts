import type { Sql } from '@mpay/storage';

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
