import {
  decodeUnverified,
  decryptDirect,
  encryptDirect,
  type KeyBinding,
  signPayload,
  verifyPayload,
} from '@mpay/envelope';
import {
  type BankingClientId,
  type BankingRequest,
  type BankingRequestKind,
  canonicalize,
  isMpayError,
  isUuid,
  MpayError,
  parseBankingSignedRequest,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { BindingRejected, type BoundKey, boundKeyOfSerial } from '../../macro/device.ts';
import type { BankingContext } from '../context.ts';
import { exactContent } from './device-statement.ts';
import { openSessionKey } from './sealed-key.ts';
import {
  type ActiveBankingSession,
  activeSession,
  type BankingSessionRecord,
  endSessionsOfSerial,
  moveSession,
  selectBankingSession,
  sessionProblem,
  touchSession,
} from './sessions-store.ts';

/**
 * The authentication server's side of every banking request (SA2pMP §5.2:
 * "checking for userid/password legality", "verification of the digital
 * signature", "decryption of message(s)"): Equation 1,
 *
 *   Client → Bank : E(S(msg, ID_C))
 *
 * arrives as `{ sessionId, request }`, request = the session key's JWE
 * (dir, A256GCM, kid the session id) of the device's JWS over `{ banking:
 * { request, clientId, sessionId } }` (iss the party, aud the bank, txn a
 * fresh request id). It is opened and verified (`openBankingRequest`, no
 * writes), claimed in its own committed transaction (`claimBankingRequest`:
 * a replay can never run twice), executed by the business logic server
 * (which re-checks the session and its binding under their row locks in a
 * money request's own transaction: `lockSessionBinding`, and records the
 * request's outcome in that same transaction: `recordOutcomeWithEffect`),
 * and answered sealed under the session key (`sealBankingAnswer`), the
 * signed answer recorded (`recordBankingAnswer`). A retry of the same
 * request (same id, same signed content) is answered its recorded outcome
 * again, executing nothing (answer.ts answerBankingRequest).
 *
 * Codes: BANKING_SESSION_INVALID (no such session, not active, expired,
 * idle), CRYPTO_DECRYPTION_FAILED (generic), BANKING_REQUEST_INVALID
 * (whatever else: the reason goes to the log only), BANKING_REQUEST_EXPIRED,
 * BANKING_REQUEST_REPLAYED (a request id claimed with other content, a
 * nonce the session used under another id).
 */

/** A request the authentication server opened and verified: what the business logic server acts on. */
export interface OpenedBankingRequest {
  /** The JWS's txn: a UUID the device drew; banking_requests.id once claimed. */
  readonly requestId: string;
  readonly sessionId: string;
  /** The session's customer, the JWS's iss and the binding's subject. */
  readonly partyId: string;
  /** The session's key binding (the device's). */
  readonly serial: string;
  readonly binding: KeyBinding;
  /** ID_C as signed: the session device's SIM and PHID, and an account of its binding. */
  readonly clientId: BankingClientId;
  readonly request: BankingRequest;
  /** The device's JWS as received (the evidence: S(msg, ID_C)). */
  readonly jws: string;
  readonly nonce: string;
  readonly expiresAt: Date;
  /** The session key, to seal the answer: in memory only. */
  readonly sessionKey: Uint8Array;
}

/** Longest sealed request and signed request, in characters (banking_requests.request holds the JWS). */
const sealedRequestLengthMax = 32_768;
const signedRequestLengthMax = 16_384;

function requestInvalid(context: BankingContext, sessionId: string, reason: string): MpayError {
  context.log.info({ sessionId, reason }, 'banking request refused');
  return new MpayError('BANKING_REQUEST_INVALID');
}

function sessionInvalid(context: BankingContext, sessionId: string, reason: string): MpayError {
  context.log.info({ sessionId, reason }, 'banking request refused: session');
  return new MpayError('BANKING_SESSION_INVALID');
}

/** The session's device binding, re-checked: this bank's, active at `now`, the session's party's. */
async function sessionBinding(
  sql: Sql,
  context: BankingContext,
  sessionId: string,
  serial: string,
  partyId: string,
  now: Date,
  lock: boolean,
): Promise<BoundKey> {
  try {
    const bound = await boundKeyOfSerial(sql, context.bank, serial, now, lock);
    if (bound.binding.subject !== partyId)
      throw new BindingRejected(`binding ${serial} is not of ${partyId}`);
    return bound;
  } catch (error) {
    if (error instanceof BindingRejected) throw requestInvalid(context, sessionId, error.message);
    throw error;
  }
}

async function decryptRequest(sealed: string, sessionKey: Uint8Array, sessionId: string): Promise<string> {
  try {
    const bytes = await decryptDirect(sealed, sessionKey, {
      kid: sessionId,
      compactLengthMax: sealedRequestLengthMax,
    });
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // A wrong key, a forged tag, a wrong kid or algorithm, bytes that are no text: one answer.
    throw new MpayError('CRYPTO_DECRYPTION_FAILED');
  }
}

interface VerifiedRequest {
  readonly requestId: string;
  readonly nonce: string;
  readonly expiresAt: Date;
  readonly content: unknown;
}

async function verifyRequestSignature(
  context: BankingContext,
  jws: string,
  bound: BoundKey,
  partyId: string,
  now: Date,
): Promise<VerifiedRequest | { readonly reason: string } | { readonly expired: true }> {
  const signingJwk = bound.binding.signingJwk;
  try {
    const verified = await verifyPayload(
      jws,
      (kid) => {
        if (kid !== signingJwk.kid) throw new MpayError('CRYPTO_VERIFICATION_FAILED', 'kid');
        return signingJwk;
      },
      { audience: context.bank.id, issuer: partyId },
      {
        maxAgeSeconds: context.banking.limits.requestLifetimeSecondsMax,
        clockSkewSeconds: context.limits.customerAuthorisationClockSkewSeconds,
        now: () => now.getTime(),
        compactLengthMax: signedRequestLengthMax,
      },
    );
    const { txn, nonce, exp } = verified.claims;
    if (!isUuid(txn)) return { reason: 'txn is not a request id' };
    const content = exactContent(verified.payload, 'banking');
    if (content === undefined) return { reason: 'members other than banking and the claims' };
    return { requestId: txn, nonce, expiresAt: new Date(exp * 1000), content };
  } catch (error) {
    if (isMpayError(error, 'MESSAGE_EXPIRED')) return { expired: true };
    if (isMpayError(error))
      return { reason: `signature: ${error.code}${error.detail ? ` ${error.detail}` : ''}` };
    throw error;
  }
}

/** The ID_C parts registered for the binding's device (banking_devices), if any. */
async function registeredClient(sql: Sql, serial: string) {
  const { rows } = await sql.query<{ party_id: string; sim: string; phone_id: string }>(
    'SELECT party_id, sim, phone_id FROM banking_devices WHERE serial = $1',
    [serial],
  );
  return rows[0];
}

type CheckedRequest = Omit<OpenedBankingRequest, 'sessionId' | 'partyId' | 'serial' | 'sessionKey'>;

/** Everything after the session: decryption, signature, content, ID_C (see openBankingRequest). */
async function checkSealedRequest(
  context: BankingContext,
  session: ActiveBankingSession,
  sealed: string,
  sessionKey: Uint8Array,
  now: Date,
): Promise<CheckedRequest> {
  const { id: sessionId, partyId, serial } = session;
  const jws = await decryptRequest(sealed, sessionKey, sessionId);
  const bound = await sessionBinding(context.database, context, sessionId, serial, partyId, now, false);
  const verified = await verifyRequestSignature(context, jws, bound, partyId, now);
  if ('expired' in verified) throw new MpayError('BANKING_REQUEST_EXPIRED');
  if ('reason' in verified) throw requestInvalid(context, sessionId, verified.reason);
  let signed: ReturnType<typeof parseBankingSignedRequest>;
  try {
    signed = parseBankingSignedRequest(verified.content);
  } catch (error) {
    if (!isMpayError(error)) throw error;
    throw requestInvalid(context, sessionId, `content: ${error.detail ?? error.code}`);
  }
  if (signed.sessionId !== sessionId) throw requestInvalid(context, sessionId, 'signed for another session');
  const device = await registeredClient(context.database, serial);
  if (device === undefined || device.party_id !== partyId) {
    throw requestInvalid(context, sessionId, `binding ${serial} has no banking device of the party`);
  }
  if (device.sim !== signed.clientId.sim || device.phone_id !== signed.clientId.phoneId) {
    throw requestInvalid(context, sessionId, 'ID_C is not the session device’s');
  }
  if (!bound.binding.accounts.includes(signed.clientId.accountId)) {
    throw requestInvalid(context, sessionId, `binding ${serial} does not name the account`);
  }
  return {
    requestId: verified.requestId,
    binding: bound.binding,
    clientId: signed.clientId,
    request: signed.request,
    jws,
    nonce: verified.nonce,
    expiresAt: verified.expiresAt,
  };
}

/**
 * Opens and verifies a request; writes nothing. In order: the session is
 * active (not closed, not expired, not idle); the request decrypts under its
 * key; the JWS verifies under the session's device key, whose binding is
 * active, iss the session's party, aud this bank, lifetime at most
 * requestLifetimeSecondsMax, txn a UUID, members exactly `banking` and the
 * claims; the signed content parses strictly, names this session and the
 * device's registered SIM and PHID with an account of its binding; exp not
 * passed (checked with the signature: an expired request is EXPIRED only
 * when its signature holds).
 */
export async function openBankingRequest(
  context: BankingContext,
  body: { sessionId: string; request: string },
  now: Date,
): Promise<OpenedBankingRequest> {
  const { sessionId } = body;
  if (!isUuid(sessionId))
    throw sessionInvalid(context, String(sessionId).slice(0, 64), 'session id malformed');
  const session = activeSession(
    await selectBankingSession(context.database, sessionId, false),
    context.banking.limits.sessionIdleSeconds,
    now,
  );
  if ('problem' in session) throw sessionInvalid(context, sessionId, session.problem);
  const sessionKey = await openSessionKey(context, session.sealedSessionKey);
  try {
    const checked = await checkSealedRequest(context, session, body.request, sessionKey, now);
    return Object.freeze({
      ...checked,
      sessionId,
      partyId: session.partyId,
      serial: session.serial,
      sessionKey,
    });
  } catch (error) {
    // The key lives only as long as the request that needs it.
    sessionKey.fill(0);
    throw error;
  }
}

/**
 * What claiming a request found (claimBankingRequest): a request id new to
 * the bank, claimed now (`claimed`); or a retry of one claimed before with
 * the same signed content: its recorded outcome (`answered` with its result,
 * `refused` with its code), or none yet (`unfinished`).
 */
export type ClaimedBankingRequest =
  | { readonly state: 'claimed' }
  | { readonly state: 'unfinished' }
  | { readonly state: 'answered'; readonly result: Readonly<Record<string, unknown>> }
  | { readonly state: 'refused'; readonly code: string };

/**
 * The request kinds that write nothing: their outcome is recorded after
 * they answered (recordBankingAnswer). Every other kind records its outcome
 * in the transaction of its effect (recordOutcomeWithEffect).
 */
export const readOnlyBankingKinds: ReadonlySet<BankingRequestKind> = new Set<BankingRequestKind>([
  'balance',
  'statement',
  'devices',
  'renewal_notices',
]);

interface RequestRow {
  readonly session_id: string;
  readonly party_id: string;
  readonly serial: string;
  readonly kind: string;
  readonly request: string;
  readonly outcome: string | null;
  readonly answer: string | null;
  readonly result: string | null;
}

/** The `banking` member a device's JWS signed (request, ID_C, session), canonical: undefined if none. */
function signedContentOf(jws: string): string | undefined {
  const payload = decodeUnverified(jws)?.payload;
  if (!isRecord(payload) || !isRecord(payload.banking)) return undefined;
  try {
    return canonicalize(payload.banking);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The result a request with outcome 'OK' answered: that of the bank's signed
 * answer when one was recorded (the last word: a money order's state after
 * its delivery), else the result its effect's transaction recorded.
 */
function recordedResult(row: RequestRow): Readonly<Record<string, unknown>> {
  let result: unknown;
  if (row.answer !== null) {
    const payload = decodeUnverified(row.answer)?.payload;
    const answer = isRecord(payload) ? payload.bankingAnswer : undefined;
    result = isRecord(answer) ? answer.result : undefined;
  } else if (row.result !== null) {
    result = JSON.parse(row.result) as unknown;
  }
  if (!isRecord(result)) throw new Error('assertion failed: an OK outcome has its result');
  return result;
}

/** The outcome recorded on a claimed request's row, as a retry is answered. */
function claimedStateOf(row: RequestRow): Exclude<ClaimedBankingRequest, { state: 'claimed' }> {
  if (row.outcome === null) return { state: 'unfinished' };
  if (row.outcome === 'OK') return { state: 'answered', result: recordedResult(row) };
  return { state: 'refused', code: row.outcome };
}

async function selectRequestRow(sql: Sql, requestId: string): Promise<RequestRow | undefined> {
  const { rows } = await sql.query<RequestRow>(
    `SELECT session_id, party_id, serial, kind, request, outcome, answer, result
       FROM banking_requests WHERE id = $1`,
    [requestId],
  );
  return rows[0];
}

/**
 * Claims an opened request, in its own committed transaction, before it is
 * executed: the session (locked) still active, the binding (locked) still
 * active, the request not expired, then the banking_requests row (one per
 * request id, one per nonce and session) and the session's last use.
 *
 * A request id claimed before is a retry only when it is the same request:
 * same session, party, binding and kind, and the same signed content (the
 * JWS's `banking` member, canonical: the device may sign it again, with
 * another nonce and lifetime, as the SDK does for an order retried with its
 * request id). Then the claim answers what the first claim came to (see
 * ClaimedBankingRequest) and writes nothing, not even the session's use (a
 * sealed request replayed by someone who saw it keeps no session alive; it
 * only gets an answer sealed under a key they do not have). Anything else
 * under a claimed id, and a nonce the session used under another id, is
 * BANKING_REQUEST_REPLAYED: a replay never runs twice, even concurrently.
 */
export async function claimBankingRequest(
  context: BankingContext,
  opened: OpenedBankingRequest,
  now: Date,
): Promise<ClaimedBankingRequest> {
  const { sessionId } = opened;
  return context.database.transaction(async (sql) => {
    const session = activeSession(
      await selectBankingSession(sql, sessionId, true),
      context.banking.limits.sessionIdleSeconds,
      now,
    );
    if ('problem' in session) throw sessionInvalid(context, sessionId, session.problem);
    if (session.serial !== opened.serial || session.partyId !== opened.partyId) {
      throw new Error('assertion failed: a claimed request is of its session');
    }
    await sessionBinding(sql, context, sessionId, opened.serial, opened.partyId, now, true);
    // As openBankingRequest judged it (verifyClaims: expired once exp is past by more than the skew).
    const skewMs = context.limits.customerAuthorisationClockSkewSeconds * 1000;
    if (now.getTime() - skewMs >= opened.expiresAt.getTime()) throw new MpayError('BANKING_REQUEST_EXPIRED');
    const inserted = await sql.query(
      `INSERT INTO banking_requests (id, session_id, party_id, serial, kind, nonce, request, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT DO NOTHING`,
      [
        opened.requestId,
        sessionId,
        opened.partyId,
        opened.serial,
        opened.request.kind,
        opened.nonce,
        opened.jws,
        now.toISOString(),
      ],
    );
    if (inserted.rowCount === 1) {
      await touchSession(sql, sessionId, now);
      return { state: 'claimed' } as const;
    }
    const row = await selectRequestRow(sql, opened.requestId);
    const content = signedContentOf(opened.jws);
    if (
      row === undefined ||
      row.session_id !== sessionId ||
      row.party_id !== opened.partyId ||
      row.serial !== opened.serial ||
      row.kind !== opened.request.kind ||
      content === undefined ||
      signedContentOf(row.request) !== content
    ) {
      context.log.info({ sessionId, requestId: opened.requestId }, 'banking request replayed');
      throw new MpayError('BANKING_REQUEST_REPLAYED');
    }
    // A retry is signed again: a nonce this session used already (the first try's, another request's,
    // an earlier retry's) is a copy replayed by whoever saw it, and gets nothing (no outcome, no code).
    const nonceIsNew = await sql.query(
      `INSERT INTO banking_retry_nonces (session_id, nonce, request_id, received_at)
       SELECT $1, $2, $3, $4
       WHERE NOT EXISTS (SELECT 1 FROM banking_requests WHERE session_id = $1 AND nonce = $2)
       ON CONFLICT DO NOTHING`,
      [sessionId, opened.nonce, opened.requestId, now.toISOString()],
    );
    if (nonceIsNew.rowCount !== 1) {
      context.log.info({ sessionId, requestId: opened.requestId }, 'banking request replayed (its nonce)');
      throw new MpayError('BANKING_REQUEST_REPLAYED');
    }
    const state = claimedStateOf(row);
    context.log.info(
      { sessionId, requestId: opened.requestId, state: state.state },
      'banking request received again',
    );
    return state;
  });
}

/**
 * Thrown in an effect's transaction (recordOutcomeWithEffect) when the
 * request has an outcome already (a concurrent try of the same request
 * recorded it first): the transaction rolls back, nothing of this try is
 * written, and the request is answered with the recorded outcome.
 */
export class BankingOutcomeRecorded extends Error {
  constructor(readonly requestId: string) {
    super(`banking request ${requestId} has an outcome already`);
    this.name = 'BankingOutcomeRecorded';
  }
}

/**
 * Records a writing request's outcome IN the transaction of its effect
 * (`sql`): outcome 'OK' and the plain result the device is answered (not
 * the sealed answer: it is sealed under the session key, which lives in
 * memory only and is never stored; not the signed answer either, signed
 * when the request is answered, with its own lifetime). The effect and the
 * outcome commit together or not at all, so a claimed request without an
 * outcome is one whose effect never committed: a retry may run it (see
 * answerBankingRequest). The row stays locked to the end of the
 * transaction: a concurrent try of the same request waits here, then finds
 * the outcome and rolls back (BankingOutcomeRecorded).
 */
export async function recordOutcomeWithEffect(
  sql: Sql,
  opened: OpenedBankingRequest,
  result: Readonly<Record<string, unknown>>,
): Promise<void> {
  if (readOnlyBankingKinds.has(opened.request.kind)) {
    throw new Error('assertion failed: a request that writes records its outcome with its effect');
  }
  const updated = await sql.query(
    "UPDATE banking_requests SET outcome = 'OK', result = $2 WHERE id = $1 AND outcome IS NULL",
    [opened.requestId, JSON.stringify(result)],
  );
  if (updated.rowCount !== 1) throw new BankingOutcomeRecorded(opened.requestId);
}

/**
 * The request's session, locked to the end of the caller's transaction (a
 * close that comes later waits for the caller).
 */
function lockSession(sql: Sql, opened: OpenedBankingRequest) {
  return selectBankingSession(sql, opened.sessionId, true);
}

/**
 * The locked session checked again: still active, not expired, not idle (a
 * logout, a password reset, a revocation or a renewal that committed since
 * the claim closed it): BANKING_SESSION_INVALID otherwise.
 */
function requireSessionOpen(
  context: BankingContext,
  opened: OpenedBankingRequest,
  session: BankingSessionRecord | undefined,
  now: Date,
): void {
  const problem = sessionProblem(session, context.banking.limits.sessionIdleSeconds, now);
  if (problem !== undefined) throw sessionInvalid(context, opened.sessionId, problem);
  if (session?.serial !== opened.serial || session.partyId !== opened.partyId) {
    throw new Error('assertion failed: a claimed request is of its session');
  }
}

/**
 * For a money (or key) request's own transaction: the session row and then
 * the session's binding (the claim's order), locked to the end of that
 * transaction and checked again. A binding revoked since the claim refuses
 * the request with BANKING_REQUEST_INVALID (checked first: the contract's
 * code for a key revoked in flight, whether or not its sessions were closed
 * with it); a session closed since (logout, password reset, expiry) with
 * BANKING_SESSION_INVALID. A close or revocation that comes later waits for
 * the debit.
 */
export async function lockSessionBinding(
  sql: Sql,
  context: BankingContext,
  opened: OpenedBankingRequest,
  now: Date,
): Promise<BoundKey> {
  const session = await lockSession(sql, opened);
  const bound = await sessionBinding(
    sql,
    context,
    opened.sessionId,
    opened.serial,
    opened.partyId,
    now,
    true,
  );
  requireSessionOpen(context, opened, session, now);
  if (!bound.binding.accounts.includes(opened.clientId.accountId)) {
    throw requestInvalid(context, opened.sessionId, `binding ${opened.serial} no longer names the account`);
  }
  return bound;
}

/**
 * The `logout` request → `{sessionId, closedAt}`: under the session row's
 * lock, the session moves active → closed ('logged out') and its sealed key
 * is erased, so no later request opens in it (BANKING_SESSION_INVALID). The
 * answer is still sealed under the session key, which the request holds in
 * memory since it was opened, and wiped when it is answered.
 */
export async function logoutBankingSession(
  context: BankingContext,
  opened: OpenedBankingRequest,
  now: Date,
): Promise<Readonly<Record<string, unknown>>> {
  if (opened.request.kind !== 'logout') throw new Error('assertion failed: a logout request');
  const result = { sessionId: opened.sessionId, closedAt: now.toISOString() };
  await context.database.transaction(async (sql) => {
    requireSessionOpen(context, opened, await lockSession(sql, opened), now);
    await moveSession(
      sql,
      opened.sessionId,
      'active',
      'closed',
      { closedReason: 'logged out', sealedSessionKey: null, codeHash: null },
      now,
    );
    await recordOutcomeWithEffect(sql, opened, result);
  });
  context.log.info({ sessionId: opened.sessionId, partyId: opened.partyId }, 'banking session logged out');
  return result;
}

/** Lifetime of the bank's signed answer (the spec's expiresInSeconds 300). */
const answerLifetimeSeconds = 300;

/**
 * The bank's answer: its JWS (iss bank, aud the party, txn the request id)
 * over `{ bankingAnswer: { requestId, sessionId, kind, result } }`, and that
 * JWS sealed under the session key (dir, A256GCM, kid the session id).
 */
export async function sealBankingAnswer(
  context: BankingContext,
  opened: OpenedBankingRequest,
  result: Readonly<Record<string, unknown>>,
): Promise<{ jws: string; sealed: string }> {
  const jws = await signPayload(
    {
      bankingAnswer: {
        requestId: opened.requestId,
        sessionId: opened.sessionId,
        kind: opened.request.kind,
        result,
      },
    },
    {
      issuer: context.bank.id,
      audience: opened.partyId,
      transactionId: opened.requestId,
      expiresInSeconds: answerLifetimeSeconds,
      now: () => context.clock().getTime(),
    },
    context.bank.signingKey,
  );
  const sealed = await encryptDirect(jws, opened.sessionKey, { kid: opened.sessionId });
  return { jws, sealed };
}

/**
 * The bank's signed answer to a claimed request, recorded once it is
 * signed (the evidence; a retry answered again is signed again, not
 * recorded again): for a read-only kind with its outcome 'OK'; for a kind
 * that writes, on the outcome its effect's transaction recorded. Answers
 * false when the request had another outcome already (a concurrent try's:
 * the caller answers that one).
 */
export async function recordBankingAnswer(
  context: BankingContext,
  opened: OpenedBankingRequest,
  jws: string,
): Promise<boolean> {
  const before = await context.database.transaction(async (sql) => {
    const { rows } = await sql.query<{ outcome: string | null; answer: string | null }>(
      'SELECT outcome, answer FROM banking_requests WHERE id = $1 FOR UPDATE',
      [opened.requestId],
    );
    const row = rows[0];
    if (row === undefined) throw new Error('assertion failed: an answered request was claimed');
    if (row.answer === null && (row.outcome === null || row.outcome === 'OK')) {
      await sql.query("UPDATE banking_requests SET outcome = 'OK', answer = $2 WHERE id = $1", [
        opened.requestId,
        jws,
      ]);
    }
    return row;
  });
  if (before.outcome === null && !readOnlyBankingKinds.has(opened.request.kind)) {
    // Only a request whose effect predates recordOutcomeWithEffect (or an executor that forgot it).
    context.log.warn(
      { requestId: opened.requestId, kind: opened.request.kind },
      'banking request that writes recorded its outcome after its effect',
    );
  }
  // Answered already (a concurrent try signed first) is fine; another outcome is the caller's to answer.
  return before.outcome === null || before.outcome === 'OK';
}

/**
 * Records a refusal (an MpayError of the executor: nothing of the request
 * committed) on a claimed request without an outcome. Answers false when it
 * had one already (a concurrent try's, which the caller answers instead).
 */
export async function recordBankingRefusal(
  context: BankingContext,
  requestId: string,
  code: string,
): Promise<boolean> {
  const updated = await context.database.query(
    'UPDATE banking_requests SET outcome = $2 WHERE id = $1 AND outcome IS NULL',
    [requestId, code],
  );
  return updated.rowCount === 1;
}

/** A claimed request's recorded outcome, read again (after a concurrent try recorded it). */
export async function recordedBankingOutcome(
  context: BankingContext,
  requestId: string,
): Promise<Exclude<ClaimedBankingRequest, { state: 'claimed' }>> {
  const row = await selectRequestRow(context.database, requestId);
  if (row === undefined) throw new Error('assertion failed: a claimed request has its row');
  return claimedStateOf(row);
}

/**
 * Ends every login and session of the binding `serial` (the key management
 * server's revocation and renewal, in their transaction): active sessions
 * closed, logins waiting for their code refused, sealed keys erased. Returns
 * how many ended.
 */
export function closeSessionsOfSerial(sql: Sql, serial: string, reason: string, now: Date): Promise<number> {
  return endSessionsOfSerial(sql, serial, reason, now);
}
