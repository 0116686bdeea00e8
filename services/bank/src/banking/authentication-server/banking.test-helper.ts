import { createHash, randomBytes, randomInt } from 'node:crypto';
import {
  decodeBase64url,
  decryptDirect,
  encodeBase64url,
  encryptDirect,
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  signPayload,
  verifyPayload,
} from '@mpay/envelope';
import {
  type BankingAnswerContent,
  type BankingClientId,
  type BankingRequest,
  bankingRequestToJson,
  bankingSessionInfo,
  type EphemeralPublicJwk,
  luhnCheckDigit,
  parseBankingAnswerContent,
  parseEphemeralPublicJwk,
} from '@mpay/protocol';
import * as opaque from '@serenity-kit/opaque';
import {
  type EnrolledKey,
  type HttpAnswer,
  issueTestEnrolmentCode,
  type TestBank,
  uniquePartyId,
} from '../../test-helpers.ts';
import type { BankingContext } from '../context.ts';

/**
 * Test-only: the device's side of SA2pMP banking against a test bank
 * (startTestBank({ banking: {} })), written from the wire format of the
 * spec and independent of the SDK and of the bank's code: OPAQUE through
 * `@serenity-kit/opaque`'s client, ECDH P-256 and HKDF-SHA-256 through
 * WebCrypto, signatures by the envelope's signPayload, sealing by its
 * encryptDirect. Every request is sent as a phone sends it: no operator
 * credentials, the bank's clock for the claims.
 */

function digits(count: number): string {
  return Array.from({ length: count }, () => String(randomInt(10))).join('');
}

/** A SIM serial (ICCID, 19 digits) and an IMEI (15 digits) that pass their Luhn checks. */
export function testSimAndPhoneId(): { sim: string; phoneId: string } {
  const sim = `89${digits(16)}`;
  const phoneId = digits(14);
  return { sim: `${sim}${luhnCheckDigit(sim)}`, phoneId: `${phoneId}${luhnCheckDigit(phoneId)}` };
}

/** A fresh E.164 number. */
export function testMsisdn(): string {
  return `+3897${digits(7)}`;
}

/** The bank's banking context (its services run in the test's process). */
export function testBankingContext(bank: TestBank): BankingContext {
  const context = bank.service.banking;
  if (context === undefined) throw new Error('assertion failed: the test bank has mobile banking');
  return context;
}

/**
 * A device key enrolled at the bank (POST /enrolments after the operator's
 * code), its proof of possession signed on the bank's clock, so that tests
 * which move that clock can still enrol.
 */
export async function enrolTestBankingKey(
  bank: TestBank,
  partyId: string,
  accountIds: readonly string[],
): Promise<EnrolledKey> {
  const code = await issueTestEnrolmentCode(bank, partyId, accountIds);
  const [signing, encryption] = await Promise.all([generateSigningKeyPair(), generateEncryptionKeyPair()]);
  const deviceId = `phone-${randomBytes(4).toString('hex')}`;
  const proof = await signPayload(
    { enrolment: { partyId, deviceId, bank: bank.name } },
    {
      issuer: partyId,
      audience: bank.name,
      transactionId: deviceId,
      expiresInSeconds: 300,
      now: () => bank.now().getTime(),
    },
    signing.privateJwk,
  );
  const answer = await deviceCall(bank, '/enrolments', {
    partyId,
    code,
    deviceId,
    signingJwk: signing.publicJwk,
    encryptionJwk: encryption.publicJwk,
    proof,
  });
  if (answer.status !== 201) throw new Error(`enrolment: ${JSON.stringify(answer.body)}`);
  return {
    partyId,
    deviceId,
    serial: answer.body.serial as string,
    binding: answer.body.binding as string,
    signing,
    encryption,
  };
}

