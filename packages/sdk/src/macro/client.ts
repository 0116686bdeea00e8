import {
  decryptDirect,
  encryptDirect,
  encryptTo,
  type PrivateJwk,
  type SigningKey,
  signPayload,
} from '@mpay/envelope';
import { errorFromAnswer, requestAnswer, requestJson } from '@mpay/http-client';
import {
  type ChallengeContent,
  checkChallengeAnswersRequest,
  createSecretAnswerContent,
  defaultMacroLimits,
  isMacroClientId,
  isMacroDeviceSecret,
  isMpayError,
  type MacroPaymentStatusContent,
  type MacroRegistrationContent,
  MpayError,
  macroMpinPattern,
  parseChallengeContent,
  parseFailureMsg1,
  parseMacroChannelConfirmation,
  parseMacroPaymentStatus,
  parseMacroRegistration,
  parseSecretAnswer,
  type Sha256Digest,
} from '@mpay/protocol';
import { type FspTrust, fspEncryptionKey } from '../fsp.ts';
import { deriveMacroChannelKey, deriveMacroRequestKey } from './channel-key.ts';
import {
  byteLengthOf,
  createMacroPaymentRequest,
  describeCompact,
  type MacroMessageObserved,
  type MacroMessageObserver,
  type MacroPaymentInput,
  type MacroPaymentStarted,
  type MacroSessionCreated,
  type OpenedMacroChallenge,
  type PreparedMacroPayment,
} from './payment.ts';

/**
 * The mobile client (MC) of seed 002's macro payments, its registration
 * (§3) and its mPIN channel to the MPASP (E_SP, hardened as issue 10 §3 asks).
 * The mPIN never leaves the device: it enters an OPAQUE login that the MPASP
 * counts; the channel key comes from that login and the device secret.
 */
export interface MacroClientOptions {
  readonly gatewayUrl: string;
  /** The FSP (the MPASP) as the client trusts it: its id and keys (pinned in a real app). */
  readonly fsp: FspTrust;
  /** The device secret of the registration (`createMacroDeviceSecret`), kept on the device with its keys. */
  readonly deviceSecret: string;
  readonly timeoutMs?: number;
  /** Told each message of §4.2 this device sends or receives, with its exact size (a trace). */
  readonly onMessage?: MacroMessageObserver;
}

export interface MacroRegistrationInput {
  /** The key binding the customer's bank issued to this device (compact JWS). */
  readonly binding: string;
  /** The device's bound signing key: it signs the registration. */
  readonly signingKey: PrivateJwk | SigningKey;
  /** The bank customer registering (the binding's subject). */
  readonly partyId: string;
  readonly msisdn: string;
  readonly email: string;
  readonly name: string;
  /** SQn: asked at step 2 of every payment. */
  readonly secretQuestion: string;
  /** SAns: sent only inside the JWE to the MPASP, which keeps a slow verifier of it. */
  readonly secretAnswer: string;
  /** Default: a fresh random key. Keep the prepared request to retry it under the same key. */
  readonly idempotencyKey?: string;
  /** The device's clock, milliseconds since the epoch (default Date.now). */
  readonly now?: () => number;
}

/** A registration ready to send: the exact bytes and key to send again on a retry. */
export interface PreparedMacroRegistration {
  readonly registration: MacroRegistrationContent;
  readonly body: string;
  readonly idempotencyKey: string;
}

export interface MacroRegistered {
  /** ID_C; the MPASP also mails it, with the mPIN. */
  readonly clientId: string;
  /** The address the mail went to, masked. */
  readonly mailedTo: string;
}

/** An open E_SP channel: `channelKey` seals and opens its messages (`encryptDirect` / `decryptDirect`, kid the session id). */
export interface MacroChannel {
  readonly clientId: string;
  readonly sessionId: string;
  readonly channelKey: Uint8Array;
  readonly expiresAt: string;
}

