import type { Sql } from '@mpay/storage';

/** A registered macro client as the MPASP keeps it (migration 0006): no mPIN, no secret answer in clear. */
export interface MacroClientRecord {
  readonly clientId: string;
  readonly partyId: string;
  readonly bankId: string;
  readonly msisdn: string;
  readonly email: string;
  readonly name: string;
  readonly secretQuestion: string;
  /** Argon2id PHC string of the normalised secret answer. */
  readonly secretAnswerVerifier: string;
  /** base64url, 32 bytes: the salt of the client's channel keys. */
  readonly deviceSecret: string;
  /** The OPAQUE registration record of the mPIN. */
  readonly opaqueRecord: string;
  readonly bindingSerial: string;
  readonly binding: string;
  /** The device's compact JWS over the registration (evidence). */
  readonly registration: string;
  /** The client bank's compact JWS over the client id (evidence). */
  readonly clientIdStatement: string;
  readonly registeredAt: Date;
}

interface MacroClientRow {
  client_id: string;
  party_id: string;
  bank_id: string;
  msisdn: string;
  email: string;
  name: string;
  secret_question: string;
  secret_answer_verifier: string;
  device_secret: string;
  opaque_record: string;
  binding_serial: string;
  binding: string;
  registration: string;
  client_id_statement: string;
  registered_at: Date | string;
}

const clientColumns = `client_id, party_id, bank_id, msisdn, email, name, secret_question, secret_answer_verifier,
  device_secret, opaque_record, binding_serial, binding, registration, client_id_statement, registered_at`;

function clientOf(row: MacroClientRow): MacroClientRecord {
  return Object.freeze({
    clientId: row.client_id,
    partyId: row.party_id,
    bankId: row.bank_id,
    msisdn: row.msisdn,
    email: row.email,
    name: row.name,
    secretQuestion: row.secret_question,
    secretAnswerVerifier: row.secret_answer_verifier,
    deviceSecret: row.device_secret,
    opaqueRecord: row.opaque_record,
    bindingSerial: row.binding_serial,
    binding: row.binding,
    registration: row.registration,
    clientIdStatement: row.client_id_statement,
    registeredAt: new Date(row.registered_at),
  });
}

export async function findMacroClient(sql: Sql, clientId: string): Promise<MacroClientRecord | undefined> {
  const { rows } = await sql.query<MacroClientRow>(
    `SELECT ${clientColumns} FROM macro_clients WHERE client_id = $1`,
    [clientId],
  );
  return rows[0] === undefined ? undefined : clientOf(rows[0]);
}

/**
 * Why a registration of `partyId` with `msisdn` cannot be stored, if it
 * cannot: the number is a macro client's already (anyone's), or the operator
 * made it another party's alias; or the party is a macro client already.
 */
export async function registrationConflict(
  sql: Sql,
  partyId: string,
  msisdn: string,
): Promise<'msisdn_taken' | 'client_exists' | undefined> {
  const { rows } = await sql.query<{ reason: string }>(
    `SELECT 'msisdn_taken' AS reason FROM macro_clients WHERE msisdn = $1
     UNION ALL SELECT 'msisdn_taken' FROM aliases WHERE alias = $1 AND party_id <> $2
     UNION ALL SELECT 'client_exists' FROM macro_clients WHERE party_id = $2`,
    [msisdn, partyId],
  );
  const reasons = rows.map((row) => row.reason);
  if (reasons.includes('msisdn_taken')) return 'msisdn_taken';
  return reasons.includes('client_exists') ? 'client_exists' : undefined;
}

/**
 * Stores a client; false when a unique column is taken (by a concurrent
 * registration that committed first: the caller asks `registrationConflict`
 * which). ON CONFLICT DO NOTHING, so that the loser waits on the index and
 * then answers with the stable code instead of an internal error.
 */
