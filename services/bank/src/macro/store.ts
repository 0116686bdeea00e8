import type { Sql } from '@mpay/storage';

/** A client id this bank issued (seed 002 §3), as it keeps it. */
export interface MacroClientRecord {
  readonly clientId: string;
  readonly partyId: string;
  readonly msisdn: string;
  readonly bindingSerial: string;
  readonly issuedTo: string;
  readonly issuedAt: Date;
}

interface MacroClientRow {
  client_id: string;
  party_id: string;
  msisdn: string;
  binding_serial: string;
  issued_to: string;
  issued_at: Date | string;
}

const columns = 'client_id, party_id, msisdn, binding_serial, issued_to, issued_at';

function recordOf(row: MacroClientRow): MacroClientRecord {
  return Object.freeze({
    clientId: row.client_id,
    partyId: row.party_id,
    msisdn: row.msisdn,
    bindingSerial: row.binding_serial,
    issuedTo: row.issued_to,
    issuedAt: new Date(row.issued_at),
  });
}

export async function selectMacroClientOfParty(
  sql: Sql,
  partyId: string,
): Promise<MacroClientRecord | undefined> {
  const { rows } = await sql.query<MacroClientRow>(
    `SELECT ${columns} FROM macro_clients WHERE party_id = $1`,
    [partyId],
  );
  return rows[0] === undefined ? undefined : recordOf(rows[0]);
}

/** The client a client id names ("The CB identifies the client using client Id", §3). */
export async function selectMacroClient(sql: Sql, clientId: string): Promise<MacroClientRecord | undefined> {
  const { rows } = await sql.query<MacroClientRow>(
    `SELECT ${columns} FROM macro_clients WHERE client_id = $1`,
    [clientId],
  );
  return rows[0] === undefined ? undefined : recordOf(rows[0]);
}

/**
 * Inserts a client id; false when the id or the party is taken (the caller
 * tells which by reading the party's row). ON CONFLICT DO NOTHING, so that a
 * concurrent issue for the same party waits on the party's unique index and
 * then finds the winner's row instead of failing.
 */
export async function insertMacroClient(sql: Sql, record: MacroClientRecord): Promise<boolean> {
  const inserted = await sql.query(
    `INSERT INTO macro_clients (${columns}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
    [
      record.clientId,
      record.partyId,
      record.msisdn,
      record.bindingSerial,
      record.issuedTo,
      record.issuedAt.toISOString(),
    ],
  );
  return inserted.rowCount === 1;
}