const registrationLifetimeSeconds = 300;
const answerBytesMax = 64 * 1024;
const timeoutMsDefault = 30_000;
const opaqueValuePattern = /^[A-Za-z0-9_-]{16,4096}$/;
const loginIdPattern = /^[0-9a-f-]{36}$/;
const transactionIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const compactJwePattern = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const instantPattern = /^.{24}$/;

/** The contents the device parses carry no hash to check (only PApp_Resp does). */
const noDigest: Sha256Digest = () => {
  throw new Error('assertion failed: only PApp_Resp is checked with a digest');
};

function decodeJson(bytes: Uint8Array): unknown {
  return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
}

/** A payment this device requested, as far as it went: what step 3 and 4 need, and the tries it spent. */
interface PendingPayment {
  readonly started: MacroPaymentStarted;
  failedOpenings: number;
  opened?: OpenedMacroChallenge;
}

/** What `pay` asks the person, when the paper asks it: the mPIN at step 3, SAns at step 4. */
export interface MacroPaymentPrompts {
  /** The mPIN (asked again after a wrong one, while the challenge has tries left). */
  readonly mPin: () => Promise<string>;
  /** SAns, for SQn as the MPASP sent it in the opened challenge. */
  readonly secretAnswer: (secretQuestion: string) => Promise<string>;
}

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

function malformed(name: string): MpayError {
  return new MpayError('SERVICE_UNAVAILABLE', `MPASP answer: ${name}`);
}

function answerString(body: unknown, name: string, pattern: RegExp): string {
  const value = (body as Record<string, unknown> | null)?.[name];
  if (typeof value !== 'string' || !pattern.test(value)) throw malformed(name);
  return value;
}

export class MacroClient {
  readonly #options: MacroClientOptions;
  /** Payments in steps 2–5, by ID_T: a challenge deleted after its tries is removed from here too. */
  readonly #payments = new Map<string, PendingPayment>();
  /** ID_Ts whose challenge this device deleted (§3: "the message will be deleted at client device"). */
  readonly #deleted = new Set<string>();

  constructor(options: MacroClientOptions) {
    if (!isMacroDeviceSecret(options.deviceSecret)) throw new MpayError('CRYPTO_KEY_INVALID', 'deviceSecret');
    this.#options = Object.freeze({ ...options });
  }