export async function insertMacroClient(sql: Sql, client: MacroClientRecord): Promise<boolean> {
  const inserted = await sql.query(
    `INSERT INTO macro_clients (${clientColumns})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING`,
    [
      client.clientId,
      client.partyId,
      client.bankId,
      client.msisdn,
      client.email,
      client.name,
      client.secretQuestion,
      client.secretAnswerVerifier,
      client.deviceSecret,
      client.opaqueRecord,
      client.bindingSerial,
      client.binding,
      client.registration,
      client.clientIdStatement,
      client.registeredAt.toISOString(),
    ],
  );
  return inserted.rowCount === 1;
}

/** Verified registration attempts since `since`: the party's, and everyone's. */
export async function registrationAttemptsSince(
  sql: Sql,
  partyId: string,
  since: Date,
): Promise<{ party: number; all: number }> {
  const { rows } = await sql.query<{ party: string | number; all: string | number }>(
    `SELECT count(*) FILTER (WHERE party_id = $1) AS party, count(*) AS all
     FROM macro_registration_attempts WHERE attempted_at > $2`,
    [partyId, since.toISOString()],
  );
  return { party: Number(rows[0]?.party ?? 0), all: Number(rows[0]?.all ?? 0) };
}

export async function recordRegistrationAttempt(sql: Sql, partyId: string, now: Date): Promise<void> {
  await sql.query('INSERT INTO macro_registration_attempts (party_id, attempted_at) VALUES ($1, $2)', [
    partyId,
    now.toISOString(),
  ]);
}

/**
 * Counts one mPIN try for a client id, before the server answers anything a
 * guess could be tested with (an OPAQUE KE2 lets the client test the one
 * mPIN it blinded): every started login is a failure until its finish
 * succeeds. Atomic per id (the row's lock), so that parallel starts cannot
 * pass the limit. An id whose count reached the limit is blocked instead.
 */
export async function claimLoginTry(
  sql: Sql,
  clientId: string,
  failuresMax: number,
  now: Date,
): Promise<'counted' | 'blocked'> {
  const { rows } = await sql.query<{ failed_tries: number; blocked_at: Date | string | null }>(
    `INSERT INTO macro_login_tries (client_id, failed_tries, last_try_at) VALUES ($1, 1, $3)
     ON CONFLICT (client_id) DO UPDATE
       SET failed_tries = macro_login_tries.failed_tries + 1, last_try_at = EXCLUDED.last_try_at
       WHERE macro_login_tries.blocked_at IS NULL AND macro_login_tries.failed_tries < $2
     RETURNING failed_tries, blocked_at`,
    [clientId, failuresMax, now.toISOString()],
  );
  if (rows.length === 1) return 'counted';
  await blockLogins(sql, clientId, now);
  return 'blocked';
}

/** The id's count locked for the rest of the transaction; undefined for an id never tried. */
export async function lockLoginTries(
  sql: Sql,
  clientId: string,
): Promise<{ failedTries: number; blocked: boolean } | undefined> {
  const { rows } = await sql.query<{ failed_tries: number; blocked_at: Date | string | null }>(
    'SELECT failed_tries, blocked_at FROM macro_login_tries WHERE client_id = $1 FOR UPDATE',
    [clientId],
  );
  const row = rows[0];
  return row === undefined ? undefined : { failedTries: row.failed_tries, blocked: row.blocked_at !== null };
}

export async function blockLogins(sql: Sql, clientId: string, now: Date): Promise<boolean> {
  const blocked = await sql.query(
    'UPDATE macro_login_tries SET blocked_at = $2 WHERE client_id = $1 AND blocked_at IS NULL',
    [clientId, now.toISOString()],
  );
  return blocked.rowCount === 1;
}

/** A login that finished well: the count of failures in a row starts again. */
export async function resetLoginTries(sql: Sql, clientId: string): Promise<void> {
  const reset = await sql.query(
    'UPDATE macro_login_tries SET failed_tries = 0 WHERE client_id = $1 AND blocked_at IS NULL',
    [clientId],
  );
  if (reset.rowCount !== 1)
    throw new Error('assertion failed: a login that succeeds was counted and not blocked');
}

export interface StoredLogin {
  readonly clientId: string;
  readonly serverLoginState: string;
}

