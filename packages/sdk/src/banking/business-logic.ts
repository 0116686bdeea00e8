import { decodeBase64url, encodeBase64url } from '@mpay/envelope';
import {
  type BankingAnswerContent,
  type BankingClientId,
  type BankingLimits,
  type BankingRequest,
  type BankingRequestKind,
  createBankingLimits,
  isBankingUserId,
  isMpayError,
  isMsisdn,
  isUuid,
  MpayError,
  maskMsisdn,
  type RevocationReason,
  sameBankingClientId,
} from '@mpay/protocol';
import { PinnedBank } from '../macro/from-bank.ts';
import type { BankTrust } from '../merchant/seal.ts';
import { BankingConnection, pathSegment } from './communication.ts';
import { readInstant, readString, serialPattern, uuidPattern } from './json.ts';
import type { BankingKeyManager, BankingKeyState } from './key-management.ts';
import {
  type BankingBalance,
  type BankingBillPayment,
  type BankingDevice,
  type BankingLogout,
  type BankingRenewalNotice,
  type BankingRevocation,
  type BankingStatement,
  type BankingTransfer,
  parseBalanceResult,
  parseBillPaymentResult,
  parseDevicesResult,
  parseLogoutResult,
  parseRenewalNoticesResult,
  parseRenewalResult,
  parseRevocationResult,
  parseStatementResult,
  parseTransferResult,
  requireAnswerKind,
} from './results.ts';
import {
  type BankingClientIdParts,
  bankingClientIdOf,
  bankingMessageHash,
  bankingRequestLifetimeSecondsDefault,
  createBankingEphemeralKey,
  deriveBankingSessionKey,
  openBankingAnswer,
  openBankingLoginAnswer,
  openBankingSession,
  sealBankingCode,
  sealBankingRequest,
  signBankingDevice,
  signBankingLogin,
  signBankingLoginStart,
  signBankingPassword,
} from './security.ts';

/**
 * The Business Logic Module (BLM) of SA2pMP's mobile client (seed 003 §5.1):
 * "in charge of all particular business functions between bank and user".
 * Each function builds its message, hands it to the SM (signed with ID_C by
 * the device key from the KMM, sealed under the session key), sends it
 * through the CM, and reads the bank's answer only once the SM has opened
 * and verified it; results are typed, amounts bigint minor units.
 *
 * Before requests: the device is enrolled (KMM), registered for banking
 * (`registerDevice`, its ID_C), the customer's password registered
 * (`registerPassword`, OPAQUE: the bank never sees it), and a session open
 * (`login`: password, device signature, phone number and the SMS code).
 */
export interface BankingClientOptions {
  /** Where the bank answers. */
  readonly bankUrl: string;
  /** The device's banking keys (enrolled: `BankingKeyManager.enrol`). */
  readonly keys: BankingKeyManager;
  /** The bank as pinned by the app (its id, signing keys, encryption key); default: read once from its GET /bank. */
  readonly bank?: BankTrust | undefined;
  /** The limits the bank runs with (code tries, request lifetime); default the contract's defaults. */
  readonly limits?: Partial<BankingLimits> | undefined;
  /** Each request's signature lifetime; default 60 s, at most limits.requestLifetimeSecondsMax. */
  readonly requestLifetimeSeconds?: number | undefined;
  readonly timeoutMs?: number | undefined;
  readonly answerBytesMax?: number | undefined;
  /** The device's clock, milliseconds since the epoch (default Date.now). */
  readonly now?: (() => number) | undefined;
}

/** An open session as the bank signed it (`bankingSession`); its key stays inside the client. */
export interface BankingSession {
  readonly sessionId: string;
  readonly partyId: string;
  /** The key binding of this device the session belongs to. */
  readonly serial: string;
  readonly clientId: BankingClientId;
  readonly expiresAt: string;
}

/** A session with its key, to resume it in another process (the CLI): as secret as the key. */
export interface BankingSessionState extends BankingSession {
  /** The 32-byte session key, base64url. */
  readonly sessionKey: string;
}

/** What the app shows while it waits for the code the SMS carried. */
export interface BankingCodePrompt {
  readonly loginId: string;
  /** Where the bank sent it, masked ("+389******456"). */
  readonly codeSentTo: string;
  readonly codeExpiresAt: string;
  /** 1 for the first code asked, then 2, … up to limits.codeTriesPerLoginMax. */
  readonly attempt: number;
}

