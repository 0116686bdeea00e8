import { MpayError } from '@mpay/protocol';
import type { CustodyContext } from '../context.ts';
import { newDeviceToken, tokenHash } from '../ids.ts';
import { finishLogin, refuseFinish } from '../pin/logins.ts';
import { appendInboxEvent } from '../procedure/inbox.ts';

export interface AuthenticatedDevice {
  readonly partyId: string;
  readonly deviceId: string;
}

/** The phone behind a bearer token; anything else is AUTHENTICATION_FAILED. */
export async function authenticateDevice(
  context: CustodyContext,
  authorization: string | undefined,
): Promise<AuthenticatedDevice> {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : '';
  if (!/^mdt_[A-Za-z0-9_-]{43}$/.test(token)) throw new MpayError('AUTHENTICATION_FAILED');
  const { rows } = await context.database.query<{ party_id: string; device_id: string }>(
    'SELECT party_id, device_id FROM devices WHERE token_hash = $1 AND revoked_at IS NULL',
    [tokenHash(token)],
  );
  const row = rows[0];
  if (row === undefined) throw new MpayError('AUTHENTICATION_FAILED');
  return { partyId: row.party_id, deviceId: row.device_id };
}

/**
 * Another phone of a custody customer: allowed after a PIN login for that
 * customer (counted like any other try, across all devices).
 */
export async function addDevice(
  context: CustodyContext,
  partyId: string,
  deviceId: string,
  loginId: string,
  finishLoginRequest: string | null,
): Promise<{ deviceToken: string }> {
  const deviceToken = newDeviceToken();
  const now = context.clock();
  const finished = await context.database.transaction(async (sql) => {
    const result = await finishLogin(context, sql, loginId, finishLoginRequest, async (login) => {
      if (login.purpose !== 'login' || login.party_id !== partyId) return false;
      // Only the custody PIN adds a phone of a custody customer.
      const { rows } = await sql.query<{ credential_id: string }>(
        'SELECT credential_id FROM custody_keys WHERE party_id = $1',
        [partyId],
      );
      return rows[0]?.credential_id === login.credential_id;
    });
    if (!result.ok) return result;
    const { rows } = await sql.query<{ devices: string | number }>(
      'SELECT count(*) AS devices FROM devices WHERE party_id = $1 AND revoked_at IS NULL',
      [partyId],
    );
    if (Number(rows[0]?.devices ?? 0) >= context.limits.devicesPerCustomerMax) {
      throw new MpayError('REQUEST_RATE_LIMITED', 'devices');
    }
    const added = await sql.query(
      `INSERT INTO devices (party_id, device_id, token_hash, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (party_id, device_id) DO NOTHING`,
      [partyId, deviceId, tokenHash(deviceToken), now.toISOString()],
    );
    // An existing phone keeps its token: another one never takes its place.
    if (added.rowCount !== 1) throw new MpayError('REQUEST_INVALID', 'deviceId already enrolled');
    // Every phone of the customer hears of the new one.
    await appendInboxEvent(context, sql, partyId, {
      event: 'alert',
      transactionId: `alert-${crypto.randomUUID()}`,
      forward: { event: 'alert', alert: { reason: `device-added:${deviceId}`, at: now.toISOString() } },
    });
    return result;
  });
  if (!finished.ok) return refuseFinish(context, finished.partyId);
  context.log.info({ partyId, deviceId }, 'device added after a PIN login');
  return { deviceToken };
}