export async function insertLogin(
  sql: Sql,
  loginId: string,
  login: StoredLogin,
  expiresAt: Date,
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO macro_logins (login_id, client_id, server_login_state, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5)`,
    [loginId, login.clientId, login.serverLoginState, expiresAt.toISOString(), now.toISOString()],
  );
}

/** A started login taken for its one finish (deleted whatever the outcome); undefined if unknown or expired. */
export async function takeLogin(sql: Sql, loginId: string, now: Date): Promise<StoredLogin | undefined> {
  const { rows } = await sql.query<{
    client_id: string;
    server_login_state: string;
    expires_at: Date | string;
  }>('DELETE FROM macro_logins WHERE login_id = $1 RETURNING client_id, server_login_state, expires_at', [
    loginId,
  ]);
  const row = rows[0];
  if (row === undefined || new Date(row.expires_at).getTime() <= now.getTime()) return undefined;
  return { clientId: row.client_id, serverLoginState: row.server_login_state };
}

export async function insertChannel(
  sql: Sql,
  channel: { sessionId: string; clientId: string; channelKey: string; expiresAt: Date },
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO macro_channels (session_id, client_id, channel_key, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5)`,
    [
      channel.sessionId,
      channel.clientId,
      channel.channelKey,
      channel.expiresAt.toISOString(),
      now.toISOString(),
    ],
  );
}

/** An open channel (its key as stored, base64url), or undefined when unknown or expired at `now`. */
export async function findOpenChannel(
  sql: Sql,
  sessionId: string,
  now: Date,
): Promise<{ sessionId: string; clientId: string; channelKey: string; expiresAt: Date } | undefined> {
  const { rows } = await sql.query<{
    session_id: string;
    client_id: string;
    channel_key: string;
    expires_at: Date | string;
  }>(
    'SELECT session_id, client_id, channel_key, expires_at FROM macro_channels WHERE session_id = $1 AND expires_at > $2',
    [sessionId, now.toISOString()],
  );
  const row = rows[0];
  return row === undefined
    ? undefined
    : {
        sessionId: row.session_id,
        clientId: row.client_id,
        channelKey: row.channel_key,
        expiresAt: new Date(row.expires_at),
      };
}

/**
 * Forgets what has served its time, a batch of each: logins nobody finished,
 * closed channels (their keys), attempts outside the rate window, and the
 * counts of ids nobody holds once untouched for `unknownTriesKeptSeconds`.
 */
export async function forgetStaleMacroState(
  sql: Sql,
  now: Date,
  limits: {
    registrationWindowSeconds: number;
    unknownClientTriesKeptSeconds: number;
    housekeepingBatchSizeMax: number;
  },
): Promise<void> {
  const at = now.toISOString();
  const batch = limits.housekeepingBatchSizeMax;
  await sql.query(
    'DELETE FROM macro_logins WHERE login_id IN (SELECT login_id FROM macro_logins WHERE expires_at <= $1 LIMIT $2)',
    [at, batch],
  );
  await sql.query(
    'DELETE FROM macro_channels WHERE session_id IN (SELECT session_id FROM macro_channels WHERE expires_at <= $1 LIMIT $2)',
    [at, batch],
  );
  const windowStart = new Date(now.getTime() - limits.registrationWindowSeconds * 1000).toISOString();
  await sql.query(
    `DELETE FROM macro_registration_attempts WHERE id IN
       (SELECT id FROM macro_registration_attempts WHERE attempted_at <= $1 LIMIT $2)`,
    [windowStart, batch],
  );
  const triesBefore = new Date(now.getTime() - limits.unknownClientTriesKeptSeconds * 1000).toISOString();
  await sql.query(
    `DELETE FROM macro_login_tries WHERE client_id IN
       (SELECT t.client_id FROM macro_login_tries t
        WHERE t.last_try_at <= $1 AND NOT EXISTS (SELECT 1 FROM macro_clients c WHERE c.client_id = t.client_id)
        LIMIT $2)`,
    [triesBefore, batch],
  );
}
