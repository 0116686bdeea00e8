import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';

/** A biller customers may pay (§5.1's business functions): a payee party at this bank or another. */
export interface Biller {
  readonly id: string;
  readonly name: string;
  readonly payeeId: string;
}

/** Most billers GET /banking/billers lists: a bank registers a few dozen, a list beyond this is a mistake. */
export const billersListedMax = 1_000;

interface BillerRow {
  id: string;
  name: string;
  payee_id: string;
}

function billerFromRow(row: BillerRow): Biller {
  return Object.freeze({ id: row.id, name: row.name, payeeId: row.payee_id });
}

export async function selectBiller(sql: Sql, id: string): Promise<Biller | undefined> {
  const { rows } = await sql.query<BillerRow>(
    'SELECT id, name, payee_id FROM banking_billers WHERE id = $1',
    [id],
  );
  return rows[0] === undefined ? undefined : billerFromRow(rows[0]);
}

/** The registered billers by id, at most billersListedMax. */
export async function selectBillers(sql: Sql): Promise<Biller[]> {
  const { rows } = await sql.query<BillerRow>(
    'SELECT id, name, payee_id FROM banking_billers ORDER BY id LIMIT $1',
    [billersListedMax],
  );
  return rows.map(billerFromRow);
}

/** Registers a biller; BANKING_BILLER_EXISTS when its id is taken. Billers are never changed nor removed. */
export async function insertBiller(sql: Sql, biller: Biller, createdBy: string, now: Date): Promise<Biller> {
  const inserted = await sql.query(
    `INSERT INTO banking_billers (id, name, payee_id, created_by, created_at)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
    [biller.id, biller.name, biller.payeeId, createdBy, now.toISOString()],
  );
  if (inserted.rowCount !== 1) throw new MpayError('BANKING_BILLER_EXISTS');
  return Object.freeze({ ...biller });
}
