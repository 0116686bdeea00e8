import type { Sql } from '@mpay/storage';

/**
 * The key management server's tables (migration 0011): renewal notices, the
 * banking registration of a device (banking_devices) as renewals carry it
 * over, and the bindings a renewal issues (key_bindings.renews). Bindings and
 * revocations are immutable rows: a renewal inserts, it never updates one.
 */

export type RenewalNoticeState = 'sent' | 'completed';

/** A notice that a device key must be renewed (§4.3: initiated by the banking server). */
export interface RenewalNoticeRecord {
  readonly id: string;
  readonly serial: string;
  readonly state: RenewalNoticeState;
  readonly reason: string;
  readonly renewedSerial: string | undefined;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly completedAt: Date | undefined;
}

interface RenewalNoticeRow {
  id: string;
  serial: string;
  state: RenewalNoticeState;
  reason: string;
  renewed_serial: string | null;
  created_by: string;
  created_at: Date | string;
  completed_at: Date | string | null;
}

const noticeColumns =
  'id::text AS id, serial, state, reason, renewed_serial, created_by, created_at, completed_at';

function noticeFromRow(row: RenewalNoticeRow): RenewalNoticeRecord {
  return Object.freeze({
    id: row.id,
    serial: row.serial,
    state: row.state,
    reason: row.reason,
    renewedSerial: row.renewed_serial ?? undefined,
    createdBy: row.created_by,
    createdAt: new Date(row.created_at),
    completedAt: row.completed_at === null ? undefined : new Date(row.completed_at),
  });
}

/**
 * Opens a notice for a binding; false (nothing written) when the binding has
 * an open one already: the partial unique index keeps one open notice per
 * binding, and ON CONFLICT makes a concurrent issuer wait for the winner and
 * then stand down instead of failing.
 */
export async function insertRenewalNotice(
  sql: Sql,
  notice: { id: string; serial: string; reason: string; createdBy: string },
  now: Date,
): Promise<boolean> {
  const inserted = await sql.query(
    `INSERT INTO banking_renewal_notices (id, serial, state, reason, created_by, created_at)
     VALUES ($1, $2, 'sent', $3, $4, $5)
     ON CONFLICT (serial) WHERE state = 'sent' DO NOTHING`,
    [notice.id, notice.serial, notice.reason, notice.createdBy, now.toISOString()],
  );
  return inserted.rowCount === 1;
}