export interface BankingLoginInput {
  readonly userId: string;
  readonly password: string;
  /** The phone number the device has (E.164); the bank compares it with the registered one. */
  readonly msisdn: string;
  /** How the code the SMS carried reaches the app (typed by the person, or read from the SMS). */
  readonly readCode: (prompt: BankingCodePrompt) => Promise<string>;
}

/**
 * The bank carries out a money request once per request id (the signed
 * request's txn, the order's id), records its outcome with its effect, and
 * answers a later request with that id and the same content (signed again:
 * another nonce, another lifetime) that recorded outcome again, moving
 * nothing; the same id with other content is BANKING_REQUEST_REPLAYED. An
 * app that may send the same order again (its answer was lost: a timeout,
 * SERVICE_UNAVAILABLE, BANK_UNAVAILABLE, BANK_ANSWER_INVALID) draws the id
 * once per order the customer entered and passes it on every try, in the
 * same session and within the request's lifetime, and gets the order's
 * answer; without one, each call draws a fresh id and is a new order.
 */
export interface BankingOrderIdentity {
  /** A lowercase UUID, as the bank requires of a request id; default: a fresh one for this call. */
  readonly requestId?: string | undefined;
}

export interface BankingTransferInput extends BankingOrderIdentity {
  readonly payeeId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly reference: string;
}

export interface BankingBillPaymentInput extends BankingOrderIdentity {
  readonly billerId: string;
  readonly customerReference: string;
  readonly amount: bigint;
  readonly currency: string;
}

export interface BankingRegisteredDevice {
  readonly serial: string;
  readonly partyId: string;
  readonly clientId: BankingClientId;
}

export interface BankingPasswordRegistered {
  readonly userId: string;
  readonly registeredAt: string;
}

/** A password the customer chooses: at least 8 characters (NIST SP 800-63B), at most 256. */
export const bankingPasswordLengthMin = 8;
export const bankingPasswordLengthMax = 256;

const opaqueMessagePattern = /^[A-Za-z0-9_-]{16,4096}$/;

type Opaque = typeof import('@serenity-kit/opaque');
let opaqueModule: Promise<Opaque> | undefined;

/** The OPAQUE WebAssembly module, loaded on first use only. */
function loadOpaque(): Promise<Opaque> {
  opaqueModule ??= import('@serenity-kit/opaque').then(async (module) => {
    await module.ready;
    return module;
  });
  return opaqueModule;
}

function requirePassword(password: string, lengthMin: number): void {
  if (
    typeof password !== 'string' ||
    password.length < lengthMin ||
    password.length > bankingPasswordLengthMax
  ) {
    throw new MpayError('REQUEST_INVALID', `password: ${lengthMin}..${bankingPasswordLengthMax} characters`);
  }
}

function requireUserId(userId: string): void {
  if (!isBankingUserId(userId)) throw new MpayError('REQUEST_INVALID', 'userId');
}

/** The order's own request id, as the bank checks a request id (isUuid), or undefined for a fresh one. */
function orderRequestIdOf(input: BankingOrderIdentity): string | undefined {
  const { requestId } = input;
  if (requestId !== undefined && !isUuid(requestId)) throw new MpayError('REQUEST_INVALID', 'requestId');
  return requestId;
}

interface OpenSession extends BankingSession {
  readonly sessionKey: Uint8Array;
}

export class BankingClient {
  readonly #keys: BankingKeyManager;
  readonly #bank: PinnedBank;
  readonly #connection: BankingConnection;
  readonly #limits: BankingLimits;
  readonly #requestLifetimeSeconds: number;
  readonly #now: () => number;
  #session: OpenSession | undefined;

