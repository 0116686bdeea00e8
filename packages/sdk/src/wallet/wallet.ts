import {
  decodeBase64url,
  decryptAnswer,
  decryptWith,
  encryptTo,
  encryptToWithAnswerKey,
  openPrivateData,
  type RequestWithAnswerKey,
  signPayload,
} from '@mpay/envelope';
import {
  errorFromAnswer,
  fetchFor,
  readBounded,
  requestJson,
  requestObject,
  signRequest,
  withRequestDeadline,
} from '@mpay/http-client';
import {
  customerDeclineContent,
  customerSignedContent,
  type DetachedConsent,
  detachPayload,
  deviceCertificatesHeader,
  type ErrorCode,
  type ImsMessage,
  type ImsPrivateData,
  isMpayError,
  isRefundId,
  MpayError,
} from '@mpay/protocol';
import { type FspTrust, fspEncryptionKey, type Receipt, verifyFspStatement } from '../fsp.ts';
import { type PaymentRequestView, verifyPaymentRequest } from '../payment-request/verify.ts';
import { requirePinFormat } from '../pin/opaque.ts';
import { readServerSentEvents } from '../sse.ts';
import type { MessageTrace } from '../trace.ts';
import { MerchantCertificates } from './certificates.ts';
import {
  type DeviceEventKind,
  type DeviceEventView,
  deviceEventKinds,
  paymentClosedOf,
} from './device-events.ts';
import { parseKeystore, type UnlockedKeys, unlockKeystore, type WalletKeystoreData } from './keystore.ts';
import { receiptJwsOf } from './receipt.ts';
import { openRefundReceipt, type RefundReceipt } from './refund.ts';
import { sealSecondFactor } from './second-factor.ts';
import { SessionPinCheck, SessionPinTries, sessionPinTriesMaxOf } from './session-pin.ts';
import {
  awaitTillRequest,
  claimTill,
  readTillQr,
  requestMatchesOffer,
  type TillClaimAccepted,
  type TillOffer,
} from './till.ts';

export type { Receipt } from '../fsp.ts';
export type { PaymentRequestView } from '../payment-request/verify.ts';

export interface WalletOptions {
  gatewayUrl: string;
  keystore: WalletKeystoreData;
  fsp: FspTrust;
  trace?: MessageTrace;
  /** Longest accepted lifetime of a message from the FSP. */
  messageAgeSecondsMax?: number;
  /** Lifetime of the customer's signature. */
  signatureLifetimeSeconds?: number;
  /** Wrong PINs in a row an unlocked session accepts before it locks; default 3, at most 10. */
  sessionPinTriesMax?: number;
  /**
   * How long opening the event stream may take until the gateway's answer
   * starts, in ms (default 30 s, 1 ms to 10 min): a gateway that takes the
   * connection and never answers ends the stream (SERVICE_UNAVAILABLE, to
   * reconnect from) rather than holding it open without end. Once it has
   * answered, the stream lasts as long as it is open and not silent
   * (`eventStreamSilenceMsMax`).
   */
  eventStreamOpenTimeoutMs?: number;
  /**
   * Longest silence of an open event stream while the wallet waits for its
   * next event, in ms (default 45 s, three of the gateway's 15 s heartbeats;
   * 1 ms to 10 min): a connection a NAT or a proxy dropped without a word
   * then ends (SERVICE_UNAVAILABLE, to reconnect from with `resumeEvents`)
   * instead of leaving the device deaf to its pushes. Time the caller spends
   * on an event it was given does not count.
   */
  eventStreamSilenceMsMax?: number;
}

const eventStreamOpenTimeoutMsDefault = 30_000;
const eventStreamSilenceMsMaxDefault = 45_000;
/** The longest either event-stream deadline may be (10 min). */
const eventStreamDeadlineMsMax = 600_000;

/** A validated event-stream deadline option: an integer of 1 ms to 10 min, or its default. */
function eventStreamDeadlineOf(name: string, value: number | undefined, byDefault: number): number {
  if (value === undefined) return byDefault;
  if (!Number.isInteger(value) || value < 1 || value > eventStreamDeadlineMsMax)
    throw new MpayError('CONFIGURATION_INVALID', name);
  return value;
}

/** How long the wallet waits for a merchant certificate it lost (the stream's later events wait too). */
const certificateFetchTimeoutMs = 10_000;
/** Whether a compact JWE's header says `dir` (an answer under its request's answer key); read unverified, decryption decides. */
function isDirectJwe(jwe: string): boolean {
  const header = decodeBase64url(jwe.slice(0, Math.max(0, jwe.indexOf('.'))));
  if (header === undefined) return false;
  try {
    return (JSON.parse(new TextDecoder().decode(header)) as { alg?: unknown }).alg === 'dir';
  } catch {
    return false;
  }
}

