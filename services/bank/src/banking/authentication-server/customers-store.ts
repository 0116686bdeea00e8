import type { Sql } from '@mpay/storage';

/**
 * The authentication server's view of banking_customers (the operator
 * creates the rows, see routes/banking-operator.ts): who logs in with which
 * user id, where the codes go, the OPAQUE record, the failures in a row and
 * the block.
 */
export interface BankingCustomerRecord {
  readonly partyId: string;
  readonly userId: string;
  readonly msisdn: string;
  /** The OPAQUE registration record, undefined until the customer registers a password. */
  readonly opaqueRecord: string | undefined;
  /** The OPAQUE credential identifier the record was registered under (with the record, never without). */
  readonly opaqueCredentialId: string | undefined;
  /** The credential identifier a registration in progress was answered with. */
  readonly opaquePendingCredentialId: string | undefined;
  readonly failedLogins: number;
  readonly blockedAt: Date | undefined;
}

interface CustomerRow {
  party_id: string;
  user_id: string;
  msisdn: string;
  opaque_record: string | null;
  opaque_credential_id: string | null;
  opaque_pending_credential_id: string | null;
  failed_logins: number;
  blocked_at: Date | string | null;
}

const customerSelect = `SELECT party_id, user_id, msisdn, opaque_record, opaque_credential_id,
  opaque_pending_credential_id, failed_logins, blocked_at FROM banking_customers`;

function customerFromRow(row: CustomerRow): BankingCustomerRecord {
  return Object.freeze({
    partyId: row.party_id,
    userId: row.user_id,
    msisdn: row.msisdn,
    opaqueRecord: row.opaque_record ?? undefined,
    opaqueCredentialId: row.opaque_credential_id ?? undefined,
    opaquePendingCredentialId: row.opaque_pending_credential_id ?? undefined,
    failedLogins: row.failed_logins,
    blockedAt: row.blocked_at === null ? undefined : new Date(row.blocked_at),
  });
}

async function selectCustomerWhere(
  sql: Sql,
  column: 'party_id' | 'user_id',
  value: string,
  lock: boolean,
): Promise<BankingCustomerRecord | undefined> {
  const { rows } = await sql.query<CustomerRow>(
    `${customerSelect} WHERE ${column} = $1${lock ? ' FOR UPDATE' : ''}`,
    [value],
  );
  return rows[0] === undefined ? undefined : customerFromRow(rows[0]);
}

/** The customer of a party; `lock` holds the row (failures are counted under it). */
export function selectBankingCustomer(sql: Sql, partyId: string, lock = false) {
  return selectCustomerWhere(sql, 'party_id', partyId, lock);
}

export function selectBankingCustomerByUserId(sql: Sql, userId: string, lock = false) {
  return selectCustomerWhere(sql, 'user_id', userId, lock);
}

/**
 * Answers a registration start: `credentialId` becomes the pending one (a
 * later start replaces it), only while the customer has no record; false
 * when one is there already.
 */
export async function setPendingCredentialId(
  sql: Sql,
  partyId: string,
  credentialId: string,
  now: Date,
): Promise<boolean> {
  const updated = await sql.query(
    `UPDATE banking_customers SET opaque_pending_credential_id = $2, updated_at = $3
     WHERE party_id = $1 AND opaque_record IS NULL`,
    [partyId, credentialId, now.toISOString()],
  );
  return updated.rowCount === 1;
}

/**
 * Stores the customer's first (or, after a reset, new) OPAQUE record and
 * moves the pending credential identifier to the record's, in one statement;
 * false when a record is there already or no registration was started.
 */
export async function setOpaqueRecord(
  sql: Sql,
  partyId: string,
  record: string,
  now: Date,
): Promise<boolean> {
  const updated = await sql.query(
    `UPDATE banking_customers
     SET opaque_record = $2, opaque_credential_id = opaque_pending_credential_id,
       opaque_pending_credential_id = NULL, password_registered_at = $3, updated_at = $3
     WHERE party_id = $1 AND opaque_record IS NULL AND opaque_pending_credential_id IS NOT NULL`,
    [partyId, record, now.toISOString()],
  );
  return updated.rowCount === 1;
}

/**
 * Writes the customer's side of a login step (stepBankingLogin's effects):
 * the failures in a row and, when they reached the limit, the block.
 */
export async function updateLoginFailures(
  sql: Sql,
  partyId: string,
  failedLogins: number,
  block: boolean,
  now: Date,
): Promise<void> {
  if (!Number.isSafeInteger(failedLogins) || failedLogins < 0) {
    throw new Error('assertion failed: failed logins are a count');
  }
  const updated = await sql.query(
    `UPDATE banking_customers
     SET failed_logins = $2, blocked_at = CASE WHEN $3 THEN $4::timestamptz ELSE blocked_at END, updated_at = $4
     WHERE party_id = $1`,
    [partyId, failedLogins, block, now.toISOString()],
  );
  if (updated.rowCount !== 1) throw new Error('assertion failed: a login belongs to a customer');
}
