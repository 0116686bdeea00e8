import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { CustodyContext } from '../context.ts';
import { newOpaqueId } from '../ids.ts';
import { claimTry, giveBackTry, isBlocked, recordFailure } from './tries.ts';

interface CredentialRow {
  party_id: string;
  registration_record: string;
}

async function credentialOf(sql: Sql, credentialId: string): Promise<CredentialRow | undefined> {
  const { rows } = await sql.query<CredentialRow>(
    'SELECT party_id, registration_record FROM pin_credentials WHERE credential_id = $1',
    [credentialId],
  );
  return rows[0];
}

export interface StartedLogin {
  readonly loginId: string;
  readonly loginResponse: string;
}

export interface LoginPurpose {
  readonly purpose: 'login' | 'delegation';
  readonly deviceId?: string;
  readonly paymentId?: string;
}

/**
 * Starts a PIN login for a credential: the try is counted first (a blocked
 * customer gets PIN_BLOCKED and nothing a guess could be tested with), then
 * the OPAQUE answer. An unknown credential gets an answer too, and its finish
 * fails like a wrong PIN. The login state is kept for one finish only.
 */
export async function startLogin(
  context: CustodyContext,
  credentialId: string,
  startLoginRequest: string,
  purpose: LoginPurpose,
): Promise<StartedLogin> {
  const now = context.clock();
  const loginId = newOpaqueId();
  const blocked = await context.database.transaction(async (sql) => {
    const credential = await credentialOf(sql, credentialId);
    if (credential !== undefined && (await claimTry(context, sql, credential.party_id, now)) === 'blocked') {
      return true;
    }
    const { loginResponse, serverLoginState } = context.pins.startLogin(
      credentialId,
      credential?.registration_record,
      startLoginRequest,
    );
    await sql.query(
      `INSERT INTO pin_logins (login_id, credential_id, party_id, server_login_state, purpose, device_id,
         payment_id, expires_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        loginId,
        credentialId,
        credential?.party_id ?? null,
        serverLoginState,
        purpose.purpose,
        purpose.deviceId ?? null,
        purpose.paymentId ?? null,
        new Date(now.getTime() + context.limits.pinLoginLifetimeSeconds * 1000).toISOString(),
        now.toISOString(),
      ],
    );
    return loginResponse;
  });
  if (blocked === true) throw new MpayError('PIN_BLOCKED');
  return { loginId, loginResponse: blocked };
}

interface LoginRow {
  credential_id: string;
  party_id: string | null;
  server_login_state: string;
  purpose: 'login' | 'delegation';
  device_id: string | null;
  payment_id: string | null;
  expires_at: Date | string;
}

/** A started login taken for its one finish (deleted, whatever the outcome), or undefined. */
export async function takeLogin(sql: Sql, loginId: string, now: Date): Promise<LoginRow | undefined> {
  const { rows } = await sql.query<LoginRow>(
    `DELETE FROM pin_logins WHERE login_id = $1
     RETURNING credential_id, party_id, server_login_state, purpose, device_id, payment_id, expires_at`,
    [loginId],
  );
  const row = rows[0];
  if (row === undefined || new Date(row.expires_at).getTime() <= now.getTime()) return undefined;
  return row;
}

export type FinishedLogin =
  | { readonly ok: true; readonly partyId: string; readonly sessionKey: string; readonly login: LoginRow }
  | { readonly ok: false; readonly partyId: string | undefined };

/**
 * Finishes a started login in the caller's transaction: the OPAQUE proof that
 * the client knew the PIN, plus `check` (what else must hold: the purpose,
 * the device, the message). Success gives back this login's try; any failure
 * is recorded (and may block). The caller answers one generic refusal.
 */
export async function finishLogin(
  context: CustodyContext,
  sql: Sql,
  loginId: string,
  finishLoginRequest: string | null,
  check: (login: LoginRow, sessionKey: string) => boolean | Promise<boolean>,
): Promise<FinishedLogin> {
  const now = context.clock();
  const login = await takeLogin(sql, loginId, now);
  if (login === undefined) return { ok: false, partyId: undefined };
  const partyId = login.party_id ?? undefined;
  // A login started before the customer was blocked finishes nothing after it.
  if (partyId === undefined || (await isBlocked(sql, partyId))) return { ok: false, partyId };
  const sessionKey =
    finishLoginRequest === null
      ? undefined
      : context.pins.finishLogin(login.server_login_state, finishLoginRequest);
  if (sessionKey !== undefined && (await check(login, sessionKey))) {
    await giveBackTry(context, sql, partyId, now);
    return { ok: true, partyId, sessionKey, login };
  }
  return { ok: false, partyId };
}

/** After a failed finish committed nothing else: record the failure (it may block the customer). */
export async function refuseFinish(context: CustodyContext, partyId: string | undefined): Promise<never> {
  if (partyId !== undefined) {
    const outcome = await context.database.transaction((sql) =>
      recordFailure(context, sql, partyId, context.clock()),
    );
    if (outcome === 'blocked') throw new MpayError('PIN_BLOCKED');
  }
  throw new MpayError('PIN_REFUSED');
}

/** Forgets logins nobody finished in time (their tries stay counted). */
export async function forgetExpiredLogins(context: CustodyContext): Promise<void> {
  await context.database.query('DELETE FROM pin_logins WHERE expires_at <= $1', [
    context.clock().toISOString(),
  ]);
}