/** Signed confirmations a wallet keeps to resend after a lost answer. */
const confirmationsKeptMax = 64;

/**
 * A confirmation kept to resend after a lost answer: the JWE as sent, the
 * message it confirmed (to rebuild a receipt/v2), and the answer key its
 * own key agreement gave (a receipt/v3 answer comes under it; memory only).
 */
interface KeptConfirmation {
  readonly jwe: string;
  readonly message: ImsMessage;
  readonly answerKey: Uint8Array;
}
/** An answer read at most: a payment's evidence file (@mpay/merkle's receiptBytesMax: 32 messages and a proof). */
const answerBytesMax = 4 * 1024 * 1024;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A payment request the device received but does not show: it did not open or verify. */
export interface RefusedPaymentRequest {
  /** The event's id as the FSP sent it (its payment id), unverified: for a log line, not for display as fact. */
  readonly eventId: string;
  /** Why, as a stable code (CRYPTO_VERIFICATION_FAILED, CRYPTO_DECRYPTION_FAILED, MESSAGE_INVALID …). */
  readonly code: ErrorCode;
  /** The kind of event refused (a payment request, a payment's end, a refund's receipt). */
  readonly event?: DeviceEventKind;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The customer's JWS as sent (consent/v1): its payload cut out, with the claims the FSP cannot name itself. */
function detachedConsentOf(sign: string, secondFactor: string | undefined): DetachedConsent {
  const bytes = decodeBase64url(sign.split('.')[1] ?? '');
  const claims = bytes === undefined ? undefined : parseJson(new TextDecoder().decode(bytes));
  if (!isRecord(claims) || typeof claims.iat !== 'number' || typeof claims.exp !== 'number')
    throw new Error('assertion failed: a signature this wallet made has its claims');
  if (typeof claims.nonce !== 'string') throw new Error('assertion failed: a signed nonce');
  return {
    sign: detachPayload(sign),
    iat: claims.iat,
    exp: claims.exp,
    nonce: claims.nonce,
    ...(secondFactor === undefined ? {} : { secondFactor }),
  };
}

/** An unlocked session: the keys and the PIN check, in memory only. */
interface Session {
  readonly keys: UnlockedKeys;
  readonly pin: SessionPinCheck;
  readonly tries: SessionPinTries;
}

/**
 * The customer's wallet on a device that holds its own keys, as a session.
 * `unlock` logs in at custody once with the PIN (custody counts the try) and
 * keeps the unwrapped, non-extractable keys and a check value of the PIN in
 * memory; later actions check the PIN against that value without a call to
 * custody. `lock` forgets all of it.
 */
export class Wallet {
  readonly #options: WalletOptions;
  readonly #keystore: WalletKeystoreData;
  readonly #sessionPinTriesMax: number;
  readonly #eventStreamOpenTimeoutMs: number;
  readonly #eventStreamSilenceMsMax: number;
  /** Per payment: the confirmation as sent, and the message it signed (what a receipt/v2 is rebuilt from). */
  readonly #confirmations = new Map<string, KeptConfirmation>();
  /** The merchant certificates verified here, which a push/v2 may name by reference. */
  readonly #certificates = new MerchantCertificates();
  #session: Session | undefined;
  #unlocking: Promise<Session> | undefined;
  /** Whether the gateway said (its stream's Accept-Encoding) that it takes a gzipped confirmation. */
  #gzipConfirmations = false;
  /** A gzipped confirmation was refused once (a proxy between): plain from then on. */
  #gzipRefused = false;
  /** Counts `lock` calls, so that a login still running when the wallet is locked opens no session. */
  #locks = 0;

