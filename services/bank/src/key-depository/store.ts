import type { Sql } from '@mpay/storage';

export type EnrolmentCodeState = 'issued' | 'used' | 'blocked' | 'replaced';

/** An enrolment code as stored: its hash, never the code. */
export interface EnrolmentCodeRecord {
  readonly id: string;
  readonly partyId: string;
  readonly codeHash: string;
  readonly accountIds: readonly string[];
  readonly state: EnrolmentCodeState;
  readonly failedAttempts: number;
  readonly expiresAt: Date;
}

interface EnrolmentCodeRow {
  id: string;
  party_id: string;
  code_hash: string;
  account_ids: string[];
  state: EnrolmentCodeState;
  failed_attempts: number;
  expires_at: Date | string;
}

function codeFromRow(row: EnrolmentCodeRow): EnrolmentCodeRecord {
  return Object.freeze({
    id: row.id,
    partyId: row.party_id,
    codeHash: row.code_hash,
    accountIds: Object.freeze([...row.account_ids]),
    state: row.state,
    failedAttempts: row.failed_attempts,
    expiresAt: new Date(row.expires_at),
  });
}

/** Stores a new code for the party and retires its live one (issued or blocked), in the caller's transaction. */
export async function replaceEnrolmentCode(
  sql: Sql,
  code: Omit<EnrolmentCodeRecord, 'state' | 'failedAttempts'>,
  issuedBy: string,
  now: Date,
): Promise<void> {
  await sql.query(
    `UPDATE enrolment_codes SET state = 'replaced', updated_at = $2
     WHERE party_id = $1 AND state IN ('issued', 'blocked')`,
    [code.partyId, now.toISOString()],
  );
  await sql.query(
    `INSERT INTO enrolment_codes (id, party_id, code_hash, account_ids, state, failed_attempts, issued_by,
       issued_at, expires_at, updated_at)
     VALUES ($1, $2, $3, $4::uuid[], 'issued', 0, $5, $6, $7, $6)`,
    [
      code.id,
      code.partyId,
      code.codeHash,
      code.accountIds,
      issuedBy,
      now.toISOString(),
      code.expiresAt.toISOString(),
    ],
  );
}

/**
 * The party's newest code, locked for the rest of the transaction: the one
 * an enrolment attempt is checked against and counted on. Concurrent attempts
 * for one party queue on this lock, so no two of them read the same count.
 */
export async function lockNewestEnrolmentCode(
  sql: Sql,
  partyId: string,
): Promise<EnrolmentCodeRecord | undefined> {
  const { rows } = await sql.query<EnrolmentCodeRow>(
    `SELECT id::text AS id, party_id, code_hash, account_ids::text[] AS account_ids, state, failed_attempts,
       expires_at
     FROM enrolment_codes WHERE party_id = $1 ORDER BY issued_at DESC, id DESC LIMIT 1 FOR UPDATE`,
    [partyId],
  );
  return rows[0] === undefined ? undefined : codeFromRow(rows[0]);
}

/** Counts one failed attempt on an issued code; at `attemptsMax` it is blocked. Returns the new state. */
export async function countFailedAttempt(
  sql: Sql,
  codeId: string,
  attemptsMax: number,
  now: Date,
): Promise<{ failedAttempts: number; state: 'issued' | 'blocked' }> {
  const { rows } = await sql.query<{ failed_attempts: number; state: 'issued' | 'blocked' }>(
    `UPDATE enrolment_codes
     SET failed_attempts = failed_attempts + 1,
       state = CASE WHEN failed_attempts + 1 >= $2 THEN 'blocked' ELSE state END,
       updated_at = $3
     WHERE id = $1 AND state = 'issued'
     RETURNING failed_attempts, state`,
    [codeId, attemptsMax, now.toISOString()],
  );
  const row = rows[0];
  if (row === undefined) throw new Error('assertion failed: an issued code is locked');
  return { failedAttempts: row.failed_attempts, state: row.state };
}

export async function markEnrolmentCodeUsed(sql: Sql, codeId: string, now: Date): Promise<void> {
  const updated = await sql.query(
    `UPDATE enrolment_codes SET state = 'used', updated_at = $2 WHERE id = $1 AND state = 'issued'`,
    [codeId, now.toISOString()],
  );
  if (updated.rowCount !== 1) throw new Error('assertion failed: an issued code is used once');
}

