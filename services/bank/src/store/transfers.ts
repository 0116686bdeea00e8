import type { Transfer } from '@mpay/ledger';
import type { Sql } from '@mpay/storage';
import { type TransferRow, transferColumns, transferFromRow } from './rows.ts';

export async function selectTransfer(sql: Sql, id: string): Promise<Transfer | undefined> {
  const { rows } = await sql.query<TransferRow>(`SELECT ${transferColumns} FROM transfers WHERE id = $1`, [
    id,
  ]);
  return rows[0] === undefined ? undefined : transferFromRow(rows[0]);
}

/** The transfers with these ids that exist, by id (one statement). */
export async function selectTransfersById(sql: Sql, ids: readonly string[]): Promise<Map<string, Transfer>> {
  const { rows } = await sql.query<TransferRow>(
    `SELECT ${transferColumns} FROM transfers WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(rows.map((row) => [row.id, transferFromRow(row)]));
}

/** The post_pending or void_pending that resolved `pendingId`, if any (at most one, by a unique index). */
export async function selectResolution(sql: Sql, pendingId: string): Promise<Transfer | undefined> {
  const { rows } = await sql.query<TransferRow>(
    `SELECT ${transferColumns} FROM transfers WHERE pending_id = $1`,
    [pendingId],
  );
  return rows[0] === undefined ? undefined : transferFromRow(rows[0]);
}

/** Holds whose timeout has passed and that nothing resolved, oldest expiry first. */
export async function selectExpiredPending(sql: Sql, now: Date, limit: number): Promise<Transfer[]> {
  const { rows } = await sql.query<TransferRow>(
    `SELECT ${transferColumns} FROM transfers AS p
     WHERE p.kind = 'pending' AND p.expires_at <= $1
       AND NOT EXISTS (SELECT 1 FROM transfers AS r WHERE r.pending_id = p.id)
       -- A hold of an interbank payment order is resolved only by the merchant bank's signed answer.
       AND NOT EXISTS (SELECT 1 FROM payment_orders AS o WHERE o.id = p.id AND o.state = 'sending')
       -- Nor is a hold of a refund order: only the customer's bank's signed answer resolves it.
       AND NOT EXISTS (SELECT 1 FROM refund_orders AS r WHERE r.transfer_id = p.id AND r.state = 'sending')
     ORDER BY p.expires_at, p.id LIMIT $2`,
    [now.toISOString(), limit],
  );
  return rows.map(transferFromRow);
}
