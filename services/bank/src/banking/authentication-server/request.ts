import { decryptDirect, encryptDirect, type KeyBinding, signPayload, verifyPayload } from '@mpay/envelope';
import {
  type BankingClientId,
  type BankingRequest,
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
 * money request's own transaction: `lockSessionBinding`), and answered sealed under the session
 * key (`sealBankingAnswer`), the outcome recorded (`recordRequestOutcome`).
 *
 * Codes: BANKING_SESSION_INVALID (no such session, not active, expired,
 * idle), CRYPTO_DECRYPTION_FAILED (generic), BANKING_REQUEST_INVALID
 * (whatever else: the reason goes to the log only), BANKING_REQUEST_EXPIRED,
 * BANKING_REQUEST_REPLAYED.
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
 * Claims an opened request, in its own committed transaction, before it is
 * executed: the session (locked) still active, the binding (locked) still
 * active, the request not expired, then the banking_requests row (one per
 * request id, one per nonce and session) and the session's last use. A
 * second claim of the same request id or nonce is BANKING_REQUEST_REPLAYED,
 * so a replay can never run twice, even concurrently.
 */
export async function claimBankingRequest(
  context: BankingContext,
  opened: OpenedBankingRequest,
  now: Date,
): Promise<void> {
  const { sessionId } = opened;
  await context.database.transaction(async (sql) => {
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
    if (inserted.rowCount !== 1) {
      context.log.info({ sessionId, requestId: opened.requestId }, 'banking request replayed');
      throw new MpayError('BANKING_REQUEST_REPLAYED');
    }
    await touchSession(sql, sessionId, now);
  });
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
  });
  context.log.info({ sessionId: opened.sessionId, partyId: opened.partyId }, 'banking session logged out');
  return { sessionId: opened.sessionId, closedAt: now.toISOString() };
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

/** What a claimed request came to: the bank's signed answer (outcome 'OK'), or the code it was refused with. */
export async function recordRequestOutcome(
  context: BankingContext,
  requestId: string,
  outcome: { answer: string } | { code: string },
): Promise<void> {
  const [answer, code] = 'answer' in outcome ? [outcome.answer, 'OK'] : [null, outcome.code];
  const updated = await context.database.query(
    'UPDATE banking_requests SET answer = $2, outcome = $3 WHERE id = $1 AND outcome IS NULL',
    [requestId, answer, code],
  );
  if (updated.rowCount !== 1) throw new Error('assertion failed: a claimed request gets one outcome');
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
