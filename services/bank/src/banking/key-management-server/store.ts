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
  // Its SMS is due at once (the outbox row is the notice's own, written in its transaction).
  const inserted = await sql.query(
    `INSERT INTO banking_renewal_notices (id, serial, state, reason, created_by, created_at, sms_next_attempt_at)
     VALUES ($1, $2, 'sent', $3, $4, $5, $5)
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

/** Completes an open notice with the binding that renewed its key; its SMS, if still unsent, is not sent any more. */
export async function completeRenewalNotice(
  sql: Sql,
  id: string,
  renewedSerial: string,
  now: Date,
): Promise<void> {
  const updated = await sql.query(
    `UPDATE banking_renewal_notices
     SET state = 'completed', renewed_serial = $2, completed_at = $3, sms_next_attempt_at = NULL
     WHERE id = $1 AND state = 'sent'`,
    [id, renewedSerial, now.toISOString()],
  );
  if (updated.rowCount !== 1) throw new Error('assertion failed: an open notice is completed once');
}

/**
 * The notice SMS outbox (migration 0011: the sms_* columns of a notice). A
 * notice's SMS is unsent while `sms_sent_at` is NULL, and due while
 * `sms_next_attempt_at` has come; NULL there means no attempt any more (sent,
 * given up, or the notice completed or its binding revoked). Only an open
 * notice of a binding not revoked is texted.
 */
const smsDueWhere = `n.sms_sent_at IS NULL AND n.sms_next_attempt_at <= $1 AND n.state = 'sent'
  AND NOT EXISTS (SELECT 1 FROM key_binding_revocations AS r WHERE r.serial = n.serial)`;

/** A notice SMS claimed for one send: what the text is made of and where it goes. */
export interface ClaimedNoticeSms {
  readonly noticeId: string;
  readonly serial: string;
  /** Failed sends so far. */
  readonly attempts: number;
  /** The binding's expiry, which the text names. */
  readonly notAfter: Date;
  /** The customer's registered MSISDN. */
  readonly msisdn: string;
  /** Until when the claim holds off other senders (the row's sms_next_attempt_at meanwhile). */
  readonly claimedUntil: Date;
}

interface ClaimedNoticeSmsRow {
  id: string;
  serial: string;
  sms_attempts: number;
  not_after: Date | string;
  msisdn: string;
  sms_next_attempt_at: Date | string;
}

/**
 * Claims one due notice SMS (the notice `noticeId`, else the longest due) by
 * moving its next attempt to `claimedUntil`: any other sender, in this process
 * or another, passes it by until then. `FOR UPDATE SKIP LOCKED`: two
 * concurrent claims never take the same row, and neither waits for the other.
 * A sender that dies after its claim leaves the SMS due again at
 * `claimedUntil`. Undefined when nothing is due (or another sender holds it).
 */
export async function claimNoticeSms(
  sql: Sql,
  now: Date,
  claimedUntil: Date,
  noticeId?: string,
): Promise<ClaimedNoticeSms | undefined> {
  if (claimedUntil.getTime() <= now.getTime()) throw new Error('assertion failed: a claim ends after now');
  const params: unknown[] = [now.toISOString(), claimedUntil.toISOString()];
  if (noticeId !== undefined) params.push(noticeId);
  const { rows } = await sql.query<ClaimedNoticeSmsRow>(
    `WITH claimed AS (
       UPDATE banking_renewal_notices SET sms_next_attempt_at = $2
       WHERE id IN (SELECT n.id FROM banking_renewal_notices AS n
                    WHERE ${smsDueWhere}${noticeId === undefined ? '' : ' AND n.id = $3'}
                    ORDER BY n.sms_next_attempt_at, n.id LIMIT 1 FOR UPDATE OF n SKIP LOCKED)
       RETURNING id, serial, sms_attempts, sms_next_attempt_at)
     SELECT claimed.id::text AS id, claimed.serial, claimed.sms_attempts, claimed.sms_next_attempt_at,
       b.not_after, c.msisdn
     FROM claimed
     JOIN key_bindings AS b ON b.serial = claimed.serial
     JOIN banking_devices AS d ON d.serial = claimed.serial
     JOIN banking_customers AS c ON c.party_id = d.party_id`,
    params,
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return Object.freeze({
    noticeId: row.id,
    serial: row.serial,
    attempts: Number(row.sms_attempts),
    notAfter: new Date(row.not_after),
    msisdn: row.msisdn,
    claimedUntil: new Date(row.sms_next_attempt_at),
  });
}

/** The gateway took the notice's SMS: no attempt any more. */
export async function recordNoticeSmsSent(sql: Sql, noticeId: string, now: Date): Promise<void> {
  await sql.query(
    `UPDATE banking_renewal_notices SET sms_sent_at = $2, sms_next_attempt_at = NULL
     WHERE id = $1 AND sms_sent_at IS NULL`,
    [noticeId, now.toISOString()],
  );
}

/**
 * A send failed: one more attempt, the error's stable code (never its text:
 * it may carry the number or the gateway's answer), and the next attempt at
 * `nextAttemptAt` (undefined: given up).
 */
export async function recordNoticeSmsFailure(
  sql: Sql,
  noticeId: string,
  errorCode: string,
  nextAttemptAt: Date | undefined,
): Promise<void> {
  if (!/^[A-Za-z0-9_.-]{1,200}$/.test(errorCode)) throw new Error('assertion failed: an error code');
  await sql.query(
    `UPDATE banking_renewal_notices
     SET sms_attempts = sms_attempts + 1, sms_last_error = $2, sms_next_attempt_at = $3
     WHERE id = $1 AND sms_sent_at IS NULL`,
    [noticeId, errorCode, nextAttemptAt?.toISOString() ?? null],
  );
}

/**
 * Stops the due SMS of notices that are no longer to be texted (completed,
 * or their binding revoked: a lost phone): their next attempt is cleared, at
 * most `limit` of them. Returns them.
 */
export async function retireStaleNoticeSms(
  sql: Sql,
  now: Date,
  limit: number,
): Promise<{ noticeId: string; serial: string }[]> {
  const { rows } = await sql.query<{ id: string; serial: string }>(
    `UPDATE banking_renewal_notices SET sms_next_attempt_at = NULL
     WHERE id IN (SELECT n.id FROM banking_renewal_notices AS n
                  WHERE n.sms_sent_at IS NULL AND n.sms_next_attempt_at <= $1
                    AND (n.state <> 'sent'
                      OR EXISTS (SELECT 1 FROM key_binding_revocations AS r WHERE r.serial = n.serial))
                  ORDER BY n.sms_next_attempt_at, n.id LIMIT $2 FOR UPDATE OF n SKIP LOCKED)
     RETURNING id::text AS id, serial`,
    [now.toISOString(), limit],
  );
  return rows.map((row) => ({ noticeId: row.id, serial: row.serial }));
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
