import { type BankingLoginState, bankingLoginTable, isBankingLoginState } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';

/**
 * banking_sessions: a login and, once every factor is proved, the session it
 * opens (same id). Every change of state goes through `moveSession`, which
 * checks the move against the protocol's table (bankingLoginTable) and
 * against the state the row is in, so a step can never apply twice.
 */
export interface BankingSessionRecord {
  readonly id: string;
  readonly partyId: string;
  readonly state: BankingLoginState;
  /** OPAQUE's server state between the login's first and second step only. */
  readonly serverLoginState: string | undefined;
  /** The key binding of the device that proved possession (from the second step on). */
  readonly serial: string | undefined;
  /** The device's signed second step (its ID_C, MSISDN and ECDH share), as received. */
  readonly deviceStatement: string | undefined;
  /** The session key, sealed to the bank's encryption key (JWE); never in clear. */
  readonly sealedSessionKey: string | undefined;
  readonly codeHash: string | undefined;
  readonly codeExpiresAt: Date | undefined;
  readonly codeFailures: number;
  /** The login's end while it is one, then the session's. */
  readonly expiresAt: Date;
  readonly lastUsedAt: Date | undefined;
}

interface SessionRow {
  id: string;
  party_id: string;
  state: string;
  server_login_state: string | null;
  serial: string | null;
  device_statement: string | null;
  sealed_session_key: string | null;
  code_hash: string | null;
  code_expires_at: Date | string | null;
  code_failures: number;
  expires_at: Date | string;
  last_used_at: Date | string | null;
}

const sessionSelect = `SELECT id::text AS id, party_id, state, server_login_state, serial, device_statement,
    sealed_session_key, code_hash, code_expires_at, code_failures, expires_at, last_used_at
  FROM banking_sessions`;

function dateOrUndefined(value: Date | string | null): Date | undefined {
  return value === null ? undefined : new Date(value);
}

function sessionFromRow(row: SessionRow): BankingSessionRecord {
  if (!isBankingLoginState(row.state)) throw new Error(`assertion failed: a login state, got ${row.state}`);
  return Object.freeze({
    id: row.id,
    partyId: row.party_id,
    state: row.state,
    serverLoginState: row.server_login_state ?? undefined,
    serial: row.serial ?? undefined,
    deviceStatement: row.device_statement ?? undefined,
    sealedSessionKey: row.sealed_session_key ?? undefined,
    codeHash: row.code_hash ?? undefined,
    codeExpiresAt: dateOrUndefined(row.code_expires_at),
    codeFailures: row.code_failures,
    expiresAt: new Date(row.expires_at),
    lastUsedAt: dateOrUndefined(row.last_used_at),
  });
}

/** A login or session by id; `lock` holds its row until the transaction ends (one step at a time). */
export async function selectBankingSession(
  sql: Sql,
  id: string,
  lock: boolean,
): Promise<BankingSessionRecord | undefined> {
  const { rows } = await sql.query<SessionRow>(`${sessionSelect} WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [
    id,
  ]);
  return rows[0] === undefined ? undefined : sessionFromRow(rows[0]);
}

/** A new login of a known customer, after OPAQUE's first answer. */
export async function insertLogin(
  sql: Sql,
  login: { id: string; partyId: string; serverLoginState: string; expiresAt: Date },
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO banking_sessions (id, party_id, state, server_login_state, expires_at, created_at, updated_at)
     VALUES ($1, $2, 'password_started', $3, $4, $5, $5)`,
    [login.id, login.partyId, login.serverLoginState, login.expiresAt.toISOString(), now.toISOString()],
  );
}

/** The columns a move may set; undefined leaves a column as it is, null clears it. */
export interface SessionChanges {
  readonly serverLoginState?: null;
  readonly serial?: string;
  readonly deviceStatement?: string;
  readonly sealedSessionKey?: string | null;
  readonly codeHash?: string | null;
  readonly codeExpiresAt?: Date;
  readonly codeFailures?: number;
  readonly closedReason?: string;
  readonly expiresAt?: Date;
  readonly lastUsedAt?: Date;
}