/** A phone's HTTP request: JSON, no operator credentials. */
export async function deviceCall(bank: TestBank, path: string, body: unknown): Promise<HttpAnswer> {
  const response = await fetch(`${bank.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** A banking customer's device: its bound key, its ID_C, and what the customer knows. */
export interface TestBankingDevice {
  readonly partyId: string;
  readonly userId: string;
  /** The number registered for the customer (where the codes go). */
  readonly msisdn: string;
  readonly password: string;
  /** The device key as the bank bound it (serial, binding, signing and encryption keys). */
  readonly key: EnrolledKey;
  /** The accounts the binding names. */
  readonly accountIds: readonly string[];
  /** ID_C: the device's SIM and PHID, and the first account. */
  readonly clientId: BankingClientId;
}

export interface TestBankingCustomerOptions {
  readonly partyId?: string;
  readonly userId?: string;
  readonly msisdn?: string;
  readonly password?: string;
  /** Accounts of the party the key is bound to; default one new EUR customer account. */
  readonly accountIds?: readonly string[];
  /** Moves this much into the first account (default nothing). */
  readonly funds?: bigint;
  /** false: no POST /banking/devices (default true). */
  readonly registerDevice?: boolean;
  /** false: no password (default true). */
  readonly registerPassword?: boolean;
}

/** The first device registered for banking per user id, per bank: what startTestLogin signs with by default. */
const devicesOfUsers = new WeakMap<TestBank, Map<string, TestBankingDevice>>();

function rememberTestDevice(bank: TestBank, device: TestBankingDevice): void {
  let devices = devicesOfUsers.get(bank);
  if (devices === undefined) {
    devices = new Map();
    devicesOfUsers.set(bank, devices);
  }
  if (!devices.has(device.userId)) devices.set(device.userId, device);
}

/** The operator's side, as a row (the operator route belongs to the business logic server). */
export async function insertTestBankingCustomer(
  bank: TestBank,
  customer: { readonly partyId: string; readonly userId: string; readonly msisdn: string },
): Promise<void> {
  const now = bank.now().toISOString();
  await bank.database.query(
    `INSERT INTO banking_customers (party_id, user_id, msisdn, created_by, created_at, updated_at)
     VALUES ($1, $2, $3, 'test-operator', $4, $4)`,
    [customer.partyId, customer.userId, customer.msisdn, now],
  );
}

/** The device's JWS over `{ [member]: content }` (iss the party, aud the bank), on the bank's clock. */
export function signTestStatement(
  bank: TestBank,
  device: Pick<TestBankingDevice, 'partyId' | 'key'>,
  member: string,
  content: Readonly<Record<string, unknown>>,
  transactionId: string,
  options: {
    readonly signing?: GeneratedKeyPair;
    readonly expiresInSeconds?: number;
    readonly issuer?: string;
  } = {},
): Promise<string> {
  return signPayload(
    { [member]: content },
    {
      issuer: options.issuer ?? device.partyId,
      audience: bank.name,
      transactionId,
      expiresInSeconds: options.expiresInSeconds ?? 120,
      now: () => bank.now().getTime(),
    },
    (options.signing ?? device.key.signing).privateJwk,
  );
}

/** POST /banking/devices for the device (its userId and ID_C unless given). */
export async function registerTestBankingDevice(
  bank: TestBank,
  device: TestBankingDevice,
  content: { readonly userId?: string; readonly clientId?: BankingClientId } = {},
): Promise<HttpAnswer> {
  const statement = await signTestStatement(
    bank,
    device,
    'bankingDevice',
    { userId: content.userId ?? device.userId, clientId: content.clientId ?? device.clientId },
    device.key.serial,
  );
  return deviceCall(bank, '/banking/devices', { device: statement });
}

function hashOf(message: string): string {
  return encodeBase64url(new Uint8Array(createHash('sha256').update(message, 'utf8').digest()));
}

/**
 * The password's key stretching on the test client: argon2id, but with 1 MiB and one pass instead
 * of the SDK's default (memory-constrained: 64 MiB, three passes, about 0.2 s a call here; the bank
 * tests register and log in hundreds of times). The bank never sees it: OPAQUE stretches on the
 * client only, and the server's side of every message is the same. The SDK's own tests and the e2e
 * and browser journeys log in with its real default.
 */
export const testKeyStretching = {
  'argon2id-custom': { iterations: 1, memory: 1024, parallelism: 1 },
} as const;

/** Both OPAQUE registration steps; returns the answers of start and finish (finish skipped if start failed). */
export async function registerTestPassword(
  bank: TestBank,
  device: TestBankingDevice,
  password: string = device.password,
): Promise<{ readonly start: HttpAnswer; readonly finish: HttpAnswer | undefined }> {
  await opaque.ready;
  const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password });
  const startStatement = await signTestStatement(
    bank,
    device,
    'bankingPassword',
    { userId: device.userId, step: 'start', messageHash: hashOf(registrationRequest) },
    device.key.serial,
  );
  const start = await deviceCall(bank, '/banking/passwords/start', {
    userId: device.userId,
    registrationRequest,
    device: startStatement,
  });
  if (start.status !== 200) return { start, finish: undefined };
  const { registrationRecord } = opaque.client.finishRegistration({
    clientRegistrationState,
    registrationResponse: start.body.registrationResponse as string,
    password,
    keyStretching: testKeyStretching,
  });
  const finishStatement = await signTestStatement(
    bank,
    device,
    'bankingPassword',
    { userId: device.userId, step: 'finish', messageHash: hashOf(registrationRecord) },
    device.key.serial,
  );
  const finish = await deviceCall(bank, '/banking/passwords/finish', {
    userId: device.userId,
    registrationRecord,
    device: finishStatement,
  });
  return { start, finish };
}

function expectStatus(answer: HttpAnswer | undefined, status: number, what: string): void {
  if (answer?.status !== status) throw new Error(`${what}: ${JSON.stringify(answer?.body)}`);
}

/**
 * A person of the bank enabled for mobile banking (the banking_customers
 * row), with a device key enrolled over its accounts, the device registered
 * for banking and the password registered (unless told otherwise).
 */
export async function registerTestBankingCustomer(
  bank: TestBank,
  options: TestBankingCustomerOptions = {},
): Promise<TestBankingDevice> {
  const partyId = options.partyId ?? uniquePartyId('person', bank.name, 'banker');
  const accountIds = options.accountIds ?? [await bank.openAccount('customer', 'EUR', partyId)];
  const firstAccount = accountIds[0];
  if (firstAccount === undefined) throw new Error('assertion failed: at least one account');
  if (options.funds !== undefined) await bank.fund(firstAccount, options.funds);
  const userId = options.userId ?? `user-${randomBytes(4).toString('hex')}`;
  const msisdn = options.msisdn ?? testMsisdn();
  await insertTestBankingCustomer(bank, { partyId, userId, msisdn });
  const key = await enrolTestBankingKey(bank, partyId, accountIds);
  const device: TestBankingDevice = {
    partyId,
    userId,
    msisdn,
    password: options.password ?? `correct horse ${randomBytes(4).toString('hex')}`,
    key,
    accountIds,
    clientId: { ...testSimAndPhoneId(), accountId: firstAccount },
  };
  if (options.registerDevice !== false) {
    expectStatus(await registerTestBankingDevice(bank, device), 201, 'device');
    rememberTestDevice(bank, device);
  }
  if (options.registerPassword !== false) {
    expectStatus((await registerTestPassword(bank, device)).finish, 201, 'password');
  }
  return device;
}

/** Another phone of the same customer: a new key enrolled over the same accounts, registered with its own ID_C. */
export async function addTestBankingDevice(
  bank: TestBank,
  device: TestBankingDevice,
  options: { readonly registerDevice?: boolean } = {},
): Promise<TestBankingDevice> {
  const key = await enrolTestBankingKey(bank, device.partyId, device.accountIds);
  const another: TestBankingDevice = {
    ...device,
    key,
    clientId: { ...testSimAndPhoneId(), accountId: device.clientId.accountId },
  };
  if (options.registerDevice !== false)
    expectStatus(await registerTestBankingDevice(bank, another), 201, 'device');
  return another;
}

/** The device's first login step: OPAQUE KE1 sent, KE2 answered. */
export interface StartedTestLogin {
  readonly answer: HttpAnswer;
  readonly loginId: string;
  readonly clientLoginState: string;
  /** The KE1 and the start's device statement, as posted. */
  readonly startLoginRequest: string;
  readonly statement: string;
}

/** What a start's statement says, changed for a test; by default the device's own, fresh. */
export interface TestLoginStartOptions {
  /**
   * The device that signs the start; default the first device registered
   * for banking under that user id on this bank (registerTestBankingCustomer),
   * else 'anonymous': a well-formed statement by a key the bank never bound.
   */
  readonly device?: TestBankingDevice | 'anonymous';
  /** The txn (the login id the bank takes); default a fresh UUID v4. */
  readonly transactionId?: string;
  /** The user id signed; default the one posted. */
  readonly signedUserId?: string;
  /** The KE1 the messageHash covers; default the one posted. */
  readonly signedMessage?: string;
  readonly expiresInSeconds?: number;
  /** Posts exactly this as `device` (a replayed or malformed statement). */
  readonly statement?: string;
}

/** The device's JWS over `{ bankingLoginStart: { userId, messageHash } }` for a start. */
export async function signTestLoginStart(
  bank: TestBank,
  userId: string,
  startLoginRequest: string,
  options: TestLoginStartOptions = {},
): Promise<string> {
  const chosen = options.device ?? devicesOfUsers.get(bank)?.get(userId) ?? 'anonymous';
  const device: Pick<TestBankingDevice, 'partyId' | 'key'> =
    chosen === 'anonymous'
      ? {
          partyId: uniquePartyId('person', bank.name, 'stranger'),
          key: {
            partyId: '',
            deviceId: 'none',
            serial: 'none',
            binding: '',
            signing: await generateSigningKeyPair(),
            encryption: await generateEncryptionKeyPair(),
          },
        }
      : chosen;
  return signTestStatement(
    bank,
    device,
    'bankingLoginStart',
    {
      userId: options.signedUserId ?? userId,
      messageHash: hashOf(options.signedMessage ?? startLoginRequest),
    },
    options.transactionId ?? crypto.randomUUID(),
    { expiresInSeconds: options.expiresInSeconds ?? 120 },
  );
}

/**
 * The first step: OPAQUE's KE1 with the device's signed start (see
 * TestLoginStartOptions for whose), KE2 answered.
 */
export async function startTestLogin(
  bank: TestBank,
  userId: string,
  password: string,
  options: TestLoginStartOptions = {},
): Promise<StartedTestLogin> {
  await opaque.ready;
  const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password });
  const device = options.statement ?? (await signTestLoginStart(bank, userId, startLoginRequest, options));
  const answer = await deviceCall(bank, '/banking/logins', { userId, startLoginRequest, device });
  return {
    answer,
    loginId: answer.body.loginId as string,
    clientLoginState,
    startLoginRequest,
    statement: device,
  };
}

/** What the second step sends, changed for a test; by default the device's own. */
export interface TestLoginOverrides {
  readonly password?: string;
  readonly userId?: string;
  readonly clientId?: BankingClientId;
  readonly msisdn?: string;
  /** Signs with this key (another device's) instead of the device's. */
  readonly signing?: GeneratedKeyPair;
  /** The device's ECDH public key as sent. */
  readonly ephemeralJwk?: EphemeralPublicJwk;
}

export interface FinishedTestLogin {
  readonly answer: HttpAnswer;
  /** The session key the device derived (undefined when the bank refused or the password was wrong). */
  readonly sessionKey: Uint8Array | undefined;
}

/** HKDF-SHA-256 and ECDH P-256 through WebCrypto, as the spec's "Session key" says, from the device's side. */
async function deviceSessionKey(
  ecdhPrivate: CryptoKey,
  bankJwk: EphemeralPublicJwk,
  opaqueSessionKey: string,
  info: string,
): Promise<Uint8Array> {
  const bankKey = await crypto.subtle.importKey(
    'jwk',
    { ...bankJwk },
    { name: 'ECDH', namedCurve: 'P-256' },
    false,
    [],
  );
  const shared = await crypto.subtle.deriveBits({ name: 'ECDH', public: bankKey }, ecdhPrivate, 256);
  const hkdfKey = await crypto.subtle.importKey('raw', shared, 'HKDF', false, ['deriveBits']);
  const salt = decodeBase64url(opaqueSessionKey);
  if (salt === undefined) throw new Error('assertion failed: serenity answers base64url');
  const bits = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: salt as BufferSource, info: new TextEncoder().encode(info) },
    hkdfKey,
    256,
  );
  return new Uint8Array(bits);
}

/**
 * The second step: OPAQUE's KE3 (a random one when the password is wrong:
 * the client finds out first and has nothing valid to send), the device's
 * JWS over `{ bankingLogin }`, and on success the session key from the
 * bank's signed answer (checked under the bank's key).
 */
export async function finishTestLogin(
  bank: TestBank,
  device: TestBankingDevice,
  started: StartedTestLogin,
  overrides: TestLoginOverrides = {},
): Promise<FinishedTestLogin> {
  await opaque.ready;
  const finished = opaque.client.finishLogin({
    clientLoginState: started.clientLoginState,
    loginResponse: started.answer.body.loginResponse as string,
    password: overrides.password ?? device.password,
    keyStretching: testKeyStretching,
  });
  const ecdh = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
  const exported = await crypto.subtle.exportKey('jwk', ecdh.publicKey);
  const ephemeralJwk =
    overrides.ephemeralJwk ??
    parseEphemeralPublicJwk({ kty: exported.kty, crv: exported.crv, x: exported.x, y: exported.y }, 'jwk');
  const statement = await signTestStatement(
    bank,
    device,
    'bankingLogin',
    {
      loginId: started.loginId,
      userId: overrides.userId ?? device.userId,
      clientId: overrides.clientId ?? device.clientId,
      msisdn: overrides.msisdn ?? device.msisdn,
      ephemeralJwk,
    },
    started.loginId,
    overrides.signing === undefined ? {} : { signing: overrides.signing },
  );
  const answer = await deviceCall(bank, `/banking/logins/${started.loginId}/finish`, {
    finishLoginRequest: finished?.finishLoginRequest ?? encodeBase64url(randomBytes(64)),
    device: statement,
  });
  if (answer.status !== 200 || finished === undefined) return { answer, sessionKey: undefined };
  const { payload } = await verifyPayload(
    answer.body.answer,
    () => testBankingContext(bank).bank.publicJwk,
    { audience: device.partyId, issuer: bank.name, transactionId: started.loginId },
    { now: () => bank.now().getTime() },
  );
  const content = payload.bankingLoginAnswer as { ephemeralJwk: unknown };
  const sessionKey = await deviceSessionKey(
    ecdh.privateKey,
    parseEphemeralPublicJwk(content.ephemeralJwk, 'ephemeralJwk'),
    finished.sessionKey,
    bankingSessionInfo(bank.name, device.partyId, started.loginId),
  );
  return { answer, sessionKey };
}

/** The code the bank's last SMS to `msisdn` carried. */
export function testSmsCode(bank: TestBank, msisdn: string): string {
  const text = bank.sms.latest(msisdn)?.text;
  const code = text === undefined ? undefined : /login code is ([0-9]+)\./.exec(text)?.[1];
  if (code === undefined) throw new Error(`no login code sent to ${msisdn}`);
  return code;
}

/** The third step: `{ bankingCode: { loginId, code } }` sealed under the session key (kid the login id). */
export async function sendTestLoginCode(
  bank: TestBank,
  loginId: string,
  sessionKey: Uint8Array,
  code: string,
): Promise<HttpAnswer> {
  const sealed = await encryptDirect(JSON.stringify({ bankingCode: { loginId, code } }), sessionKey, {
    kid: loginId,
  });
  return deviceCall(bank, `/banking/logins/${loginId}/code`, { code: sealed });
}

/** An open session, from the device's side. */
export interface TestBankingSession {
  readonly sessionId: string;
  readonly sessionKey: Uint8Array;
  readonly expiresAt: string;
  /** The bank's JWS over `{ bankingSession }`. */
  readonly statement: string;
}

/** The whole login (password, device, number, code from the SMS inbox); throws unless the session opens. */
export async function loginTestDevice(
  bank: TestBank,
  device: TestBankingDevice,
): Promise<TestBankingSession> {
  const started = await startTestLogin(bank, device.userId, device.password, { device });
  expectStatus(started.answer, 200, 'login start');
  const finished = await finishTestLogin(bank, device, started);
  expectStatus(finished.answer, 200, 'login finish');
  if (finished.sessionKey === undefined) throw new Error('assertion failed: a finished login has its key');
  const opened = await sendTestLoginCode(
    bank,
    started.loginId,
    finished.sessionKey,
    testSmsCode(bank, device.msisdn),
  );
  expectStatus(opened, 201, 'login code');
  return {
    sessionId: opened.body.sessionId as string,
    sessionKey: finished.sessionKey,
    expiresAt: opened.body.expiresAt as string,
    statement: opened.body.statement as string,
  };
}

/** What a request's signature or sealing says, changed for a test; by default the device's and session's own. */
export interface TestRequestOverrides {
  readonly requestId?: string;
  readonly expiresInSeconds?: number;
  readonly clientId?: BankingClientId;
  /** The session id inside the signed content. */
  readonly signedSessionId?: string;
  /** The session id posted (and the JWE's kid). */
  readonly postedSessionId?: string;
  readonly sessionKey?: Uint8Array;
  readonly signing?: GeneratedKeyPair;
}

/** E(S(msg, ID_C)): the body of POST /banking/requests, with the request id and the device's JWS. */
export async function sealTestBankingRequest(
  bank: TestBank,
  device: TestBankingDevice,
  session: TestBankingSession,
  request: BankingRequest,
  overrides: TestRequestOverrides = {},
): Promise<{
  readonly requestId: string;
  readonly jws: string;
  readonly body: { sessionId: string; request: string };
}> {
  const requestId = overrides.requestId ?? crypto.randomUUID();
  const jws = await signTestStatement(
    bank,
    device,
    'banking',
    {
      request: bankingRequestToJson(request),
      clientId: overrides.clientId ?? device.clientId,
      sessionId: overrides.signedSessionId ?? session.sessionId,
    },
    requestId,
    {
      expiresInSeconds: overrides.expiresInSeconds ?? 60,
      ...(overrides.signing === undefined ? {} : { signing: overrides.signing }),
    },
  );
  const sessionId = overrides.postedSessionId ?? session.sessionId;
  const sealed = await encryptDirect(jws, overrides.sessionKey ?? session.sessionKey, { kid: sessionId });
  return { requestId, jws, body: { sessionId, request: sealed } };
}

/** The bank's sealed answer, opened under the session key and checked under the bank's key. */
export async function openTestBankingAnswer(
  bank: TestBank,
  device: TestBankingDevice,
  session: TestBankingSession,
  sealed: string,
): Promise<BankingAnswerContent> {
  const jws = new TextDecoder().decode(
    await decryptDirect(sealed, session.sessionKey, { kid: session.sessionId }),
  );
  const { payload, claims } = await verifyPayload(
    jws,
    () => testBankingContext(bank).bank.publicJwk,
    { audience: device.partyId, issuer: bank.name },
    { now: () => bank.now().getTime() },
  );
  const content = parseBankingAnswerContent(payload.bankingAnswer);
  if (claims.txn !== content.requestId) throw new Error('assertion failed: the answer is for its request');
  return content;
}

/**
 * POST /banking/requests as the device sends it: the HTTP answer and, for a
 * 200, the bank's answer content opened and verified.
 */
export async function sendTestBankingRequest(
  bank: TestBank,
  device: TestBankingDevice,
  session: TestBankingSession,
  request: BankingRequest,
  overrides: TestRequestOverrides = {},
): Promise<{
  readonly requestId: string;
  readonly answer: HttpAnswer;
  readonly content: BankingAnswerContent | undefined;
}> {
  const sealed = await sealTestBankingRequest(bank, device, session, request, overrides);
  const answer = await deviceCall(bank, '/banking/requests', sealed.body);
  const content =
    answer.status === 200
      ? await openTestBankingAnswer(bank, device, session, answer.body.answer as string)
      : undefined;
  return { requestId: sealed.requestId, answer, content };
}
