import { decryptDirect, signPayload } from '@mpay/envelope';
import {
  type BankingLoginContent,
  type BankingLoginSnapshot,
  type BankingLoginStartContent,
  type BankingLoginStepResult,
  type EphemeralPublicJwk,
  isBankingUserId,
  isMpayError,
  isUuid,
  MpayError,
  maskMsisdn,
  parseBankingCodeContent,
  parseBankingLoginContent,
  parseBankingLoginStartContent,
  startBankingLoginTry,
  stepBankingLogin,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { BindingRejected, type BoundKey, boundKeyOfSerial } from '../../macro/device.ts';
import type { BankingContext } from '../context.ts';
import { drawLoginCode, loginCodeHash, loginCodeMatches, loginCodeText } from './code.ts';
import {
  type BankingCustomerRecord,
  selectBankingCustomer,
  selectBankingCustomerByUserId,
  updateLoginFailures,
} from './customers-store.ts';
import { messageHash, StatementRejected, storedContent, verifyDeviceStatement } from './device-statement.ts';
import { finishOpaqueLogin, opaqueMessagePattern, startOpaqueLogin } from './opaque.ts';
import { openSessionKey, sealSessionKey } from './sealed-key.ts';
import { deriveBankingSessionKey, generateBankingEcdhKeyPair } from './session-key.ts';
import {
  abandonLogin,
  type BankingSessionRecord,
  insertLogin,
  moveSession,
  selectBankingSession,
} from './sessions-store.ts';
import { unknownUserLoginsOf } from './unknown-logins.ts';

/**
 * The multi-factor login of SA2pMP §4.2, in three steps, each a transaction
 * that takes `stepBankingLogin`'s next state with its effects:
 *
 *   1. POST /banking/logins {userId, startLoginRequest, device} → {loginId,
 *      loginResponse} (OPAQUE KE2). `device` is the device's JWS over
 *      `{ bankingLoginStart: { userId, messageHash } }` (txn a fresh UUID v4,
 *      at most 120 s). Only a start whose statement verifies under an active
 *      binding of that customer with a banking device registration, whose txn
 *      names no login yet, is answered from the customer's record, counted,
 *      and stored with the txn as its login id (the device names it, signed;
 *      the primary key makes the statement single-use, across restarts).
 *      Anything else (no valid statement, a replayed one, an unknown user id,
 *      no password) is answered with a decoy KE2 (OPAQUE's fake record under
 *      the user id's decoy identifier) and a random login id, not counted,
 *      nothing stored per customer, never BANKING_LOGIN_BLOCKED: step 1 can
 *      neither block a customer nor tell which user ids have a password.
 *   2. POST /banking/logins/:loginId/finish {finishLoginRequest, device}
 *      → {loginId, answer}: the password (OPAQUE finish), the device
 *      (signature under an active binding of the customer whose registered
 *      ID_C it names) and the phone number it states; then the session key
 *      (ECDH P-256 + the OPAQUE session key), and a code by SMS to the
 *      REGISTERED number, sent after the transaction that recorded it commits.
 *   3. POST /banking/logins/:loginId/code {code} → {sessionId, expiresAt,
 *      statement}: the code, sealed under the session key (so only the
 *      device that made the key can send it).
 *
 * Counted (failed_logins, across devices and factors): every device-signed
 * login when its first step is answered (KE2 lets the client test one guess
 * by itself), and every wrong code that opened under the session key. A
 * failed factor at the finish is not counted again; it blocks when the count
 * is full. Not counted: a code that does not open under the session key or
 * is malformed (it tests nothing), a login past its lifetime, a code past its
 * expiry, a step replayed. An SMS the gateway refused gives the start's try
 * back (the customer proved every factor; an SMS outage must not lock
 * customers out). Only a proved code resets the count. A device-signed start
 * that finds the count at loginFailuresMax, or a failure that finds it full,
 * blocks the customer (BANKING_LOGIN_BLOCKED, a warning in the log) until
 * the bank unblocks.
 */

/** Longest lifetime (exp − iat) of a login start's device statement, in seconds. */
export const loginStartStatementLifetimeSecondsMax = 120;

export interface StartedBankingLogin {
  readonly loginId: string;
  readonly loginResponse: string;
}

export interface LoginStartRequest {
  readonly userId: string;
  readonly startLoginRequest: string;
  /** The device's JWS over `{ bankingLoginStart: { userId, messageHash } }`, txn a fresh UUID v4. */
  readonly device: string;
}

/**
 * The start's device statement, checked on its own (no customer needed yet):
 * signature under an active binding, lifetime, content naming this user id
 * and this KE1, txn a UUID v4. Else why not (for the log).
 */
async function verifyStartStatement(
  sql: Sql,
  context: BankingContext,
  request: LoginStartRequest,
  now: Date,
): Promise<{ readonly bound: BoundKey; readonly loginId: string } | { readonly reason: string }> {
  let statement: Awaited<ReturnType<typeof verifyDeviceStatement>>;
  try {
    statement = await verifyDeviceStatement(
      sql,
      context,
      request.device,
      { member: 'bankingLoginStart', transactionId: 'caller' },
      now,
      false,
    );
  } catch (error) {
    if (error instanceof StatementRejected) return { reason: `device: ${error.message}` };
    throw error;
  }
  const { claims, bound } = statement;
  if (claims.exp - claims.iat > loginStartStatementLifetimeSecondsMax) {
    return { reason: 'device statement lives too long' };
  }
  if (!isUuid(claims.txn)) return { reason: 'txn is not a UUID' };
  let content: BankingLoginStartContent;
  try {
    content = parseBankingLoginStartContent(statement.content);
  } catch (error) {
    if (isMpayError(error)) return { reason: `device content: ${error.detail ?? error.code}` };
    throw error;
  }
  if (content.userId !== request.userId) return { reason: 'userId differs from the signed one' };
  if (content.messageHash !== messageHash(request.startLoginRequest))
    return { reason: 'messageHash differs' };
  return { bound, loginId: claims.txn };
}

type StartOutcome =
  | { readonly kind: 'blocked' }
  | { readonly kind: 'decoy'; readonly reason: string }
  | { readonly kind: 'stored'; readonly loginId: string; readonly loginResponse: string };

/** The counted start of a customer whose device signed it: KE2 from the record, the login stored. */
async function countedStart(
  sql: Sql,
  context: BankingContext,
  customer: BankingCustomerRecord & { readonly opaqueRecord: string; readonly opaqueCredentialId: string },
  request: LoginStartRequest,
  loginId: string,
  now: Date,
): Promise<StartOutcome> {
  const { limits, opaqueServerSetup } = context.banking;
  // KE2 lets the client test one password guess by itself: the try is counted before it is answered.
  const tried = startBankingLoginTry(customer.failedLogins, limits);
  if (!tried.allowed) {
    // The tries that filled the count were started and never finished: blocked now.
    await updateLoginFailures(sql, customer.partyId, customer.failedLogins, true, now);
    context.log.warn(
      { alert: 'banking_login_blocked', partyId: customer.partyId, failedLogins: customer.failedLogins },
      'mobile banking blocked after too many failed logins',
    );
    return { kind: 'blocked' };
  }
  await updateLoginFailures(sql, customer.partyId, tried.customerFailures, false, now);
  const opaque = await startOpaqueLogin(
    opaqueServerSetup,
    request.userId,
    { registrationRecord: customer.opaqueRecord, credentialId: customer.opaqueCredentialId },
    request.startLoginRequest,
  );
  const expiresAt = new Date(now.getTime() + limits.loginLifetimeSeconds * 1000);
  await insertLogin(
    sql,
    { id: loginId, partyId: customer.partyId, serverLoginState: opaque.serverLoginState, expiresAt },
    now,
  );
  return { kind: 'stored', loginId, loginResponse: opaque.loginResponse };
}

export async function startBankingLogin(
  context: BankingContext,
  request: LoginStartRequest,
  now: Date,
): Promise<StartedBankingLogin> {
  // The formats are public: a malformed one is a malformed request, whoever it names.
  if (!isBankingUserId(request.userId)) throw new MpayError('REQUEST_INVALID', 'userId');
  if (!opaqueMessagePattern.test(request.startLoginRequest)) {
    throw new MpayError('REQUEST_INVALID', 'startLoginRequest');
  }
  const outcome = await context.database.transaction(async (sql): Promise<StartOutcome> => {
    const signed = await verifyStartStatement(sql, context, request, now);
    if ('reason' in signed) return { kind: 'decoy', reason: signed.reason };
    const { bound, loginId } = signed;
    const customer = await selectBankingCustomerByUserId(sql, request.userId, true);
    if (customer === undefined || customer.partyId !== bound.binding.subject) {
      return { kind: 'decoy', reason: `binding ${bound.serial} is not a key of the user id's customer` };
    }
    const device = await registeredDevice(sql, bound.serial);
    if (device === undefined || device.party_id !== customer.partyId) {
      return { kind: 'decoy', reason: `binding ${bound.serial} has no banking device of the customer` };
    }
    // The statement is single-use: its txn becomes the login id (a primary key).
    if (await selectBankingSession(sql, loginId, false)) {
      return { kind: 'decoy', reason: 'txn names a login already (replayed)' };
    }
    if (customer.blockedAt !== undefined) return { kind: 'blocked' };
    const { opaqueRecord, opaqueCredentialId } = customer;
    if (opaqueRecord === undefined || opaqueCredentialId === undefined) {
      return { kind: 'decoy', reason: 'no password registered' };
    }
    return countedStart(
      sql,
      context,
      { ...customer, opaqueRecord, opaqueCredentialId },
      request,
      loginId,
      now,
    );
  });
  if (outcome.kind === 'blocked') throw new MpayError('BANKING_LOGIN_BLOCKED');
  if (outcome.kind === 'stored') return { loginId: outcome.loginId, loginResponse: outcome.loginResponse };
  // Not counted, nothing stored per customer: OPAQUE's fake record under the user id's decoy identifier.
  context.log.info({ userId: request.userId, reason: outcome.reason }, 'banking login start not counted');
  const decoy = await startOpaqueLogin(
    context.banking.opaqueServerSetup,
    request.userId,
    undefined,
    request.startLoginRequest,
  );
  const loginId = context.newId();
  const expiresAt = new Date(now.getTime() + context.banking.limits.loginLifetimeSeconds * 1000);
  unknownUserLoginsOf(context).remember(loginId, decoy.serverLoginState, expiresAt, now);
  return { loginId, loginResponse: decoy.loginResponse };
}

/** Writes stepBankingLogin's effects on the customer; true when this step blocked the customer. */
async function applyCustomerEffects(
  sql: Sql,
  context: BankingContext,
  customer: BankingCustomerRecord,
  result: BankingLoginStepResult,
  now: Date,
): Promise<boolean> {
  const kinds = result.effects.map((effect) => effect.kind);
  const block = kinds.includes('block_customer');
  if (block || kinds.includes('count_failure') || kinds.includes('reset_failures')) {
    await updateLoginFailures(sql, customer.partyId, result.next.customerFailures, block, now);
  }
  if (block) {
    context.log.warn(
      {
        alert: 'banking_login_blocked',
        partyId: customer.partyId,
        failedLogins: result.next.customerFailures,
      },
      'mobile banking blocked after too many failed logins',
    );
  }
  return block;
}

function snapshotOf(login: BankingSessionRecord, customer: BankingCustomerRecord): BankingLoginSnapshot {
  return { state: login.state, codeFailures: login.codeFailures, customerFailures: customer.failedLogins };
}

type StepOutcome<T> =
  | { readonly kind: 'refused'; readonly reason: string; readonly partyId?: string }
  | { readonly kind: 'blocked'; readonly reason: string; readonly partyId: string }
  | ({ readonly kind: 'done' } & T);

/** Logs why and throws the generic refusal of a login step. */
function refuse(context: BankingContext, loginId: string, outcome: StepOutcome<unknown>): never {
  if (outcome.kind === 'done') throw new Error('assertion failed: a refusal');
  context.log.info({ loginId, partyId: outcome.partyId, reason: outcome.reason }, 'banking login refused');
  throw new MpayError(outcome.kind === 'blocked' ? 'BANKING_LOGIN_BLOCKED' : 'BANKING_LOGIN_FAILED');
}

/** The login, locked, with its customer locked, if it is in `state`; else why not. */
async function lockLogin(
  sql: Sql,
  loginId: string,
  state: 'password_started' | 'code_sent',
): Promise<
  | { readonly login: BankingSessionRecord; readonly customer: BankingCustomerRecord }
  | { readonly reason: string }
> {
  const login = await selectBankingSession(sql, loginId, true);
  if (login === undefined) return { reason: 'unknown login' };
  if (login.state !== state) return { reason: `login ${login.state}, not ${state}` };
  const customer = await selectBankingCustomer(sql, login.partyId, true);
  if (customer === undefined) throw new Error('assertion failed: a login belongs to a customer');
  return { login, customer };
}

export interface LoginFinishRequest {
  readonly finishLoginRequest: string;
  readonly device: string;
}

interface ProvedFactors {
  readonly bound: BoundKey;
  readonly content: BankingLoginContent;
  readonly sessionKey: Uint8Array;
  readonly ephemeralJwk: EphemeralPublicJwk;
}

/** The registered ID_C parts of a binding's device (banking_devices), if any. */
async function registeredDevice(sql: Sql, serial: string) {
  const { rows } = await sql.query<{ party_id: string; sim: string; phone_id: string }>(
    'SELECT party_id, sim, phone_id FROM banking_devices WHERE serial = $1',
    [serial],
  );
  return rows[0];
}

/**
 * Every factor of the second step, all checked whatever fails first (the
 * OPAQUE finish and the signature run in every case): the session key when
 * all hold, else the first reason (for the log).
 */
async function proveFactors(
  sql: Sql,
  context: BankingContext,
  login: BankingSessionRecord,
  customer: BankingCustomerRecord,
  request: LoginFinishRequest,
  now: Date,
): Promise<ProvedFactors | { readonly reason: string }> {
  if (login.serverLoginState === undefined)
    throw new Error('assertion failed: a started login has its state');
  const opaqueSessionKey = opaqueMessagePattern.test(request.finishLoginRequest)
    ? await finishOpaqueLogin(login.serverLoginState, request.finishLoginRequest)
    : undefined;
  let statement: Awaited<ReturnType<typeof verifyDeviceStatement>>;
  try {
    statement = await verifyDeviceStatement(
      sql,
      context,
      request.device,
      { member: 'bankingLogin', transactionId: login.id, issuer: customer.partyId },
      now,
      false,
    );
  } catch (error) {
    if (error instanceof StatementRejected) return { reason: `device: ${error.message}` };
    throw error;
  }
  if (opaqueSessionKey === undefined) return { reason: 'password' };
  let content: BankingLoginContent;
  try {
    content = parseBankingLoginContent(statement.content);
  } catch (error) {
    if (isMpayError(error)) return { reason: `device content: ${error.detail ?? error.code}` };
    throw error;
  }
  const { bound } = statement;
  if (content.loginId !== login.id || content.userId !== customer.userId)
    return { reason: 'login or user id' };
  const device = await registeredDevice(sql, bound.serial);
  if (device === undefined || device.party_id !== customer.partyId) {
    return { reason: `binding ${bound.serial} has no banking device of the customer` };
  }
  if (device.sim !== content.clientId.sim || device.phone_id !== content.clientId.phoneId) {
    return { reason: `ID_C is not the one registered for binding ${bound.serial}` };
  }
  if (!bound.binding.accounts.includes(content.clientId.accountId)) {
    return { reason: `binding ${bound.serial} does not name the account` };
  }
  if (content.msisdn !== customer.msisdn) return { reason: 'msisdn is not the registered one' };
  const ecdh = await generateBankingEcdhKeyPair();
  try {
    const sessionKey = await deriveBankingSessionKey({
      ecdhPrivate: ecdh.privateKey,
      peerPublicJwk: content.ephemeralJwk,
      opaqueSessionKey,
      bankId: context.bank.id,
      partyId: customer.partyId,
      sessionId: login.id,
    });
    // The bank's ECDH private key is not kept anywhere: it goes with this scope.
    return { bound, content, sessionKey, ephemeralJwk: ecdh.publicJwk };
  } catch (error) {
    if (isMpayError(error)) return { reason: `ephemeral key: ${error.code}` };
    throw error;
  }
}

interface CodeToSend {
  readonly partyId: string;
  readonly msisdn: string;
  readonly code: string;
  readonly codeExpiresAt: Date;
  readonly ephemeralJwk: EphemeralPublicJwk;
}

/** Ends a login that tested nothing (not counted): refused, its secrets erased. */
function refuseUntested(
  sql: Sql,
  login: BankingSessionRecord,
  closedReason: string,
  now: Date,
): Promise<void> {
  const erase = { serverLoginState: null, sealedSessionKey: null, codeHash: null } as const;
  return moveSession(sql, login.id, login.state, 'refused', { ...erase, closedReason }, now);
}

/** The proved second step's effect: the session key sealed, the code drawn and kept as its hash. */
async function recordCode(
  sql: Sql,
  context: BankingContext,
  login: BankingSessionRecord,
  result: BankingLoginStepResult,
  proved: ProvedFactors,
  deviceStatement: string,
  now: Date,
): Promise<{ readonly code: string; readonly codeExpiresAt: Date }> {
  const { limits } = context.banking;
  if (!result.effects.some((effect) => effect.kind === 'send_code')) {
    throw new Error('assertion failed: proved factors send a code');
  }
  const code = drawLoginCode(limits.codeDigits);
  const codeExpiresAt = new Date(now.getTime() + limits.codeLifetimeSeconds * 1000);
  const sealedSessionKey = await sealSessionKey(context, proved.sessionKey);
  proved.sessionKey.fill(0);
  await moveSession(
    sql,
    login.id,
    login.state,
    result.next.state,
    {
      serverLoginState: null,
      serial: proved.bound.serial,
      deviceStatement,
      sealedSessionKey,
      codeHash: loginCodeHash(login.id, code),
      codeExpiresAt,
      expiresAt: codeExpiresAt,
    },
    now,
  );
  return { code, codeExpiresAt };
}

/** The second step in one transaction: the factors, then either the counted failure or the code recorded. */
async function recordFactors(
  context: BankingContext,
  loginId: string,
  request: LoginFinishRequest,
  now: Date,
): Promise<StepOutcome<CodeToSend> | { readonly kind: 'unknown' }> {
  const { limits } = context.banking;
  return context.database.transaction(async (sql) => {
    const locked = await lockLogin(sql, loginId, 'password_started');
    if ('reason' in locked) {
      return locked.reason === 'unknown login' ? { kind: 'unknown' } : { kind: 'refused', ...locked };
    }
    const { login, customer } = locked;
    const partyId = customer.partyId;
    // A login started before the customer was blocked proves nothing after it.
    if (customer.blockedAt !== undefined) {
      await refuseUntested(sql, login, 'blocked', now);
      return { kind: 'blocked', reason: 'customer blocked', partyId };
    }
    // Past its lifetime, or the bank reset the password since it started: it ends testing nothing.
    const expired = now.getTime() >= login.expiresAt.getTime();
    if (expired || customer.opaqueRecord === undefined) {
      const closedReason = expired ? 'expired' : 'password reset';
      await refuseUntested(sql, login, closedReason, now);
      return { kind: 'refused', reason: `login ${closedReason}`, partyId };
    }
    const proved = await proveFactors(sql, context, login, customer, request, now);
    if ('reason' in proved) {
      const result = stepBankingLogin(snapshotOf(login, customer), { kind: 'factor_failed' }, limits);
      const blocked = await applyCustomerEffects(sql, context, customer, result, now);
      const changes = { serverLoginState: null, closedReason: 'factor failed' } as const;
      await moveSession(sql, loginId, login.state, result.next.state, changes, now);
      return { kind: blocked ? 'blocked' : 'refused', reason: proved.reason, partyId };
    }
    const result = stepBankingLogin(snapshotOf(login, customer), { kind: 'factors_proved' }, limits);
    const { code, codeExpiresAt } = await recordCode(
      sql,
      context,
      login,
      result,
      proved,
      request.device,
      now,
    );
    const { msisdn } = customer;
    return { kind: 'done', partyId, msisdn, code, codeExpiresAt, ephemeralJwk: proved.ephemeralJwk };
  });
}

/**
 * A login id with no row: either nobody started it, or it was started for a
 * user id without a password. The latter does what a wrong password does
 * (OPAQUE's finish, the signature's check) before the same refusal.
 */
async function refuseUnknownLogin(
  context: BankingContext,
  loginId: string,
  request: LoginFinishRequest,
  now: Date,
): Promise<never> {
  const serverLoginState = unknownUserLoginsOf(context).take(loginId, now);
  if (serverLoginState !== undefined) {
    if (opaqueMessagePattern.test(request.finishLoginRequest)) {
      await finishOpaqueLogin(serverLoginState, request.finishLoginRequest);
    }
    await verifyDeviceStatement(
      context.database,
      context,
      request.device,
      { member: 'bankingLogin', transactionId: loginId },
      now,
      false,
    ).catch(() => undefined);
  }
  return refuse(context, loginId, { kind: 'refused', reason: 'no login of a customer with a password' });
}

export interface FinishedBankingLogin {
  readonly loginId: string;
  /** The bank's JWS over `{ bankingLoginAnswer }` (iss bank, aud party, txn loginId). */
  readonly answer: string;
}

export async function finishBankingLogin(
  context: BankingContext,
  loginId: string,
  request: LoginFinishRequest,
  now: Date,
): Promise<FinishedBankingLogin> {
  if (!isUuid(loginId)) return refuse(context, loginId, { kind: 'refused', reason: 'login id malformed' });
  const outcome = await recordFactors(context, loginId, request, now);
  if (outcome.kind === 'unknown') return refuseUnknownLogin(context, loginId, request, now);
  if (outcome.kind !== 'done') return refuse(context, loginId, outcome);
  const { limits } = context.banking;
  try {
    // Only now, with the code recorded (and its login refusable), does it leave the bank.
    await context.banking.sms.send({
      to: outcome.msisdn,
      text: loginCodeText(context.bank.id, outcome.code, limits.codeLifetimeSeconds),
    });
  } catch (error) {
    // Nobody has the code: the login ends and its start's try is given back, since every factor was
    // proved (an SMS outage must not lock customers out); a new login sends a new code.
    await context.database.transaction(async (sql) => {
      if (!(await abandonLogin(sql, loginId, 'sms not sent', now))) return;
      const customer = await selectBankingCustomer(sql, outcome.partyId, true);
      if (customer !== undefined && customer.blockedAt === undefined && customer.failedLogins > 0) {
        await updateLoginFailures(sql, customer.partyId, customer.failedLogins - 1, false, now);
      }
    });
    context.log.warn({ loginId, partyId: outcome.partyId, err: error }, 'banking login code not sent');
    throw new MpayError('SERVICE_UNAVAILABLE');
  }
  const answer = await signPayload(
    {
      bankingLoginAnswer: {
        loginId,
        ephemeralJwk: outcome.ephemeralJwk,
        codeSentTo: maskMsisdn(outcome.msisdn),
        codeExpiresAt: outcome.codeExpiresAt.toISOString(),
      },
    },
    {
      issuer: context.bank.id,
      audience: outcome.partyId,
      transactionId: loginId,
      expiresInSeconds: limits.codeLifetimeSeconds,
      now: () => now.getTime(),
    },
    context.bank.signingKey,
  );
  return { loginId, answer };
}

/** The code the device sealed under the session key, if it opens and is well formed for this login. */
async function openCode(
  context: BankingContext,
  login: BankingSessionRecord,
  sealedCode: string,
): Promise<string | undefined> {
  if (login.sealedSessionKey === undefined)
    throw new Error('assertion failed: a code_sent login has its key');
  const sessionKey = await openSessionKey(context, login.sealedSessionKey);
  try {
    const plaintext = await decryptDirect(sealedCode, sessionKey, { kid: login.id, compactLengthMax: 2_048 });
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
    if (typeof value !== 'object' || value === null || Object.keys(value).join() !== 'bankingCode') {
      return undefined;
    }
    const content = parseBankingCodeContent(
      (value as { bankingCode: unknown }).bankingCode,
      context.banking.limits.codeDigits,
    );
    return content.loginId === login.id ? content.code : undefined;
  } catch {
    return undefined;
  } finally {
    sessionKey.fill(0);
  }
}

export interface OpenedBankingSession {
  readonly sessionId: string;
  readonly expiresAt: string;
  /** The bank's JWS over `{ bankingSession: BankingSessionContent }` (iss bank, aud party, txn sessionId). */
  readonly statement: string;
}

async function signSessionStatement(
  context: BankingContext,
  login: BankingSessionRecord,
  serial: string,
  expiresAt: Date,
  now: Date,
): Promise<string> {
  if (login.deviceStatement === undefined)
    throw new Error('assertion failed: a code_sent login has its device');
  const { clientId } = parseBankingLoginContent(storedContent(login.deviceStatement, 'bankingLogin'));
  return signPayload(
    {
      bankingSession: {
        sessionId: login.id,
        partyId: login.partyId,
        serial,
        clientId,
        expiresAt: expiresAt.toISOString(),
      },
    },
    {
      issuer: context.bank.id,
      audience: login.partyId,
      transactionId: login.id,
      expiresInSeconds: context.banking.limits.sessionLifetimeSeconds,
      now: () => now.getTime(),
    },
    context.bank.signingKey,
  );
}

/**
 * Why a code_sent login can take no code now (ended without testing
 * anything, not counted), or undefined: the customer blocked since, the code
 * expired, the device's binding revoked or expired since.
 */
async function codeStepEnded(
  sql: Sql,
  context: BankingContext,
  login: BankingSessionRecord & { readonly serial: string; readonly codeExpiresAt: Date },
  customer: BankingCustomerRecord,
  now: Date,
): Promise<StepOutcome<never> | undefined> {
  const end = async (kind: 'blocked' | 'refused', closedReason: string, reason = closedReason) => {
    await refuseUntested(sql, login, closedReason, now);
    return { kind, reason, partyId: customer.partyId };
  };
  if (customer.blockedAt !== undefined) return end('blocked', 'blocked');
  if (now.getTime() >= login.codeExpiresAt.getTime()) return end('refused', 'code expired');
  try {
    await boundKeyOfSerial(sql, context.bank, login.serial, now, false);
  } catch (error) {
    if (!(error instanceof BindingRejected)) throw error;
    return end('refused', 'binding not active', error.message);
  }
  return undefined;
}

/** A wrong code that opened under the session key: counted (the login ends after codeTriesPerLoginMax; the customer may be blocked). */
async function countCodeFailure(
  sql: Sql,
  context: BankingContext,
  login: BankingSessionRecord,
  customer: BankingCustomerRecord,
  reason: string,
  now: Date,
): Promise<StepOutcome<never>> {
  const result = stepBankingLogin(
    snapshotOf(login, customer),
    { kind: 'code_failed' },
    context.banking.limits,
  );
  const blocked = await applyCustomerEffects(sql, context, customer, result, now);
  const over = result.next.state === 'refused';
  const changes = {
    codeFailures: result.next.codeFailures,
    ...(over ? { sealedSessionKey: null, codeHash: null, closedReason: 'code failed' } : {}),
  };
  await moveSession(sql, login.id, login.state, result.next.state, changes, now);
  return { kind: blocked ? 'blocked' : 'refused', reason, partyId: customer.partyId };
}

/** The proved code: the failures reset, the login becomes the session. */
async function openSession(
  sql: Sql,
  context: BankingContext,
  login: BankingSessionRecord & { readonly serial: string },
  customer: BankingCustomerRecord,
  now: Date,
): Promise<OpenedBankingSession> {
  const { limits } = context.banking;
  const result = stepBankingLogin(snapshotOf(login, customer), { kind: 'code_proved' }, limits);
  if (!result.effects.some((effect) => effect.kind === 'open_session')) {
    throw new Error('assertion failed: a proved code opens the session');
  }
  await applyCustomerEffects(sql, context, customer, result, now);
  const expiresAt = new Date(now.getTime() + limits.sessionLifetimeSeconds * 1000);
  const changes = { codeHash: null, expiresAt, lastUsedAt: now };
  await moveSession(sql, login.id, login.state, result.next.state, changes, now);
  context.log.info(
    { sessionId: login.id, partyId: login.partyId, serial: login.serial },
    'banking session opened',
  );
  return {
    sessionId: login.id,
    expiresAt: expiresAt.toISOString(),
    statement: await signSessionStatement(context, login, login.serial, expiresAt, now),
  };
}

/** The third step: the code; on success the login becomes the session (same id). */
export async function proveBankingLoginCode(
  context: BankingContext,
  loginId: string,
  sealedCode: string,
  now: Date,
): Promise<OpenedBankingSession> {
  if (!isUuid(loginId)) return refuse(context, loginId, { kind: 'refused', reason: 'login id malformed' });
  const outcome = await context.database.transaction(
    async (sql): Promise<StepOutcome<OpenedBankingSession>> => {
      const locked = await lockLogin(sql, loginId, 'code_sent');
      if ('reason' in locked) return { kind: 'refused', reason: locked.reason };
      const { login, customer } = locked;
      const { serial, codeExpiresAt, codeHash } = login;
      if (codeExpiresAt === undefined || codeHash === undefined || serial === undefined) {
        throw new Error('assertion failed: a code_sent login has its code and device');
      }
      const ended = await codeStepEnded(sql, context, { ...login, serial, codeExpiresAt }, customer, now);
      if (ended !== undefined) return ended;
      const code = await openCode(context, login, sealedCode);
      // Not sealed under the session key (or malformed inside): it tests nothing, so it is not counted;
      // anyone can send one (the login id shows in request bodies), and counting it would let them block.
      if (code === undefined)
        return { kind: 'refused', reason: 'code unreadable (not counted)', partyId: login.partyId };
      if (!loginCodeMatches(loginId, code, codeHash)) {
        return countCodeFailure(sql, context, login, customer, 'code wrong', now);
      }
      return { kind: 'done', ...(await openSession(sql, context, { ...login, serial }, customer, now)) };
    },
  );
  if (outcome.kind !== 'done') return refuse(context, loginId, outcome);
  return { sessionId: outcome.sessionId, expiresAt: outcome.expiresAt, statement: outcome.statement };
}