const columns: Readonly<Record<keyof SessionChanges, string>> = {
  serverLoginState: 'server_login_state',
  serial: 'serial',
  deviceStatement: 'device_statement',
  sealedSessionKey: 'sealed_session_key',
  codeHash: 'code_hash',
  codeExpiresAt: 'code_expires_at',
  codeFailures: 'code_failures',
  closedReason: 'closed_reason',
  expiresAt: 'expires_at',
  lastUsedAt: 'last_used_at',
};

/**
 * Moves a login from `from` to `to` (a move the table allows, or staying in
 * `from`), setting `changes`. The row must be in `from`: the caller holds its
 * lock, so anything else is a bug.
 */
export async function moveSession(
  sql: Sql,
  id: string,
  from: BankingLoginState,
  to: BankingLoginState,
  changes: SessionChanges,
  now: Date,
): Promise<void> {
  if (from !== to && !bankingLoginTable[from].next.includes(to)) {
    throw new Error(`assertion failed: a ${from} login does not become ${to}`);
  }
  const assignments = ['state = $3', 'updated_at = $4'];
  const params: unknown[] = [id, from, to, now.toISOString()];
  for (const [name, value] of Object.entries(changes) as [keyof SessionChanges, unknown][]) {
    if (value === undefined) continue;
    params.push(value instanceof Date ? value.toISOString() : value);
    assignments.push(`${columns[name]} = $${params.length}`);
  }
  const updated = await sql.query(
    `UPDATE banking_sessions SET ${assignments.join(', ')} WHERE id = $1 AND state = $2`,
    params,
  );
  if (updated.rowCount !== 1) throw new Error(`assertion failed: login ${id} was ${from}`);
}

/**
 * Refuses a login still waiting for its code (the code could not be sent):
 * its secrets erased. A login that moved on meanwhile (refused after wrong
 * guesses, ended with its binding) is left as it is.
 */
export async function abandonLogin(sql: Sql, id: string, reason: string, now: Date): Promise<boolean> {
  if (!bankingLoginTable.code_sent.next.includes('refused')) {
    throw new Error('assertion failed: a code_sent login may be refused');
  }
  const updated = await sql.query(
    `UPDATE banking_sessions
     SET state = 'refused', closed_reason = $2, sealed_session_key = NULL, code_hash = NULL, updated_at = $3
     WHERE id = $1 AND state = 'code_sent'`,
    [id, reason, now.toISOString()],
  );
  return updated.rowCount === 1;
}

/** A request used the session: its idle time starts again. */
export async function touchSession(sql: Sql, id: string, now: Date): Promise<void> {
  const updated = await sql.query(
    `UPDATE banking_sessions SET last_used_at = $2, updated_at = $2 WHERE id = $1 AND state = 'active'`,
    [id, now.toISOString()],
  );
  if (updated.rowCount !== 1) throw new Error('assertion failed: a claimed session is active');
}

function requireReason(reason: string): void {
  if (reason.length < 1 || reason.length > 200)
    throw new Error('assertion failed: a reason of 1..200 characters');
}

/**
 * Ends every login and session of a key binding (revoked or renewed): active
 * sessions are closed, logins waiting for their code refused; the sealed
 * session keys are erased. Returns how many ended.
 */
export async function endSessionsOfSerial(
  sql: Sql,
  serial: string,
  reason: string,
  now: Date,
): Promise<number> {
  requireReason(reason);
  const ended = await sql.query(
    `UPDATE banking_sessions
     SET state = CASE state WHEN 'active' THEN 'closed' ELSE 'refused' END,
         closed_reason = $2, sealed_session_key = NULL, code_hash = NULL, updated_at = $3
     WHERE serial = $1 AND state IN ('active', 'code_sent')`,
    [serial, reason, now.toISOString()],
  );
  return ended.rowCount;
}