/** A notice by id; `lock` holds it to the end of the transaction (one renewal completes it). */
export async function selectRenewalNotice(
  sql: Sql,
  id: string,
  lock = false,
): Promise<RenewalNoticeRecord | undefined> {
  const { rows } = await sql.query<RenewalNoticeRow>(
    `SELECT ${noticeColumns} FROM banking_renewal_notices WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return rows[0] === undefined ? undefined : noticeFromRow(rows[0]);
}

/** The open notice of a binding (at most one), or undefined. */
export async function selectOpenRenewalNotice(
  sql: Sql,
  serial: string,
): Promise<RenewalNoticeRecord | undefined> {
  const { rows } = await sql.query<RenewalNoticeRow>(
    `SELECT ${noticeColumns} FROM banking_renewal_notices WHERE serial = $1 AND state = 'sent'`,
    [serial],
  );
  return rows[0] === undefined ? undefined : noticeFromRow(rows[0]);
}

/** Completes an open notice with the binding that renewed its key. */
export async function completeRenewalNotice(
  sql: Sql,
  id: string,
  renewedSerial: string,
  now: Date,
): Promise<void> {
  const updated = await sql.query(
    `UPDATE banking_renewal_notices SET state = 'completed', renewed_serial = $2, completed_at = $3
     WHERE id = $1 AND state = 'sent'`,
    [id, renewedSerial, now.toISOString()],
  );
  if (updated.rowCount !== 1) throw new Error('assertion failed: an open notice is completed once');
}

/** What a notice is sent about: a binding registered for banking, its state, and where its customer's texts go. */
export interface RenewalTarget {
  readonly serial: string;
  readonly partyId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly revokedAt: Date | undefined;
  readonly msisdn: string;
}

interface RenewalTargetRow {
  serial: string;
  party_id: string;
  not_before: Date | string;
  not_after: Date | string;
  revoked_at: Date | string | null;
  msisdn: string;
}

const targetSelect = `SELECT b.serial, b.party_id, b.not_before, b.not_after, r.revoked_at, c.msisdn
  FROM key_bindings AS b
  JOIN banking_devices AS d ON d.serial = b.serial
  JOIN banking_customers AS c ON c.party_id = d.party_id
  LEFT JOIN key_binding_revocations AS r ON r.serial = b.serial`;

function targetFromRow(row: RenewalTargetRow): RenewalTarget {
  return Object.freeze({
    serial: row.serial,
    partyId: row.party_id,
    notBefore: new Date(row.not_before),
    notAfter: new Date(row.not_after),
    revokedAt: row.revoked_at === null ? undefined : new Date(row.revoked_at),
    msisdn: row.msisdn,
  });
}

/** The binding `serial` if a banking device is registered under it, else undefined. */
export async function selectRenewalTarget(sql: Sql, serial: string): Promise<RenewalTarget | undefined> {
  const { rows } = await sql.query<RenewalTargetRow>(`${targetSelect} WHERE b.serial = $1`, [serial]);
  return rows[0] === undefined ? undefined : targetFromRow(rows[0]);
}

/**
 * Bindings of banking devices that are active at `now`, not revoked, expire
 * before `horizon`, and never had a notice: the ones the worker notifies,
 * soonest expiry first, at most `limit`.
 */
export async function selectDueRenewalTargets(
  sql: Sql,
  now: Date,
  horizon: Date,
  limit: number,
): Promise<RenewalTarget[]> {
  const { rows } = await sql.query<RenewalTargetRow>(
    `${targetSelect}
     WHERE r.serial IS NULL AND b.not_before <= $1 AND b.not_after > $1 AND b.not_after <= $2
       AND NOT EXISTS (SELECT 1 FROM banking_renewal_notices AS n WHERE n.serial = b.serial)
     ORDER BY b.not_after, b.serial LIMIT $3`,
    [now.toISOString(), horizon.toISOString(), limit],
  );
  return rows.map(targetFromRow);
}

/** A device's banking registration (its ID_C parts, signed by its key), as stored. */
export interface BankingDeviceRecord {
  readonly serial: string;
  readonly partyId: string;
  readonly sim: string;
  readonly phoneId: string;
  readonly registration: string;
  readonly renewedFrom: string | undefined;
  readonly registeredAt: Date;
}

interface BankingDeviceRow {
  serial: string;
  party_id: string;
  sim: string;
  phone_id: string;
  registration: string;
  renewed_from: string | null;
  registered_at: Date | string;
}

function deviceFromRow(row: BankingDeviceRow): BankingDeviceRecord {
  return Object.freeze({
    serial: row.serial,
    partyId: row.party_id,
    sim: row.sim,
    phoneId: row.phone_id,
    registration: row.registration,
    renewedFrom: row.renewed_from ?? undefined,
    registeredAt: new Date(row.registered_at),
  });
}

export async function selectBankingDevice(
  sql: Sql,
  serial: string,
): Promise<BankingDeviceRecord | undefined> {
  const { rows } = await sql.query<BankingDeviceRow>(
    `SELECT serial, party_id, sim, phone_id, registration, renewed_from, registered_at
     FROM banking_devices WHERE serial = $1`,
    [serial],
  );
  return rows[0] === undefined ? undefined : deviceFromRow(rows[0]);
}

/** A banking device of a party with its binding's validity and revocation: a line of the `devices` result. */
export interface PartyDevice {
  readonly serial: string;
  readonly deviceId: string;
  readonly sim: string;
  readonly phoneId: string;
  readonly registeredAt: Date;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly revokedAt: Date | undefined;
}

interface PartyDeviceRow {
  serial: string;
  device_id: string;
  sim: string;
  phone_id: string;
  registered_at: Date | string;
  not_before: Date | string;
  not_after: Date | string;
  revoked_at: Date | string | null;
}

/** The party's banking devices, newest registration first, at most `limit`. */
export async function selectBankingDevicesOfParty(
  sql: Sql,
  partyId: string,
  limit: number,
): Promise<PartyDevice[]> {
  const { rows } = await sql.query<PartyDeviceRow>(
    `SELECT d.serial, b.device_id, d.sim, d.phone_id, d.registered_at, b.not_before, b.not_after, r.revoked_at
     FROM banking_devices AS d
     JOIN key_bindings AS b ON b.serial = d.serial
     LEFT JOIN key_binding_revocations AS r ON r.serial = d.serial
     WHERE d.party_id = $1 AND b.party_id = $1
     ORDER BY d.registered_at DESC, d.serial DESC LIMIT $2`,
    [partyId, limit],
  );
  return rows.map((row) =>
    Object.freeze({
      serial: row.serial,
      deviceId: row.device_id,
      sim: row.sim,
      phoneId: row.phone_id,
      registeredAt: new Date(row.registered_at),
      notBefore: new Date(row.not_before),
      notAfter: new Date(row.not_after),
      revokedAt: row.revoked_at === null ? undefined : new Date(row.revoked_at),
    }),
  );
}

/**
 * Stores the binding a renewal issued: no enrolment code, `renews` the old
 * binding instead (the table's check wants exactly one of the two; `renews`
 * is unique, so a binding is renewed at most once).
 */
export async function insertRenewedKeyBinding(
  sql: Sql,
  record: {
    serial: string;
    partyId: string;
    deviceId: string;
    signingKid: string;
    notBefore: Date;
    notAfter: Date;
    binding: string;
    renews: string;
  },
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO key_bindings (serial, party_id, device_id, signing_kid, not_before, not_after, binding,
       enrolment_code_id, renews, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9)`,
    [
      record.serial,
      record.partyId,
      record.deviceId,
      record.signingKid,
      record.notBefore.toISOString(),
      record.notAfter.toISOString(),
      record.binding,
      record.renews,
      now.toISOString(),
    ],
  );
}

/** Carries a device's banking registration over to the binding that renewed its key. */
export async function insertRenewedBankingDevice(
  sql: Sql,
  from: BankingDeviceRecord,
  serial: string,
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO banking_devices (serial, party_id, sim, phone_id, registration, renewed_from, registered_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [serial, from.partyId, from.sim, from.phoneId, from.registration, from.serial, now.toISOString()],
  );
}