  constructor(options: WalletOptions) {
    this.#keystore = parseKeystore(options.keystore);
    this.#sessionPinTriesMax = sessionPinTriesMaxOf(options.sessionPinTriesMax);
    this.#eventStreamOpenTimeoutMs = eventStreamDeadlineOf(
      'eventStreamOpenTimeoutMs',
      options.eventStreamOpenTimeoutMs,
      eventStreamOpenTimeoutMsDefault,
    );
    this.#eventStreamSilenceMsMax = eventStreamDeadlineOf(
      'eventStreamSilenceMsMax',
      options.eventStreamSilenceMsMax,
      eventStreamSilenceMsMaxDefault,
    );
    this.#options = options;
  }

  get partyId(): string {
    return this.#keystore.partyId;
  }

  /** Whether a session is open (keys in memory). */
  get unlocked(): boolean {
    return this.#session !== undefined;
  }

  #trace(step: string, kind: 'jws' | 'jwe', party: string, compact: string): void {
    this.#options.trace?.({ step, kind, party, compact });
  }

  /**
   * Opens the session with the PIN. When locked this is a login at custody
   * (PIN_REFUSED, PIN_BLOCKED; ~200 ms of CPU); when already unlocked the PIN
   * is checked against the session (WALLET_PIN_INVALID, WALLET_LOCKED after
   * the last wrong one in a row, which also ends the session).
   */
  async unlock(pin: string): Promise<void> {
    await this.#keysFor(pin);
  }

  /** Ends the session: the keys and the PIN check are forgotten. */
  lock(): void {
    this.#session = undefined;
    this.#locks += 1;
  }

  async #keysFor(pin: string): Promise<UnlockedKeys> {
    requirePinFormat(pin);
    // One login at a time: a second caller waits and is then checked against the session it opened.
    while (this.#unlocking !== undefined) await this.#unlocking.catch(() => undefined);
    const session = this.#session;
    if (session === undefined) return (await this.#openSession(pin)).keys;
    const matched = await session.pin.matches(pin);
    try {
      session.tries.record(matched);
    } catch (error) {
      if (isMpayError(error, 'WALLET_LOCKED') && this.#session === session) this.lock();
      throw error;
    }
    return session.keys;
  }

  async #openSession(pin: string): Promise<Session> {
    const locks = this.#locks;
    const unlocking = (async () => {
      const keys = await unlockKeystore(this.#keystore, pin);
      return {
        keys,
        pin: await SessionPinCheck.create(pin),
        tries: new SessionPinTries(this.#sessionPinTriesMax),
      };
    })();
    this.#unlocking = unlocking;
    try {
      const session = await unlocking;
      if (this.#locks !== locks) throw new MpayError('WALLET_LOCKED');
      this.#session = session;
      return session;
    } finally {
      this.#unlocking = undefined;
    }
  }

  /** The keys of the open session, for what needs no PIN of its own (showing a request, a receipt). */
  #sessionKeys(): UnlockedKeys {
    if (this.#session === undefined) throw new MpayError('WALLET_LOCKED');
    return this.#session.keys;
  }

  /**
   * Opens the device's event stream. The subscription is signed with the
   * device key, so opening it takes the PIN (a login at custody when the
   * wallet is locked, as a banking app's login); every payment needs the PIN
   * again, checked against the session. Locking the wallet ends the stream
   * at the next event (WALLET_LOCKED).
   *
   * Each event is opened with the session's key and verified before it is
   * yielded (DeviceEventView): a payment request (iMS step 3), a payment's
   * end (the FSP's receipt or signed outcome: paid, refused, cancelled,
   * expired), or a refund's receipt. An event that does not open or verify
   * (a forged merchant signature, a message not the FSP's) is never yielded.
   * Without `onRefused` it ends the stream with its error; with it, it is
   * reported there (to warn the customer) and the stream goes on, so one bad
   * message does not cut the device off from the next real one.
   */
  events(
    pin: string,
    signal?: AbortSignal,
    onRefused?: (refusal: RefusedPaymentRequest) => void,
    onOpen?: () => void,
  ): AsyncGenerator<DeviceEventView> {
    return this.#events(() => this.#keysFor(pin), deviceEventKinds, signal, onRefused, onOpen);
  }

  /**
   * Opens the stream again for an unlocked session, with the session's keys
   * and without the PIN: for a connection that dropped (a network change, a
   * restarted gateway) while the customer was using the wallet. WALLET_LOCKED
   * once the wallet is locked: then only `events` with the PIN opens it.
   */
  resumeEvents(
    signal?: AbortSignal,
    onRefused?: (refusal: RefusedPaymentRequest) => void,
    onOpen?: () => void,
  ): AsyncGenerator<DeviceEventView> {
    return this.#events(async () => this.#sessionKeys(), deviceEventKinds, signal, onRefused, onOpen);
  }

  /** The stream's payment requests only (`events`, the other kinds skipped unopened). */
  async *paymentRequests(
    pin: string,
    signal?: AbortSignal,
    onRefused?: (refusal: RefusedPaymentRequest) => void,
  ): AsyncGenerator<PaymentRequestView> {
    for await (const event of this.#events(
      () => this.#keysFor(pin),
      ['payment-request'],
      signal,
      onRefused,
    )) {
      if (event.kind === 'payment-request') yield event.view;
    }
  }

  async *#events(
    unlock: () => Promise<UnlockedKeys>,
    kinds: readonly DeviceEventKind[],
    signal: AbortSignal | undefined,
    onRefused: ((refusal: RefusedPaymentRequest) => void) | undefined,
    onOpen?: () => void,
  ): AsyncGenerator<DeviceEventView> {
    const keys = await unlock();
    // push/v2: the FSP may send its requests with both signatures detached (this wallet rebuilds them),
    // and name by reference the merchant certificates this wallet holds (the header, even empty, says that
    // it reads references at all; a header, not the URL, which logs write down).
    const path = '/devices/events?push=v2';
    const authorization = await signRequest(
      { method: 'GET', path, body: '' },
      { issuer: this.partyId, audience: this.#options.fsp.id, key: keys.signing },
    );
    // The stream's own signal: the caller's, for as long as the stream lasts, and until the gateway's answer
    // starts, the open deadline's too (a timer cleared once it has answered).
    const stream = new AbortController();
    const callerGaveUp = () => stream.abort(signal?.reason);
    if (signal?.aborted === true) callerGaveUp();
    else signal?.addEventListener('abort', callerGaveUp, { once: true });
    try {
      yield* this.#eventsOn(stream, path, authorization, kinds, signal, onRefused, onOpen);
    } finally {
      signal?.removeEventListener('abort', callerGaveUp);
    }
  }

  async *#eventsOn(
    stream: AbortController,
    path: string,
    authorization: string,
    kinds: readonly DeviceEventKind[],
    signal: AbortSignal | undefined,
    onRefused: ((refusal: RefusedPaymentRequest) => void) | undefined,
    onOpen: (() => void) | undefined,
  ): AsyncGenerator<DeviceEventView> {
    const openTimedOut = new MpayError('SERVICE_UNAVAILABLE', 'the event stream did not open in time');
    const openTimer = setTimeout(() => stream.abort(openTimedOut), this.#eventStreamOpenTimeoutMs);
    let response: Response;
    try {
      response = await fetchFor(undefined)(`${this.#options.gatewayUrl}${path}`, {
        headers: {
          authorization,
          accept: 'text/event-stream',
          [deviceCertificatesHeader]: this.#certificates.references().join(','),
        },
        signal: stream.signal,
      });
    } catch (error) {
      if (stream.signal.reason === openTimedOut) throw openTimedOut;
      throw error;
    } finally {
      clearTimeout(openTimer);
    }
    if (!response.ok || response.body === null)
      throw new MpayError(response.status === 401 ? 'AUTHENTICATION_FAILED' : 'SERVICE_UNAVAILABLE');
    // The gateway accepted the subscription: events come from here on.
    // It says whether it takes a gzipped confirmation (RFC 9110 §12.5.3: Accept-Encoding in an answer).
    if (!this.#gzipRefused && takesGzipBodies(response.headers.get('accept-encoding')))
      this.#gzipConfirmations = true;
    onOpen?.();
    for await (const event of readServerSentEvents(response.body, {
      silenceMsMax: this.#eventStreamSilenceMsMax,
    })) {
      const kind = kinds.find((wanted) => wanted === event.event);
      if (kind === undefined) continue;
      this.#trace(`${kind} (encrypted)`, 'jwe', this.partyId, event.data);
      let view: DeviceEventView;
      try {
        view = await this.#openEvent(kind, event.id, event.data, signal);
      } catch (error) {
        // A lock ends the stream; an event that does not verify is only refused, when the caller listens.
        if (onRefused === undefined || !isMpayError(error) || error.code === 'WALLET_LOCKED') throw error;
        onRefused({ eventId: event.id, code: error.code, event: kind });
        continue;
      }
      yield view;
    }
  }

  async #openEvent(
    kind: DeviceEventKind,
    eventId: string,
    data: string,
    signal: AbortSignal | undefined,
  ): Promise<DeviceEventView> {
    if (kind === 'payment-request') return { kind, view: await this.openPaymentRequest(data, { signal }) };
    // The event's id names the payment; what it claims is checked inside the FSP's signed statement.
    if (!uuidPattern.test(eventId)) throw new MpayError('MESSAGE_INVALID', 'event id');
    if (kind === 'refund-receipt') return { kind, receipt: await this.openRefundReceipt(data, eventId) };
    const statement = await this.openReceipt(data, eventId);
    return { kind: 'payment-closed', ...paymentClosedOf(statement, eventId) };
  }

  /**
   * The refunds of one of this customer's payments, as the gateway answers
   * (GET /payments/:id/refunds, signed with the session's key): for a phone
   * that was offline when a refund's receipt was pushed. Each refund that
   * completed comes with its receipt, opened and verified as the FSP's here;
   * one that does not verify is CRYPTO_VERIFICATION_FAILED for the whole
   * answer. Refunds still under way or refused carry no receipt and are left
   * out. WALLET_LOCKED without a session.
   */
  async refunds(paymentId: string, options: { timeoutMs?: number } = {}): Promise<RefundReceipt[]> {
    if (!uuidPattern.test(paymentId)) throw new MpayError('REQUEST_INVALID', 'paymentId');
    const text = await this.#signedGet(`/payments/${paymentId}/refunds`, options.timeoutMs);
    if (text.status !== 200) throw errorFromAnswer(parseJson(text.body), text.status);
    const body = parseJson(text.body);
    const listed = isRecord(body) && Array.isArray(body.refunds) ? body.refunds : undefined;
    if (listed === undefined) throw new MpayError('MESSAGE_INVALID', 'refunds');
    const receipts: RefundReceipt[] = [];
    for (const refund of listed) {
      if (!isRecord(refund) || refund.receipt === undefined) continue;
      if (typeof refund.receipt !== 'string') throw new MpayError('MESSAGE_INVALID', 'refund receipt');
      receipts.push(await this.openRefundReceipt(refund.receipt, paymentId));
    }
    return receipts;
  }

  /**
   * The payment's evidence (SA2pMP's non-repudiation) as the gateway gives it
   * to the payment's parties: the mpay-receipt/v1 file, with the signed
   * messages, the log entry's inclusion proof and a witness-cosigned
   * checkpoint, in a request signed with the session's device key. Undefined
   * while the log has not proved the entry yet (ask again later). The file is
   * unverified here: check it with `verifyReceipt` (@mpay/merkle) under the
   * log's and the witnesses' keys you trust. WALLET_LOCKED without a session;
   * EVIDENCE_UNKNOWN, PAYMENT_UNKNOWN as the gateway answers.
   */
  async paymentEvidence(
    paymentId: string,
    options: { timeoutMs?: number } = {},
  ): Promise<string | undefined> {
    if (!uuidPattern.test(paymentId)) throw new MpayError('REQUEST_INVALID', 'paymentId');
    return this.#evidenceAt(`/payments/${paymentId}/evidence`, options.timeoutMs);
  }

  /**
   * A refund's evidence, as `paymentEvidence` gives a payment's: the log
   * entry of the refund's outcome (its transaction id the refund id), with
   * the FSP's refund receipt among its messages. Undefined while the log has
   * not proved it; unverified here (check it with `verifyReceipt`).
   */
  async refundEvidence(
    paymentId: string,
    refundId: string,
    options: { timeoutMs?: number } = {},
  ): Promise<string | undefined> {
    if (!uuidPattern.test(paymentId)) throw new MpayError('REQUEST_INVALID', 'paymentId');
    if (!isRefundId(refundId)) throw new MpayError('REQUEST_INVALID', 'refundId');
    return this.#evidenceAt(`/payments/${paymentId}/refunds/${refundId}/evidence`, options.timeoutMs);
  }

  /** An evidence file: 200 its text, 202 undefined (not proved yet), anything else the gateway's error. */
  async #evidenceAt(path: string, timeoutMs: number | undefined): Promise<string | undefined> {
    const { status, body } = await this.#signedGet(path, timeoutMs);
    if (status === 202) return undefined;
    if (status === 200) return body;
    throw errorFromAnswer(parseJson(body), status);
  }

  /** A GET signed with the session's device key; the answer's text, bounded (SERVICE_UNAVAILABLE beyond). */
  async #signedGet(path: string, timeoutMs = 30_000): Promise<{ status: number; body: string }> {
    const authorization = await signRequest(
      { method: 'GET', path, body: '' },
      { issuer: this.partyId, audience: this.#options.fsp.id, key: this.#sessionKeys().signing },
    );
    // One deadline for the answer's head and body.
    return withRequestDeadline(timeoutMs, async (signal) => {
      let response: Response;
      try {
        response = await fetchFor(undefined)(`${this.#options.gatewayUrl}${path}`, {
          headers: { authorization, accept: 'application/json' },
          signal,
        });
      } catch (cause) {
        throw new MpayError('SERVICE_UNAVAILABLE', path, { cause });
      }
      const body = await readBounded(response, answerBytesMax).catch((cause: unknown) => {
        throw new MpayError('SERVICE_UNAVAILABLE', `${path} interrupted`, { cause });
      });
      if (body === undefined) throw new MpayError('SERVICE_UNAVAILABLE', `${path} answer too large`);
      return { status: response.status, body };
    });
  }

  /**
   * m-trade at the till (iMS §2.2): reads the till's QR code — CRC, the
   * merchant's signature under the key the FSP certified, expiry — and
   * returns what to show: the FSP's name of the merchant and the signed
   * amount. Nothing is sent but the lookup of the merchant's certificate;
   * a forged or altered code is refused (QR_* codes). Needs no session.
   */
  readTillQr(payload: string): Promise<TillOffer> {
    return readTillQr(payload, { gatewayUrl: this.#options.gatewayUrl, fsp: this.#options.fsp });
  }

  /** Claims a till offer at the FSP, signed as this device (an open session: WALLET_LOCKED otherwise). */
  claimTill(offer: TillOffer): Promise<TillClaimAccepted> {
    const key = this.#sessionKeys().signing;
    return claimTill(offer, {
      gatewayUrl: this.#options.gatewayUrl,
      fsp: this.#options.fsp,
      partyId: this.partyId,
      key,
    });
  }

  /** Whether a payment request is the till's for this offer: transaction id, payee, amount, m-trade. */
  matchesOffer(request: PaymentRequestView, offer: TillOffer): boolean {
    return requestMatchesOffer(request, offer);
  }

  /** Waits for the till's payment request for `offer` (TRADE_CLAIM_MISMATCH if one with its id differs). */
  tillPaymentRequest(offer: TillOffer, pin: string, signal?: AbortSignal): Promise<PaymentRequestView> {
    return awaitTillRequest(this.paymentRequests(pin, signal), offer);
  }

  /**
   * iMS step 3: decrypt with the session's key, then `verifyPaymentRequest`
   * (FSP countersignature, merchant certificate and signature, addressed to
   * this party). WALLET_LOCKED when no session is open.
   */
  async openPaymentRequest(
    jwe: string,
    options: { readonly signal?: AbortSignal | undefined } = {},
  ): Promise<PaymentRequestView> {
    const plaintext = await decryptWith(jwe, [this.#sessionKeys().encryption]);
    let push: unknown;
    try {
      push = JSON.parse(new TextDecoder().decode(plaintext));
    } catch {
      throw new MpayError('CRYPTO_VERIFICATION_FAILED');
    }
    const whole = await this.#certificates.resolve(push, (reference) =>
      this.#issuedCertificate(reference, options.signal),
    );
    const view = await verifyPaymentRequest(whole, {
      partyId: this.partyId,
      fsp: this.#options.fsp,
      ...(this.#options.messageAgeSecondsMax === undefined
        ? {}
        : { messageAgeSecondsMax: this.#options.messageAgeSecondsMax }),
    });
    this.#trace('fsp-countersignature', 'jws', this.#options.fsp.id, view.message.address.fspSign!);
    await this.#certificates.remember((whole as { merchantCertificate: string }).merchantCertificate);
    return this.#openPrivateFields(view);
  }

  /** A certificate the FSP issued, by its reference (GET /certificates/:reference): for a push naming one this wallet lost. */
  async #issuedCertificate(reference: string, signal: AbortSignal | undefined): Promise<string> {
    const { body } = await requestJson<{ certificate?: unknown }>(
      `${this.#options.gatewayUrl}/certificates/${reference}`,
      {
        timeoutMs: certificateFetchTimeoutMs,
        responseBytesMax: 16 * 1024,
        ...(signal === undefined ? {} : { signal }),
      },
    );
    if (typeof body?.certificate !== 'string') throw new MpayError('MESSAGE_INVALID', 'certificate');
    return body.certificate;
  }

  /**
   * The sealed private fields, opened with this device's key: what the
   * customer is asked to pay for. The merchant's and the FSP's signatures
   * cover them, so they are what the merchant sealed. A copy this device
   * cannot open is marked `privateDataUnreadable`: it can be declined, and
   * `confirm` refuses it (PRIVATE_DATA_INVALID) rather than sign unseen.
   */
  async #openPrivateFields(view: PaymentRequestView): Promise<PaymentRequestView> {
    const { sealed } = view.message.data;
    if (sealed === undefined) return view;
    let data: ImsPrivateData;
    try {
      data = await openPrivateData(sealed, 'customer', [this.#sessionKeys().encryption], view.paymentId);
    } catch (error) {
      if (isMpayError(error)) return { ...view, privateDataUnreadable: true };
      throw error;
    }
    return {
      ...view,
      description: data.description,
      ...(data.orderLines === undefined ? {} : { orderLines: data.orderLines }),
    };
  }

  /**
   * iMS steps 4–5 and 10: one action plus the PIN signs the message; the FSP
   * answers with a receipt. The signed confirmation is kept per payment and
   * sent again, byte for byte, when an answer was lost or the bank has not
   * answered yet, so a retry never signs twice and gets the same receipt.
   * Every call takes the PIN, a resend included.
   *
   * A large payment also takes the one-time code of the customer's
   * authenticator (`secondFactorCode`; SECOND_FACTOR_REQUIRED before anything
   * is signed without it): sealed to the customer's bank, it goes inside
   * what the customer signs (address.from.secondFactor).
   */
  async confirm(
    request: PaymentRequestView,
    pin: string,
    options: { waitMs?: number; secondFactorCode?: string } = {},
  ): Promise<Receipt> {
    // Never sign a request whose sealed description this device could not show.
    if (request.privateDataUnreadable === true) throw new MpayError('PRIVATE_DATA_INVALID', 'customer');
    let kept = this.#confirmations.get(request.paymentId);
    const asksCode = request.message.protections?.includes('second_factor') === true;
    const secondFactorCode = asksCode ? options.secondFactorCode : undefined;
    if (kept === undefined && asksCode && secondFactorCode === undefined) {
      throw new MpayError('SECOND_FACTOR_REQUIRED');
    }
    const keys = await this.#keysFor(pin);
    kept ??= this.#confirmations.get(request.paymentId);
    if (kept === undefined) {
      kept = { ...(await this.#signConfirmation(request, keys, secondFactorCode)), message: request.message };
      this.#remember(request.paymentId, kept);
    }
    const { jwe, message, answerKey } = kept;
    const deadline = Date.now() + (options.waitMs ?? 60_000);
    // receipt/v3: this wallet rebuilds the receipt from the message it confirmed (./receipt.ts), and the answer
    // comes under this confirmation's answer key. A gateway older than v3 refuses the parameter: v2 then.
    let receiptForm: 'v3' | 'v2' = 'v3';
    // Gzipped (about a fifth fewer bytes up: base64url) once the gateway said it takes it; sent plain when
    // a gzipped one is refused (a proxy between that does not pass the coding on).
    let gzipped = this.#gzipConfirmations ? await gzipText(jwe) : undefined;
    for (let attempt = 0; ; attempt += 1) {
      let answer: { status: string; receipt?: string };
      try {
        const { body } = await requestObject<{ status?: unknown; receipt?: unknown }>(
          `${this.#options.gatewayUrl}/payments/${request.paymentId}/confirmation?receipt=${receiptForm}`,
          {
            body: gzipped ?? jwe,
            contentType: 'application/jose',
            ...(gzipped === undefined ? {} : { headers: { 'content-encoding': 'gzip' } }),
            timeoutMs: 30_000,
          },
        );
        if (
          typeof body.status !== 'string' ||
          (body.receipt !== undefined && typeof body.receipt !== 'string')
        )
          throw new MpayError('SERVICE_UNAVAILABLE', 'confirmation answer');
        answer = { status: body.status, ...(body.receipt === undefined ? {} : { receipt: body.receipt }) };
      } catch (error) {
        // Refused gzipped: sent plain once more (the same JWE: the gateway answers a repeat with the first
        // result), and never gzipped again by this wallet. A proxy that drops the coding but passes the
        // gzip bytes makes the gateway fail to decrypt them.
        if (
          gzipped !== undefined &&
          (isMpayError(error, 'REQUEST_ENCODING_UNSUPPORTED') ||
            isMpayError(error, 'REQUEST_INVALID') ||
            isMpayError(error, 'CRYPTO_DECRYPTION_FAILED'))
        ) {
          gzipped = undefined;
          this.#gzipConfirmations = false;
          this.#gzipRefused = true;
          continue;
        }
        if (receiptForm === 'v3' && isMpayError(error, 'REQUEST_INVALID')) {
          receiptForm = 'v2';
          continue;
        }
        throw error;
      }
      if (answer.receipt !== undefined) {
        const receiptJwe = answer.receipt;
        this.#trace('receipt (encrypted)', 'jwe', this.partyId, receiptJwe);
        // The keys this call was authorised with: a lock meanwhile does not lose the receipt.
        // The bank has paid: a receipt that does not open or verify never reads as a refusal.
        return await this.#openReceipt(receiptJwe, request.paymentId, keys, message, answerKey).catch(
          (error: unknown) => {
            throw new MpayError('RECEIPT_UNVERIFIED', request.paymentId, { cause: error });
          },
        );
      }
      // Authorised: the customer's bank has not answered yet. Ask again with the same confirmation.
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) throw new MpayError('SERVICE_UNAVAILABLE', `payment ${answer.status}`);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(remainingMs, 250 * 2 ** Math.min(attempt, 4))),
      );
    }
  }

  /** The message with the customer's sealed code in address.from.secondFactor, for its bank. */
  async #withSecondFactor(request: PaymentRequestView, code: string): Promise<ImsMessage> {
    const bankEncryptionJwk = this.#keystore.bankEncryptionJwk;
    if (bankEncryptionJwk === undefined) throw new MpayError('CRYPTO_KEY_INVALID', 'bankEncryptionJwk');
    const { message } = request;
    const secondFactor = await sealSecondFactor(
      { code, transactionId: message.transactionId, payerId: message.address.from.id },
      bankEncryptionJwk,
    );
    return { ...message, address: { ...message.address, from: { ...message.address.from, secondFactor } } };
  }

  async #signConfirmation(
    request: PaymentRequestView,
    keys: UnlockedKeys,
    secondFactorCode: string | undefined,
  ): Promise<RequestWithAnswerKey> {
    const message =
      secondFactorCode === undefined
        ? request.message
        : await this.#withSecondFactor(request, secondFactorCode);
    const content = customerSignedContent(message);
    if (content.address.from.secondFactor !== message.address.from.secondFactor) {
      throw new Error('assertion failed: the customer signs the sealed second factor');
    }
    const sign = await signPayload(
      content,
      {
        issuer: this.partyId,
        audience: this.#options.fsp.id,
        transactionId: request.paymentId,
        expiresInSeconds: this.#options.signatureLifetimeSeconds ?? 300,
      },
      keys.signing,
    );
    this.#trace('customer-signature', 'jws', this.partyId, sign);
    // The FSP holds the message: only the signature, its three claims the FSP cannot name, and the sealed
    // code go back (consent/v1, the payload detached); the FSP re-attaches the payload it sent and verifies.
    const sent = await encryptToWithAnswerKey(
      JSON.stringify({ consent: detachedConsentOf(sign, message.address.from.secondFactor) }),
      fspEncryptionKey(this.#options.fsp),
    );
    this.#trace('customer-to-fsp (encrypted)', 'jwe', this.#options.fsp.id, sent.jwe);
    return sent;
  }

  #remember(paymentId: string, confirmation: KeptConfirmation): void {
    // Bounded: the oldest confirmations are forgotten first (their payments are long settled).
    if (this.#confirmations.size >= confirmationsKeptMax) {
      const oldest = this.#confirmations.keys().next().value;
      if (oldest !== undefined) this.#confirmations.delete(oldest);
    }
    this.#confirmations.set(paymentId, confirmation);
  }

  /**
   * The customer declines: a signature over the decline content (which can
   * never stand for a confirmation), encrypted to the FSP.
   */
  async decline(request: PaymentRequestView, pin: string): Promise<void> {
    const keys = await this.#keysFor(pin);
    const decline = await signPayload(
      customerDeclineContent(request.message),
      {
        issuer: this.partyId,
        audience: this.#options.fsp.id,
        transactionId: request.paymentId,
        expiresInSeconds: this.#options.signatureLifetimeSeconds ?? 300,
      },
      keys.signing,
    );
    this.#trace('customer-decline', 'jws', this.partyId, decline);
    const jwe = await encryptTo(JSON.stringify({ decline }), fspEncryptionKey(this.#options.fsp));
    await requestJson(`${this.#options.gatewayUrl}/payments/${request.paymentId}/decline`, {
      body: jwe,
      contentType: 'application/jose',
      timeoutMs: 30_000,
    });
  }

  /** A refund receipt (device event 'refund-receipt'), decrypted with the session's key and verified as the FSP's. */
  async openRefundReceipt(jwe: string, paymentId: string): Promise<RefundReceipt> {
    return openRefundReceipt(jwe, this.#sessionKeys().encryption, this.#options.fsp, this.partyId, paymentId);
  }

  /** iMS step 10: the receipt, decrypted with the session's key and verified as the FSP's. */
  async openReceipt(jwe: string, paymentId: string): Promise<Receipt> {
    return this.#openReceipt(jwe, paymentId, this.#sessionKeys());
  }

  /**
   * `confirmed`: the message this phone confirmed, from which a `receipt/v2`
   * answer is made whole; `answerKey`: its confirmation's, under which a
   * receipt/v3 answer (`dir`) comes. Anything else is encrypted to this
   * device's key.
   */
  async #openReceipt(
    jwe: string,
    paymentId: string,
    keys: UnlockedKeys,
    confirmed?: ImsMessage,
    answerKey?: Uint8Array,
  ): Promise<Receipt> {
    const opened =
      answerKey !== undefined && isDirectJwe(jwe)
        ? await decryptAnswer(jwe, answerKey)
        : await decryptWith(jwe, [keys.encryption]);
    const plaintext = new TextDecoder().decode(opened);
    const jws = receiptJwsOf(plaintext, confirmed, this.#options.fsp.id);
    const receipt = await verifyFspStatement(jws, this.#options.fsp, this.partyId, paymentId);
    this.#trace('receipt', 'jws', this.#options.fsp.id, jws);
    return receipt;
  }
}

/** Whether an answer's Accept-Encoding names gzip for request bodies (the gateway's own header: a plain list). */
function takesGzipBodies(header: string | null): boolean {
  if (header === null || header.length > 256) return false;
  return header.split(',').some((member) => /^\s*(?:x-)?gzip\s*$/i.test(member));
}

/** `text` gzipped with the platform's CompressionStream (browsers and Node alike); undefined where there is none. */
async function gzipText(text: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (typeof CompressionStream === 'undefined') return undefined;
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