/**
 * Ends every login and session of a customer (the operator reset the
 * password: it may be known to someone else): logins still proving their
 * factors refused, active sessions closed; the sealed session keys, the
 * codes' hashes and OPAQUE's login states erased. Returns how many ended.
 */
export async function endSessionsOfParty(
  sql: Sql,
  partyId: string,
  reason: string,
  now: Date,
): Promise<number> {
  requireReason(reason);
  const ended = await sql.query(
    `UPDATE banking_sessions
     SET state = CASE state WHEN 'active' THEN 'closed' ELSE 'refused' END,
         closed_reason = $2, sealed_session_key = NULL, code_hash = NULL, server_login_state = NULL,
         updated_at = $3
     WHERE party_id = $1 AND state IN ('password_started', 'code_sent', 'active')`,
    [partyId, reason, now.toISOString()],
  );
  return ended.rowCount;
}

/**
 * Closes sessions past their lifetime or idle since `idleSince` (reason
 * 'expired') and refuses logins past theirs, at most `batchMax` of them,
 * erasing their sealed session keys, codes' hashes and OPAQUE's login
 * states: a session nobody can use keeps no key. Rows another transaction
 * holds (a request being claimed) are left to the next sweep. Returns how
 * many ended.
 */
export async function endLapsedSessions(
  sql: Sql,
  idleSince: Date,
  batchMax: number,
  now: Date,
): Promise<number> {
  if (!Number.isSafeInteger(batchMax) || batchMax < 1) {
    throw new Error('assertion failed: a positive integer batch');
  }
  const ended = await sql.query(
    `UPDATE banking_sessions
     SET state = CASE state WHEN 'active' THEN 'closed' ELSE 'refused' END,
         closed_reason = 'expired', sealed_session_key = NULL, code_hash = NULL, server_login_state = NULL,
         updated_at = $1
     WHERE id IN (
       SELECT id FROM banking_sessions
       WHERE (state IN ('password_started', 'code_sent', 'active') AND expires_at <= $1)
          OR (state = 'active' AND last_used_at <= $2)
       ORDER BY expires_at
       LIMIT $3
       FOR UPDATE SKIP LOCKED
     )`,
    [now.toISOString(), idleSince.toISOString(), batchMax],
  );
  return ended.rowCount;
}

/** An active session, as requests use it. */
export interface ActiveBankingSession {
  readonly id: string;
  readonly partyId: string;
  readonly serial: string;
  readonly sealedSessionKey: string;
}

/**
 * Why a session may not carry requests at `now` (closed, refused or still a
 * login; expired; idle), for the log only; undefined when it may.
 */
export function sessionProblem(
  session: BankingSessionRecord | undefined,
  idleSeconds: number,
  now: Date,
): string | undefined {
  if (session === undefined) return 'unknown session';
  if (session.state !== 'active') return `session ${session.state}`;
  if (session.lastUsedAt === undefined)
    throw new Error('assertion failed: an active session has its last use');
  if (now.getTime() >= session.expiresAt.getTime()) return 'session expired';
  if (now.getTime() - session.lastUsedAt.getTime() >= idleSeconds * 1000) return 'session idle';
  return undefined;
}

/** The session if requests may use it at `now` (active, not expired, not idle), else why not (for the log only). */
export function activeSession(
  session: BankingSessionRecord | undefined,
  idleSeconds: number,
  now: Date,
): ActiveBankingSession | { readonly problem: string } {
  const problem = sessionProblem(session, idleSeconds, now);
  if (problem !== undefined || session === undefined) return { problem: problem ?? 'unknown session' };
  const { id, partyId, serial, sealedSessionKey } = session;
  if (serial === undefined || sealedSessionKey === undefined) {
    throw new Error('assertion failed: an active session has its device and its key');
  }
  return { id, partyId, serial, sealedSessionKey };
}