/** A binding as the depository keeps it; `binding` (the signed JWS) is authoritative. */
export interface KeyBindingRecord {
  readonly serial: string;
  readonly partyId: string;
  readonly deviceId: string;
  readonly signingKid: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly binding: string;
  /** The code it was enrolled with; null for a binding issued by a renewal (SA2pMP §4.3). */
  readonly enrolmentCodeId: string | null;
  /** The binding it renews (signed by that binding's key); null for an enrolled one. */
  readonly renews: string | null;
  readonly revocation: { readonly reason: string; readonly revokedAt: Date } | undefined;
}

interface KeyBindingRow {
  serial: string;
  party_id: string;
  device_id: string;
  signing_kid: string;
  not_before: Date | string;
  not_after: Date | string;
  binding: string;
  enrolment_code_id: string | null;
  renews: string | null;
  reason: string | null;
  revoked_at: Date | string | null;
}

const bindingSelect = `SELECT b.serial, b.party_id, b.device_id, b.signing_kid, b.not_before, b.not_after,
    b.binding, b.enrolment_code_id::text AS enrolment_code_id, b.renews, r.reason, r.revoked_at
  FROM key_bindings AS b LEFT JOIN key_binding_revocations AS r ON r.serial = b.serial`;

function bindingFromRow(row: KeyBindingRow): KeyBindingRecord {
  return Object.freeze({
    serial: row.serial,
    partyId: row.party_id,
    deviceId: row.device_id,
    signingKid: row.signing_kid,
    notBefore: new Date(row.not_before),
    notAfter: new Date(row.not_after),
    binding: row.binding,
    enrolmentCodeId: row.enrolment_code_id,
    renews: row.renews,
    revocation:
      row.revoked_at === null
        ? undefined
        : Object.freeze({ reason: row.reason ?? '', revokedAt: new Date(row.revoked_at) }),
  });
}

export async function insertKeyBinding(
  sql: Sql,
  record: Omit<KeyBindingRecord, 'revocation' | 'renews' | 'enrolmentCodeId'> & {
    readonly enrolmentCodeId: string;
  },
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO key_bindings (serial, party_id, device_id, signing_kid, not_before, not_after, binding,
       enrolment_code_id, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      record.serial,
      record.partyId,
      record.deviceId,
      record.signingKid,
      record.notBefore.toISOString(),
      record.notAfter.toISOString(),
      record.binding,
      record.enrolmentCodeId,
      now.toISOString(),
    ],
  );
}

/**
 * A binding by serial. `lock` takes the binding's row lock for the rest of
 * the transaction: a revocation and a payment order that relies on the
 * binding both take it, so a debit never commits on a binding whose
 * revocation committed first.
 */
async function selectKeyBindingWhere(
  sql: Sql,
  column: 'serial' | 'signing_kid' | 'enrolment_code_id',
  value: string,
  lock: boolean,
): Promise<KeyBindingRecord | undefined> {
  const { rows } = await sql.query<KeyBindingRow>(
    `${bindingSelect} WHERE b.${column} = $1${lock ? ' FOR UPDATE OF b' : ''}`,
    [value],
  );
  return rows[0] === undefined ? undefined : bindingFromRow(rows[0]);
}

export function selectKeyBinding(sql: Sql, serial: string, lock = false) {
  return selectKeyBindingWhere(sql, 'serial', serial, lock);
}

/** The binding of a signing key (kid = RFC 7638 thumbprint; a key is bound at most once). */
export function selectKeyBindingByKid(sql: Sql, kid: string, lock = false) {
  return selectKeyBindingWhere(sql, 'signing_kid', kid, lock);
}

export function selectKeyBindingOfCode(sql: Sql, codeId: string) {
  return selectKeyBindingWhere(sql, 'enrolment_code_id', codeId, false);
}

export async function isKeyBindingRevoked(sql: Sql, serial: string): Promise<boolean> {
  const { rows } = await sql.query('SELECT 1 FROM key_binding_revocations WHERE serial = $1', [serial]);
  return rows.length > 0;
}

/** Revokes a binding once; a second revocation changes nothing. Returns false when it was already revoked. */
export async function insertRevocation(
  sql: Sql,
  serial: string,
  reason: string,
  revokedBy: string,
  now: Date,
): Promise<boolean> {
  const inserted = await sql.query(
    `INSERT INTO key_binding_revocations (serial, reason, revoked_by, revoked_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (serial) DO NOTHING`,
    [serial, reason, revokedBy, now.toISOString()],
  );
  return inserted.rowCount === 1;
}