  constructor(options: BankingClientOptions) {
    this.#keys = options.keys;
    this.#connection = new BankingConnection(options);
    this.#bank = new PinnedBank(this.#connection.bankUrl, options.bank);
    this.#limits = createBankingLimits(options.limits);
    this.#requestLifetimeSeconds = options.requestLifetimeSeconds ?? bankingRequestLifetimeSecondsDefault;
    if (
      !Number.isSafeInteger(this.#requestLifetimeSeconds) ||
      this.#requestLifetimeSeconds < 1 ||
      this.#requestLifetimeSeconds > this.#limits.requestLifetimeSecondsMax
    ) {
      throw new MpayError('REQUEST_INVALID', 'requestLifetimeSeconds');
    }
    this.#now = options.now ?? Date.now;
  }

  /** The bank's keys: pinned, or read once from its GET /bank. */
  bank(): Promise<BankTrust> {
    return this.#bank.trust();
  }

  /** The device's keys, for a bank that is the one they were enrolled at. */
  async #state(): Promise<{ state: BankingKeyState; bank: BankTrust }> {
    const [state, bank] = await Promise.all([this.#keys.state(), this.bank()]);
    if (state.bankId !== bank.id)
      throw new MpayError('KEY_UNKNOWN', `the device's keys are for ${state.bankId}`);
    return { state, bank };
  }

  #statementInput(state: BankingKeyState, bank: BankTrust) {
    return {
      partyId: state.partyId,
      bankId: bank.id,
      serial: state.current.serial,
      signingKey: state.current.signing.privateJwk,
      now: this.#now,
    };
  }

  // ─── registration ─────────────────────────────────────────────────────────

  /**
   * Registers this device for banking: ID_C from its parts (the SIM's ICCID,
   * the handset's IMEI, one account of the device's binding), signed by the
   * bound key with the customer's user id (POST /banking/devices). The bank
   * records SIM and IMEI; the KMM keeps the registration.
   */
  async registerDevice(parts: BankingClientIdParts, userId: string): Promise<BankingRegisteredDevice> {
    requireUserId(userId);
    const clientId = bankingClientIdOf(parts);
    const { state, bank } = await this.#state();
    if (!state.current.accounts.includes(clientId.accountId)) {
      throw new MpayError('REQUEST_INVALID', 'clientId.accountId is not an account of this device');
    }
    const device = await signBankingDevice({ userId, clientId }, this.#statementInput(state, bank));
    const { body } = await this.#connection.post(
      '/banking/devices',
      { device },
      [200, 201],
      ['serial', 'partyId', 'clientId'],
    );
    if (body.serial !== state.current.serial || body.partyId !== state.partyId) {
      throw new MpayError('BANK_ANSWER_INVALID', '/banking/devices');
    }
    const answered = body.clientId as BankingClientId | undefined;
    if (typeof answered !== 'object' || answered === null || !sameBankingClientId(answered, clientId)) {
      throw new MpayError('BANK_ANSWER_INVALID', '/banking/devices: clientId');
    }
    await this.#keys.register({ userId, clientId });
    return Object.freeze({ serial: state.current.serial, partyId: state.partyId, clientId });
  }

  /**
   * Registers the customer's password by OPAQUE (the bank keeps a record that
   * tests no guess on its own), each step signed by the device key over the
   * hash of the OPAQUE message it carries. Only while none is registered
   * (BANKING_PASSWORD_EXISTS; the bank's operator resets it).
   */
  async registerPassword(userId: string, password: string): Promise<BankingPasswordRegistered> {
    requireUserId(userId);
    requirePassword(password, bankingPasswordLengthMin);
    const { state, bank } = await this.#state();
    const statement = this.#statementInput(state, bank);
    const opaque = await loadOpaque();
    const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password });
    const startDevice = await signBankingPassword(
      { userId, step: 'start', messageHash: await bankingMessageHash(registrationRequest) },
      statement,
    );
    const started = await this.#connection.post(
      '/banking/passwords/start',
      { userId, registrationRequest, device: startDevice },
      [200],
      ['registrationResponse'],
    );
    const registrationResponse = readString(
      started.body.registrationResponse,
      'registrationResponse',
      opaqueMessagePattern,
    );
    let registrationRecord: string;
    try {
      // No custom identifiers: OPAQUE's defaults, as the bank's server (authentication-server/opaque.ts).
      registrationRecord = opaque.client.finishRegistration({
        clientRegistrationState,
        registrationResponse,
        password,
      }).registrationRecord;
    } catch {
      throw new MpayError('BANK_ANSWER_INVALID', 'registrationResponse');
    }
    const finishDevice = await signBankingPassword(
      { userId, step: 'finish', messageHash: await bankingMessageHash(registrationRecord) },
      statement,
    );
    const finished = await this.#connection.post(
      '/banking/passwords/finish',
      { userId, registrationRecord, device: finishDevice },
      [201],
      ['userId', 'registeredAt'],
    );
    if (finished.body.userId !== userId) throw new MpayError('BANK_ANSWER_INVALID', 'userId');
    return Object.freeze({ userId, registeredAt: readInstant(finished.body.registeredAt, 'registeredAt') });
  }

  // ─── login (§4.2: every factor) ──────────────────────────────────────────

  /**
   * The three-step login: (1) OPAQUE with the password; (2) the OPAQUE
   * finish with the device's signed statement (ID_C, the phone number and a
   * fresh ECDH share), answered by the bank's signed share and an SMS code to
   * the registered number; (3) the code, sealed under the session key both
   * sides now derive (ECDH + OPAQUE session key, HKDF). A wrong code may be
   * given again while the bank allows (limits.codeTriesPerLoginMax). Step 1
   * carries the device's signed start (`signBankingLoginStart`, over the KE1's
   * hash): the bank counts the try then, and answers the customer's record
   * only to it. Every refusal is the bank's generic BANKING_LOGIN_FAILED or
   * BANKING_LOGIN_BLOCKED; a wrong password is found here already (OPAQUE):
   * BANKING_LOGIN_FAILED, nothing more sent (the bank counted the try at the
   * start). The bank's answer must say the code went to the number given
   * (masked as the bank masks it), else BANK_ANSWER_INVALID.
   */
  async login(input: BankingLoginInput): Promise<BankingSession> {
    requireUserId(input.userId);
    requirePassword(input.password, 1);
    if (!isMsisdn(input.msisdn)) throw new MpayError('REQUEST_INVALID', 'msisdn');
    const { state, bank } = await this.#state();
    const registration = state.registration;
    if (registration === undefined)
      throw new MpayError('REQUEST_INVALID', 'the device is not registered for banking');
    if (registration.userId !== input.userId) throw new MpayError('REQUEST_INVALID', 'userId');
    // The session open so far ends first (logout never rejects).
    await this.logout();

    const opaque = await loadOpaque();
    const start = opaque.client.startLogin({ password: input.password });
    const startDevice = await signBankingLoginStart(
      { userId: input.userId, messageHash: await bankingMessageHash(start.startLoginRequest) },
      this.#statementInput(state, bank),
    );
    const started = await this.#connection.post(
      '/banking/logins',
      { userId: input.userId, startLoginRequest: start.startLoginRequest, device: startDevice },
      [200],
      ['loginId', 'loginResponse'],
    );
    const loginId = readString(started.body.loginId, 'loginId', uuidPattern);
    const loginResponse = readString(started.body.loginResponse, 'loginResponse', opaqueMessagePattern);
    let finished: ReturnType<Opaque['client']['finishLogin']>;
    try {
      finished = opaque.client.finishLogin({
        clientLoginState: start.clientLoginState,
        loginResponse,
        password: input.password,
      });
    } catch {
      finished = undefined;
    }
    // A wrong password (or a decoy answer): nothing valid to send; the bank counted the try at the start.
    if (finished === undefined) throw new MpayError('BANKING_LOGIN_FAILED');
    const ephemeral = await createBankingEphemeralKey();
    const device = await signBankingLogin(
      {
        loginId,
        userId: input.userId,
        clientId: registration.clientId,
        msisdn: input.msisdn,
        ephemeralJwk: ephemeral.publicJwk,
      },
      this.#statementInput(state, bank),
    );
    const proved = await this.#connection.post(
      `/banking/logins/${pathSegment(loginId)}/finish`,
      { finishLoginRequest: finished.finishLoginRequest, device },
      [200],
      ['loginId', 'answer'],
    );
    if (proved.body.loginId !== loginId) throw new MpayError('BANK_ANSWER_INVALID', 'loginId');
    const context = { bank, partyId: state.partyId, now: this.#now };
    const answer = await openBankingLoginAnswer(proved.body.answer, { ...context, loginId });
    if (answer.codeSentTo !== maskMsisdn(input.msisdn)) {
      throw new MpayError('BANK_ANSWER_INVALID', 'codeSentTo is not the number given');
    }
    const sessionKey = await deriveBankingSessionKey({
      privateKey: ephemeral.privateKey,
      peerPublicJwk: answer.ephemeralJwk,
      opaqueSessionKey: finished.sessionKey,
      bankId: bank.id,
      partyId: state.partyId,
      sessionId: loginId,
    });

    const opened = await this.#sendCode(input, answer, sessionKey);
    if (opened.body.sessionId !== loginId) throw new MpayError('BANK_ANSWER_INVALID', 'sessionId');
    const expiresAt = readInstant(opened.body.expiresAt, 'expiresAt');
    const session = await openBankingSession(opened.body.statement, { ...context, sessionId: loginId });
    if (
      session.serial !== state.current.serial ||
      session.expiresAt !== expiresAt ||
      !sameBankingClientId(session.clientId, registration.clientId)
    ) {
      throw new MpayError('CRYPTO_VERIFICATION_FAILED', `not from ${bank.id}`);
    }
    this.#session = Object.freeze({ ...session, sessionKey });
    return this.session() as BankingSession;
  }

  /** Step 3: the code, asked again after a refusal while the login has tries left. */
  async #sendCode(
    input: BankingLoginInput,
    answer: { loginId: string; codeSentTo: string; codeExpiresAt: string },
    sessionKey: Uint8Array,
  ) {
    const { loginId } = answer;
    let failure: unknown;
    for (let attempt = 1; attempt <= this.#limits.codeTriesPerLoginMax; attempt += 1) {
      const prompt = { loginId, codeSentTo: answer.codeSentTo, codeExpiresAt: answer.codeExpiresAt, attempt };
      const code = (await input.readCode(Object.freeze(prompt))).trim();
      let sealed: string;
      try {
        sealed = await sealBankingCode({ loginId, code, sessionKey });
      } catch (error) {
        // A code that is not 6 to 9 digits is not sent: no try of the bank is spent on a typo.
        if (!isMpayError(error, 'REQUEST_INVALID')) throw error;
        failure = error;
        continue;
      }
      try {
        return await this.#connection.post(
          `/banking/logins/${pathSegment(loginId)}/code`,
          { code: sealed },
          [201],
          ['sessionId', 'expiresAt', 'statement'],
        );
      } catch (error) {
        if (!isMpayError(error, 'BANKING_LOGIN_FAILED')) throw error;
        failure = error;
      }
    }
    throw failure;
  }

  /** The open session (without its key), or undefined. */
  session(): BankingSession | undefined {
    const session = this.#session;
    if (session === undefined) return undefined;
    const { sessionKey: _key, ...view } = session;
    return Object.freeze(view);
  }

  /** The open session WITH its key, to resume it elsewhere (`resumeSession`): keep it as secret as the key. */
  exportSession(): BankingSessionState | undefined {
    const session = this.#session;
    if (session === undefined) return undefined;
    const { sessionKey, ...view } = session;
    return Object.freeze({ ...view, sessionKey: encodeBase64url(sessionKey) });
  }

  /** Resumes a session exported by `exportSession` (the bank still decides whether it is open). */
  async resumeSession(saved: BankingSessionState): Promise<void> {
    const { state } = await this.#state();
    const sessionKey = decodeBase64url(saved.sessionKey);
    if (sessionKey?.length !== 32) throw new MpayError('CRYPTO_KEY_INVALID', 'sessionKey');
    if (
      !isUuid(saved.sessionId) ||
      saved.partyId !== state.partyId ||
      saved.serial !== state.current.serial ||
      state.registration === undefined ||
      !sameBankingClientId(saved.clientId, state.registration.clientId)
    ) {
      throw new MpayError('BANKING_SESSION_INVALID', 'not a session of this device');
    }
    this.#session = Object.freeze({
      sessionId: saved.sessionId,
      partyId: saved.partyId,
      serial: saved.serial,
      clientId: Object.freeze({ ...state.registration.clientId }),
      expiresAt: readInstant(saved.expiresAt, 'expiresAt'),
      sessionKey: Uint8Array.from(sessionKey),
    });
  }

  /**
   * Ends the session: the bank is asked to close it (a `logout` request: it
   * erases its copy of the key and refuses any later request in it), then the
   * key is wiped here. Best effort: whatever the bank answers, or if it cannot
   * be reached, the session is forgotten here all the same; the bank then
   * ends it on its own clock (idle or lifetime). Resolves to the bank's
   * confirmation, or undefined when there was no session or the bank did not
   * confirm. Never rejects.
   */
  async logout(): Promise<BankingLogout | undefined> {
    const session = this.#session;
    if (session === undefined) return undefined;
    try {
      const { answer } = await this.#request({ kind: 'logout' });
      return parseLogoutResult(answer.result, session.sessionId);
    } catch {
      return undefined;
    } finally {
      this.#forget(session);
    }
  }

  /** Forgets a session here only (its key wiped): the bank closed it already, or will on its own clock. */
  #forget(session: OpenSession | undefined = this.#session): void {
    session?.sessionKey.fill(0);
    if (this.#session === session) this.#session = undefined;
  }

  // ─── requests: E(S(msg, ID_C)) ────────────────────────────────────────────

  /**
   * One request through the SM and the CM: sealed, sent, the answer opened
   * and verified, its kind the request's. A session the bank no longer has
   * (BANKING_SESSION_INVALID) is forgotten here too. `requestId` is the
   * caller's for an order it may send again; default a fresh one.
   */
  async #request(
    request: BankingRequest,
    requestId?: string,
  ): Promise<{ answer: BankingAnswerContent; requestId: string; clientId: BankingClientId }> {
    const session = this.#session;
    if (session === undefined) throw new MpayError('BANKING_SESSION_INVALID', 'no session: log in first');
    if (this.#now() >= Date.parse(session.expiresAt)) {
      this.#forget(session);
      throw new MpayError('BANKING_SESSION_INVALID', 'the session expired');
    }
    const { state, bank } = await this.#state();
    if (state.current.serial !== session.serial) {
      this.#forget(session);
      throw new MpayError('BANKING_SESSION_INVALID', 'the session was of another key');
    }
    const sealed = await sealBankingRequest({
      request,
      clientId: session.clientId,
      sessionId: session.sessionId,
      partyId: state.partyId,
      bankId: bank.id,
      signingKey: state.current.signing.privateJwk,
      sessionKey: session.sessionKey,
      requestId,
      expiresInSeconds: this.#requestLifetimeSeconds,
      now: this.#now,
    });
    let body: Record<string, unknown>;
    try {
      ({ body } = await this.#connection.post(
        '/banking/requests',
        { sessionId: session.sessionId, request: sealed.sealed },
        [200],
        ['sessionId', 'requestId', 'answer'],
      ));
    } catch (error) {
      if (isMpayError(error, 'BANKING_SESSION_INVALID')) this.#forget(session);
      throw error;
    }
    if (body.sessionId !== session.sessionId || body.requestId !== sealed.requestId) {
      throw new MpayError('BANK_ANSWER_INVALID', '/banking/requests');
    }
    const answer = await openBankingAnswer(body.answer, {
      bank,
      partyId: state.partyId,
      sessionKey: session.sessionKey,
      sessionId: session.sessionId,
      requestId: sealed.requestId,
      now: this.#now,
    });
    requireAnswerKind(answer.kind, request.kind as BankingRequestKind);
    return { answer, requestId: sealed.requestId, clientId: session.clientId };
  }

  async balance(): Promise<BankingBalance> {
    const { answer, requestId, clientId } = await this.#request({ kind: 'balance' });
    return parseBalanceResult(answer.result, { requestId, clientId });
  }

  /**
   * A transfer from ID_C's account. Its order id is the request id: pass the
   * same `requestId` on every try of one order (see BankingOrderIdentity), and
   * the bank carries it out at most once.
   */
  async transfer(input: BankingTransferInput): Promise<BankingTransfer> {
    const orderRequestId = orderRequestIdOf(input);
    const request = {
      kind: 'transfer',
      ...pick(input, ['payeeId', 'amount', 'currency', 'reference']),
    } as const;
    const { answer, requestId, clientId } = await this.#request(request, orderRequestId);
    return parseTransferResult(answer.result, request, { requestId, clientId });
  }

  /** A bill payment to a biller the bank registered; `requestId` as for `transfer`. */
  async payBill(input: BankingBillPaymentInput): Promise<BankingBillPayment> {
    const orderRequestId = orderRequestIdOf(input);
    const request = {
      kind: 'bill_payment',
      ...pick(input, ['billerId', 'customerReference', 'amount', 'currency']),
    } as const;
    const { answer, requestId, clientId } = await this.#request(request, orderRequestId);
    return parseBillPaymentResult(answer.result, request, { requestId, clientId });
  }

  /** A page of the statement of ID_C's account, newest first; `nextCursor` asks for the next. */
  async statement(options: { cursor?: string; pageSize?: number } = {}): Promise<BankingStatement> {
    const request = {
      kind: 'statement',
      ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
      ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
    } as const;
    if (request.pageSize !== undefined && request.pageSize > this.#limits.statementPageSizeMax) {
      throw new MpayError('REQUEST_INVALID', 'pageSize');
    }
    const { answer, requestId, clientId } = await this.#request(request);
    return parseStatementResult(answer.result, request, { requestId, clientId });
  }

  /** The customer's banking devices (this one `current`). */
  async devices(): Promise<readonly BankingDevice[]> {
    const { answer } = await this.#request({ kind: 'devices' });
    return parseDevicesResult(answer.result);
  }

  /**
   * Revokes one of the customer's devices (a lost or stolen phone), this one
   * included: then the bank closed this session and it is forgotten here.
   */
  async revokeDevice(serial: string, reason: RevocationReason): Promise<BankingRevocation> {
    if (!serialPattern.test(serial)) throw new MpayError('REQUEST_INVALID', 'serial');
    const request = { kind: 'revoke_device', serial, reason } as const;
    const { answer } = await this.#request(request);
    const revocation = parseRevocationResult(answer.result, request);
    if (serial === this.#session?.serial) this.#forget();
    return revocation;
  }

  /** The bank's open renewal notices for this device's key (§4.3: the bank initiates renewal). */
  async renewalNotices(): Promise<readonly BankingRenewalNotice[]> {
    const { answer } = await this.#request({ kind: 'renewal_notices' });
    return parseRenewalNoticesResult(answer.result);
  }

  /**
   * Answers a renewal notice: the KMM generates and saves a new pair and its
   * proof, the request goes signed by the current key, and once the bank's
   * new binding names the new keys the KMM swaps them. The bank closed the
   * old key's sessions: log in again. A refusal (BANKING_RENEWAL_INVALID)
   * drops the new pair and keeps the current key.
   */
  async renewKey(noticeId: string): Promise<BankingKeyState> {
    const request = await this.#keys.prepareRenewal(noticeId, { now: this.#now });
    let answer: BankingAnswerContent;
    try {
      ({ answer } = await this.#request(request));
    } catch (error) {
      if (isMpayError(error, 'BANKING_RENEWAL_INVALID')) await this.#keys.abandonRenewal(noticeId);
      // The answer may be lost after the bank renewed (the old key is revoked then): look for it.
      else if ((await this.recoverRenewal(noticeId)) !== undefined) return this.#keys.state();
      throw error;
    }
    const renewal = parseRenewalResult(answer.result);
    // The bank closed the old key's sessions with the renewal: nothing to tell it.
    this.#forget();
    return this.#keys.completeRenewal(renewal, await this.bank(), { now: this.#now });
  }

  /**
   * A renewal whose answer never arrived: the bank issues the new binding
   * under the notice's id as its serial, so the device reads it at the
   * public GET /key-bindings/:serial and takes it when it names exactly the
   * keys it made for that notice (and is active). Undefined while the bank
   * has no such binding (the renewal did not happen: renew again).
   */
  async recoverRenewal(noticeId: string): Promise<BankingKeyState | undefined> {
    const state = await this.#keys.state();
    if (state.pending?.noticeId !== noticeId) return undefined;
    let body: Record<string, unknown>;
    try {
      ({ body } = await this.#connection.get(`/key-bindings/${pathSegment(noticeId)}`, [
        ['serial', 'binding', 'status'],
        ['serial', 'binding', 'status', 'revokedAt'],
      ]));
    } catch {
      return undefined;
    }
    if (body.status !== 'active' || body.serial !== noticeId || typeof body.binding !== 'string')
      return undefined;
    const renewal = parseRenewalResult({
      serial: noticeId,
      binding: body.binding,
      renewedFrom: state.current.serial,
    });
    // The bank closed the old key's sessions with the renewal: nothing to tell it.
    this.#forget();
    return this.#keys.completeRenewal(renewal, await this.bank(), { now: this.#now });
  }
}

/** Exactly the named members of an input (no stray member reaches the signed request). */
function pick<T extends object, K extends keyof T>(input: T, names: readonly K[]): Pick<T, K> {
  return Object.fromEntries(names.map((name) => [name, input[name]])) as Pick<T, K>;
}