  async #post(
    path: string,
    body: string,
    headers: Record<string, string> = {},
    contentType = 'application/json',
  ) {
    const { body: answer } = await requestJson<unknown>(`${this.#options.gatewayUrl}${path}`, {
      body,
      contentType,
      headers,
      timeoutMs: this.#options.timeoutMs ?? timeoutMsDefault,
      responseBytesMax: answerBytesMax,
    });
    return answer;
  }

  /** Tells the observer; one that throws changes nothing here (the protocol never depends on a trace). */
  #observe(message: MacroMessageObserved): void {
    try {
      this.#options.onMessage?.(Object.freeze(message));
    } catch {
      // A trace's failure is the trace's own.
    }
  }

  /**
   * Builds the registration (§3): the content signed with the bound key
   * (issuer the party, audience the MPASP), and the JWE to the MPASP that
   * carries it with the binding and the secret answer. Checks locally what
   * the MPASP would refuse (MESSAGE_INVALID with the member's path).
   */
  async prepareRegistration(input: MacroRegistrationInput): Promise<PreparedMacroRegistration> {
    const nowMs = (input.now ?? Date.now)();
    const registration = parseMacroRegistration({
      kind: 'macro_registration',
      partyId: input.partyId,
      msisdn: input.msisdn,
      email: input.email,
      name: input.name.trim(),
      secretQuestion: input.secretQuestion.trim(),
      deviceSecret: this.#options.deviceSecret,
      issuedAt: new Date(nowMs).toISOString(),
    });
    parseSecretAnswer(input.secretAnswer);
    const signature = await signPayload(
      registration,
      {
        issuer: registration.partyId,
        audience: this.#options.fsp.id,
        transactionId: registration.partyId,
        expiresInSeconds: registrationLifetimeSeconds,
        now: () => nowMs,
      },
      input.signingKey,
    );
    const body = await encryptTo(
      JSON.stringify({ binding: input.binding, registration, signature, secretAnswer: input.secretAnswer }),
      fspEncryptionKey(this.#options.fsp),
    );
    return {
      registration,
      body,
      idempotencyKey: input.idempotencyKey ?? `macro-registration-${crypto.randomUUID()}`,
    };
  }

  /** Sends a prepared registration (again, on a retry: the MPASP answers the first answer). */
  async sendRegistration(prepared: PreparedMacroRegistration): Promise<MacroRegistered> {
    const answer = await this.#post(
      '/macro/registrations',
      prepared.body,
      { 'idempotency-key': prepared.idempotencyKey },
      'application/jose',
    );
    const clientId = answerString(answer, 'clientId', /^.{1,100}$/);
    if (!isMacroClientId(clientId)) throw malformed('clientId');
    return { clientId, mailedTo: answerString(answer, 'mailedTo', /^.{1,254}$/) };
  }

  /** Registers with the MPASP: the client id and the mPIN then arrive by mail. */
  async register(input: MacroRegistrationInput): Promise<MacroRegistered> {
    return this.sendRegistration(await this.prepareRegistration(input));
  }

  /**
   * Opens an E_SP channel with the mailed mPIN: an OPAQUE login at the MPASP
   * (which counts the try), then the channel key from its session key and the
   * device secret, checked against the MPASP's sealed confirmation. A wrong
   * mPIN is MACRO_MPIN_REFUSED (the device tells the MPASP, so that the
   * failure that reaches the limit blocks at once), a blocked id
   * MACRO_MPIN_BLOCKED; a confirmation that does not open is
   * CRYPTO_VERIFICATION_FAILED (not the MPASP, or not this device's secret).
   */
  async openChannel(clientId: string, mPin: string): Promise<MacroChannel> {
    if (!isMacroClientId(clientId)) throw new MpayError('REQUEST_INVALID', 'clientId');
    // A malformed mPIN is refused here: no try is spent on it.
    if (!macroMpinPattern.test(mPin)) throw new MpayError('REQUEST_INVALID', 'mPin');
    const { opened, sessionKey } = await this.#countedLogin(
      clientId,
      mPin,
      '/macro/sessions',
      { clientId },
      (started) =>
        `/macro/sessions/${encodeURIComponent(answerString(started, 'loginId', loginIdPattern))}/finish`,
    );
    const sessionId = answerString(opened, 'sessionId', loginIdPattern);
    const expiresAt = answerString(opened, 'expiresAt', /^.{1,40}$/);
    const channelKey = await deriveMacroChannelKey({
      sessionKey,
      deviceSecret: this.#options.deviceSecret,
      clientId,
      sessionId,
    });
    await this.#checkConfirmation(
      answerString(opened, 'confirmation', /^[A-Za-z0-9_.-]{1,4096}$/),
      channelKey,
      {
        clientId,
        sessionId,
        expiresAt,
      },
    );
    return Object.freeze({ clientId, sessionId, channelKey, expiresAt });
  }

  /**
   * An OPAQUE login with the mPIN that the MPASP counts (the channel login
   * and each challenge opening): start at `startPath`, finish at the path the
   * start's answer names. A wrong mPIN is said to the MPASP at once (a null
   * finish), so the try is counted now; its refusal or block is the answer,
   * else MACRO_MPIN_REFUSED. Returns the finish's answer and the session key.
   */
  async #countedLogin(
    clientId: string,
    mPin: string,
    startPath: string,
    startFields: Record<string, string>,
    finishPathOf: (started: unknown) => string,
    onSent: (route: string, body: string) => void = () => undefined,
  ): Promise<{ opened: unknown; sessionKey: string }> {
    const opaque = await loadOpaque();
    const start = opaque.client.startLogin({ password: mPin });
    const startBody = JSON.stringify({ ...startFields, startLoginRequest: start.startLoginRequest });
    // Told once sent, whatever the MPASP answers: a refused try was still sent.
    const started = await this.#post(startPath, startBody).finally(() =>
      onSent(`POST ${startPath}`, startBody),
    );
    const loginResponse = answerString(started, 'loginResponse', opaqueValuePattern);
    const finishPath = finishPathOf(started);
    let finished: ReturnType<Opaque['client']['finishLogin']>;
    try {
      finished = opaque.client.finishLogin({
        clientLoginState: start.clientLoginState,
        loginResponse,
        password: mPin,
        identifiers: { client: clientId, server: this.#options.fsp.id },
      });
    } catch {
      finished = undefined;
    }
    if (finished === undefined) {
      const nullFinish = JSON.stringify({ finishLoginRequest: null });
      await this.#post(finishPath, nullFinish).finally(() => onSent(`POST ${finishPath}`, nullFinish));
      throw new MpayError('MACRO_MPIN_REFUSED');
    }
    const finishBody = JSON.stringify({ finishLoginRequest: finished.finishLoginRequest });
    const opened = await this.#post(finishPath, finishBody).finally(() =>
      onSent(`POST ${finishPath}`, finishBody),
    );
    return { opened, sessionKey: finished.sessionKey };
  }

  /** Any answer of the MPASP, whatever its status (bounded, parsed JSON). */
  async #send(path: string, body?: string, headers: Record<string, string> = {}, contentType?: string) {
    return requestAnswer(`${this.#options.gatewayUrl}${path}`, {
      ...(body === undefined ? {} : { body }),
      ...(contentType === undefined ? {} : { contentType }),
      headers,
      timeoutMs: this.#options.timeoutMs ?? timeoutMsDefault,
      responseBytesMax: answerBytesMax,
    });
  }

  /** Step 1 ready to send: the content and TransactionData, sealed under the request key (kid ID_C). */
  async preparePayment(input: MacroPaymentInput): Promise<PreparedMacroPayment> {
    const { request, transactionData } = await createMacroPaymentRequest(input, this.#options.fsp.id);
    if (!/^\+[1-9][0-9]{6,14}$/.test(input.msisdn)) throw new MpayError('REQUEST_INVALID', 'msisdn');
    const key = await deriveMacroRequestKey(this.#options.deviceSecret, input.clientId);
    const body = await encryptDirect(JSON.stringify({ request, msisdn: input.msisdn }), key, {
      kid: input.clientId,
    });
    return {
      clientId: input.clientId,
      request,
      transactionData,
      body,
      idempotencyKey: input.idempotencyKey ?? `macro-payment-${crypto.randomUUID()}`,
    };
  }

  /**
   * Sends a prepared step 1 (again, on a retry: the MPASP answers the first
   * answer) and keeps the payment for steps 3–4. Step 2's answer names ID_T,
   * T_iS and T_EXP; the challenge (SQn) is opened with the mPIN.
   */
  async sendPayment(prepared: PreparedMacroPayment): Promise<MacroPaymentStarted> {
    const answer = await this.#post(
      '/macro/payments',
      prepared.body,
      { 'idempotency-key': prepared.idempotencyKey },
      'application/jose',
    );
    this.#observe({
      step: 1,
      from: 'C',
      to: 'MPASP',
      message: 'macro_payment_request',
      bytes: byteLengthOf(prepared.body),
      protection: `sealed by C under its request key (from the device secret): ${describeCompact(prepared.body)}`,
      route: 'POST /macro/payments',
    });
    const started: MacroPaymentStarted = Object.freeze({
      clientId: prepared.clientId,
      transactionId: answerString(answer, 'transactionId', transactionIdPattern),
      requestId: answerString(answer, 'requestId', loginIdPattern),
      challengedAt: answerString(answer, 'challengedAt', instantPattern),
      expiresAt: answerString(answer, 'expiresAt', instantPattern),
      request: prepared.request,
      transactionData: prepared.transactionData,
    });
    if (started.requestId !== prepared.request.requestId) throw malformed('requestId');
    this.#payments.set(started.transactionId, { started, failedOpenings: 0 });
    return started;
  }

  /** Steps 1–2: asks the MPASP to pay (no mPIN needed yet). */
  async requestPayment(input: MacroPaymentInput): Promise<MacroPaymentStarted> {
    return this.sendPayment(await this.preparePayment(input));
  }

  #pending(transactionId: string): PendingPayment {
    if (this.#deleted.has(transactionId)) throw new MpayError('MACRO_CHALLENGE_DELETED');
    const pending = this.#payments.get(transactionId);
    if (pending === undefined) throw new MpayError('PAYMENT_UNKNOWN');
    return pending;
  }

  #forget(transactionId: string, deleted: boolean): void {
    this.#payments.delete(transactionId);
    if (deleted) this.#deleted.add(transactionId);
  }

  /**
   * Step 3: opens the challenge E_SP{ID_T, T_iS, SQn} with the mPIN, through
   * an OPAQUE login bound to ID_T that the MPASP counts. The challenge opens
   * under HKDF(the login's session key, salt = the device secret, info =
   * label, ID_C, ID_T): only the real MPASP can have sealed it (§5.1.1). A
   * wrong mPIN is MACRO_MPIN_REFUSED; after `challengeOpenTriesMax` (3)
   * failed tries the device deletes its copy and every later try is
   * MACRO_CHALLENGE_DELETED without asking the MPASP.
   */
  async openChallenge(transactionId: string, mPin: string): Promise<OpenedMacroChallenge> {
    const pending = this.#pending(transactionId);
    if (pending.opened !== undefined) return pending.opened;
    if (!macroMpinPattern.test(mPin)) throw new MpayError('REQUEST_INVALID', 'mPin');
    try {
      const opened = await this.#openChallenge(pending.started, mPin);
      pending.opened = opened;
      return opened;
    } catch (error) {
      if (isMpayError(error, 'MACRO_MPIN_REFUSED')) {
        pending.failedOpenings += 1;
        if (pending.failedOpenings >= defaultMacroLimits.challengeOpenTriesMax) {
          this.#forget(transactionId, true);
          throw new MpayError('MACRO_CHALLENGE_DELETED');
        }
      } else if (isMpayError(error, 'MACRO_CHALLENGE_DELETED')) {
        this.#forget(transactionId, true);
      } else if (isMpayError(error, 'PAYMENT_EXPIRED') || isMpayError(error, 'MACRO_MPIN_BLOCKED')) {
        this.#forget(transactionId, false);
      }
      throw error;
    }
  }

  async #openChallenge(started: MacroPaymentStarted, mPin: string): Promise<OpenedMacroChallenge> {
    const { clientId, transactionId } = started;
    const openings = `/macro/payments/${transactionId}/challenge/openings`;
    const { opened: answer, sessionKey } = await this.#countedLogin(
      clientId,
      mPin,
      openings,
      {},
      (begun) => `${openings}/${encodeURIComponent(answerString(begun, 'openingId', loginIdPattern))}/finish`,
      (route, body) =>
        this.#observe({
          step: 3,
          from: 'C',
          to: 'MPASP',
          message: 'macro_mpin_login',
          bytes: byteLengthOf(body),
          protection:
            'OPAQUE (RFC 9807) login with the mPIN, counted by the MPASP; no key from the mPIN alone',
          route,
        }),
    );
    const sealed = answerString(answer, 'challenge', compactJwePattern);
    const channelKey = await deriveMacroChannelKey({
      sessionKey,
      deviceSecret: this.#options.deviceSecret,
      clientId,
      sessionId: transactionId,
    });
    let challenge: ChallengeContent;
    try {
      challenge = parseChallengeContent(
        decodeJson(await decryptDirect(sealed, channelKey, { kid: transactionId })),
        noDigest,
      );
      checkChallengeAnswersRequest(challenge, started.request, transactionId);
    } catch (error) {
      if (!isMpayError(error) && !(error instanceof SyntaxError) && !(error instanceof TypeError))
        throw error;
      throw new MpayError('CRYPTO_VERIFICATION_FAILED');
    }
    this.#observe({
      step: 2,
      from: 'MPASP',
      to: 'C',
      message: 'macro_challenge',
      bytes: byteLengthOf(sealed),
      protection: `sealed by the MPASP under the payment's channel key (the opening's OPAQUE session key and the device secret): ${describeCompact(sealed)}`,
      route: `answer to POST ${openings}/:openingId/finish`,
    });
    return Object.freeze({ transactionId, challenge, channelKey });
  }

  /**
   * Steps 4–5: sends E_SP{ID_T, SAns} under the payment's channel key. The
   * MPASP checks SAns: valid, it creates SID_T and sends the Payment Request
   * to the client bank; not valid, it answers failure_msg1 (sealed, checked
   * here), AUTHENTICATION_FAILED, and the payment is over.
   */
  async answerSecret(transactionId: string, secretAnswer: string): Promise<MacroSessionCreated> {
    const pending = this.#pending(transactionId);
    const opened = pending.opened;
    if (opened === undefined) throw new MpayError('PAYMENT_STATE_INVALID', 'the challenge is not opened');
    const content = createSecretAnswerContent(opened.challenge, secretAnswer);
    const body = await encryptDirect(JSON.stringify(content), opened.channelKey, { kid: transactionId });
    const answer = await this.#send(
      `/macro/payments/${transactionId}/secret-answer`,
      body,
      { 'idempotency-key': `macro-answer-${crypto.randomUUID()}` },
      'application/jose',
    );
    this.#observe({
      step: 4,
      from: 'C',
      to: 'MPASP',
      message: 'macro_secret_answer',
      bytes: byteLengthOf(body),
      protection: `sealed by C under the payment's channel key: ${describeCompact(body)}`,
      route: `POST /macro/payments/${transactionId}/secret-answer`,
    });
    if (answer.status === 202) {
      this.#forget(transactionId, false);
      const sessionId = answerString(answer.body, 'sessionId', loginIdPattern);
      if (answerString(answer.body, 'transactionId', transactionIdPattern) !== transactionId) {
        throw malformed('transactionId');
      }
      return Object.freeze({
        transactionId,
        sessionId,
        status: answerString(answer.body, 'status', /^[a-z_]{1,40}$/),
      });
    }
    const error = errorFromAnswer(answer.body, answer.status);
    if (error.code === 'AUTHENTICATION_FAILED') {
      this.#forget(transactionId, false);
      await this.#checkFailureMsg1(answer.body, opened);
    } else if (error.code === 'PAYMENT_EXPIRED') {
      this.#forget(transactionId, false);
    }
    throw error;
  }

  /** failure_msg1 must open under the channel key and name this payment: else it is not the MPASP's. */
  async #checkFailureMsg1(body: unknown, opened: OpenedMacroChallenge): Promise<void> {
    try {
      const sealed = answerString(body, 'failureMsg1', compactJwePattern);
      const failure = parseFailureMsg1(
        decodeJson(await decryptDirect(sealed, opened.channelKey, { kid: opened.transactionId })),
        noDigest,
      );
      if (
        failure.transactionId === opened.transactionId &&
        failure.to === opened.challenge.to &&
        failure.from === this.#options.fsp.id
      ) {
        this.#observe({
          step: 5,
          from: 'MPASP',
          to: 'C',
          message: 'macro_failure_msg1',
          bytes: byteLengthOf(sealed),
          protection: `sealed by the MPASP under the payment's channel key: ${describeCompact(sealed)}`,
          route: `answer to POST /macro/payments/${opened.transactionId}/secret-answer`,
        });
        return;
      }
    } catch (error) {
      if (!isMpayError(error) && !(error instanceof SyntaxError) && !(error instanceof TypeError))
        throw error;
    }
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  }

  /**
   * Steps 1–5 in one call: the request, the challenge opened with the mPIN
   * (asked again after a wrong one, until the challenge's tries run out), the
   * secret answer for the question the challenge carries.
   */
  async pay(input: MacroPaymentInput, prompts: MacroPaymentPrompts): Promise<MacroSessionCreated> {
    const started = await this.requestPayment(input);
    let opened: OpenedMacroChallenge | undefined;
    while (opened === undefined) {
      try {
        opened = await this.openChallenge(started.transactionId, await prompts.mPin());
      } catch (error) {
        if (!isMpayError(error, 'MACRO_MPIN_REFUSED')) throw error;
      }
    }
    return this.answerSecret(
      started.transactionId,
      await prompts.secretAnswer(opened.challenge.secretQuestion),
    );
  }

  /** The MPASP's status of a payment, sealed to this device (opened under its request key, and checked). */
  async paymentStatus(clientId: string, transactionId: string): Promise<MacroPaymentStatusContent> {
    if (!transactionIdPattern.test(transactionId)) throw new MpayError('PAYMENT_UNKNOWN');
    const answer = await this.#send(`/macro/payments/${transactionId}`);
    if (answer.status !== 200) throw errorFromAnswer(answer.body, answer.status);
    const key = await deriveMacroRequestKey(this.#options.deviceSecret, clientId);
    try {
      const sealed = answerString(answer.body, 'statusMessage', compactJwePattern);
      const status = parseMacroPaymentStatus(decodeJson(await decryptDirect(sealed, key, { kid: clientId })));
      if (
        status.from === this.#options.fsp.id &&
        status.to === clientId &&
        status.transactionId === transactionId
      ) {
        this.#observeStatus(status, sealed);
        return status;
      }
    } catch (error) {
      if (!isMpayError(error) && !(error instanceof SyntaxError) && !(error instanceof TypeError))
        throw error;
    }
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  }

  /**
   * The status is a message of §4.2 when it forwards the client bank's word:
   * Pay_Confirm at step 12, or send_failure_msg2 (step 6, or 8 for a hold
   * refused after the approval). Other statuses are mpay's, not the paper's.
   */
  #observeStatus(status: MacroPaymentStatusContent, sealed: string): void {
    const forwarded =
      status.status === 'completed' && status.step === 12
        ? ('macro_pay_confirm_to_mpasp' as const)
        : status.outcome === 'INSUFFICIENT_FUNDS' && (status.step === 6 || status.step === 8)
          ? ('macro_failure_msg2' as const)
          : undefined;
    if (forwarded === undefined) return;
    this.#observe({
      step: status.step as 6 | 8 | 12,
      from: 'MPASP',
      to: 'C',
      message: forwarded,
      bytes: byteLengthOf(sealed),
      protection: `the MPASP's forward, sealed under C's request key: ${describeCompact(sealed)}`,
      route: `answer to GET /macro/payments/${status.transactionId}`,
    });
  }

  async #checkConfirmation(
    sealed: string,
    channelKey: Uint8Array,
    expected: { clientId: string; sessionId: string; expiresAt: string },
  ): Promise<void> {
    try {
      const plaintext = await decryptDirect(sealed, channelKey, { kid: expected.sessionId });
      const confirmation = parseMacroChannelConfirmation(JSON.parse(new TextDecoder().decode(plaintext)));
      if (
        confirmation.from === this.#options.fsp.id &&
        confirmation.to === expected.clientId &&
        confirmation.sessionId === expected.sessionId &&
        confirmation.expiresAt === expected.expiresAt
      ) {
        return;
      }
    } catch (error) {
      if (!isMpayError(error) && !(error instanceof SyntaxError)) throw error;
    }
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  }
}
