import {
  encryptTo,
  keyResolverFromJwkSet,
  type PublicJwk,
  type PublicKeyResolver,
  type VerifiedPayload,
  verifyPayload,
} from '@mpay/envelope';
import { errorFromAnswer, fetchFor, readBounded, withRequestDeadline } from '@mpay/http-client';
import { type ImsPrivateData, imsPrivateDataFromJson, isMpayError, MpayError } from '@mpay/protocol';
import { type FspTrust, type Receipt, verifyFspStatement } from '../fsp.ts';
import { type PaymentRequestView, verifyPaymentRequest } from '../payment-request/verify.ts';
import { finishPinLogin, requirePinFormat, startPinLogin } from '../pin/opaque.ts';
import type { MessageTrace } from '../trace.ts';
import { type RefundReceipt, verifyRefundReceipt } from '../wallet/refund.ts';
import { type DelegationDecision, delegationAuthorisation, forwardMessageHash } from './delegation.ts';
import {
  answerString,
  callCustody,
  compactPattern,
  deviceAuthorization,
  identifierPattern,
  malformed,
  opaqueValuePattern,
  postToCustody,
} from './http.ts';
import { type CustodyTrust, custodyEncryptionKey } from './trust.ts';

export interface CustodyWalletOptions {
  custodyUrl: string;
  /** Custody's id and keys, pinned: a forward under any other key is refused. */
  custody: CustodyTrust;
  fsp: FspTrust;
  partyId: string;
  /** This phone's bearer token (`enrolWithCustody`, `addCustodyDevice`). */
  deviceToken: string;
  trace?: MessageTrace;
  /** Longest accepted lifetime of the FSP's and the merchant's signatures on a request; default 600. */
  messageAgeSecondsMax?: number;
  /** Longest accepted lifetime of custody's signed forward; default 86 400 (custody's maximum). */
  forwardAgeSecondsMax?: number;
  /** Timeout of one call to custody (a long poll adds its wait); default 30 000. */
  timeoutMs?: number;
}

export const custodyEventKinds = [
  'payment-request',
  'receipt',
  'outcome',
  'alert',
  'refund-receipt',
] as const;
export type CustodyEventKind = (typeof custodyEventKinds)[number];

/** One entry of the phone's inbox at custody. Only `forward` (custody-signed) is trusted, once opened. */
export interface InboxEvent {
  cursor: string;
  event: CustodyEventKind;
  paymentId?: string;
  forward: string;
}

/** A verified payment request as shown to a custody customer, with the forward it was verified from. */
export interface CustodyPaymentRequestView extends PaymentRequestView {
  /** The custody-signed forward exactly as received: its hash goes into the PIN authorisation. */
  forward: string;
}

export type OpenedForward =
  | { event: 'payment-request'; paymentId: string; request: CustodyPaymentRequestView }
  | { event: 'receipt'; paymentId: string; receipt: Receipt }
  | { event: 'outcome'; paymentId: string; outcome: Receipt }
  /** A refund of the payment: the FSP's signed refund receipt, verified by the phone under the FSP's key. */
  | { event: 'refund-receipt'; paymentId: string; refundReceipt: RefundReceipt }
  | { event: 'alert'; alertId: string; alert: { reason: string; at: string } };

export type DelegationResult =
  | { status: 'completed'; paymentId: string; receipt: Receipt }
  | { status: 'authorised' | 'declined'; paymentId: string };

/** A signature custody made in the customer's name, as custody lists them. */
export interface DelegateSignature {
  paymentId: string;
  decision: string;
  kid: string;
  signedAt: string;
  jws: string;
  logIndex: number | null;
}

export const inboxWaitMsMax = 25_000;
const forwardAgeSecondsMaxDefault = 86_400;
const clockSkewSeconds = 60;
const timeoutMsDefault = 30_000;
/** Entries one inbox or signature page may hold (custody sends 50 at most by default). */
const pageEntriesMax = 500;
const alertTextLengthMax = 1_000;
/** A payment's evidence file at most (@mpay/merkle's receiptBytesMax: 32 messages and a proof), as the wallet's. */
const evidenceBytesMax = 4 * 1024 * 1024;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function sourceInvalid(cause?: unknown): MpayError {
  return new MpayError('CUSTODY_SOURCE_INVALID', undefined, cause === undefined ? undefined : { cause });
}

/**
 * The phone of a custody customer (iMS §5): it holds no key. Custody (the
 * trusted mobile certificate server) forwards what the FSP sends, signed with
 * its own pinned key; the phone verifies the source and the FSP's and the
 * merchant's signatures (step 3), shows the request, and answers with the PIN
 * (step 4): an OPAQUE login whose session key authenticates the decision and
 * the hash of the forward shown, encrypted to custody. Custody then signs in
 * the customer's name with the key in its HSM (steps 5–6). Every signature it
 * made is listed by `delegateSignatures` for the customer to check.
 */
export class CustodyWallet {
  readonly #options: CustodyWalletOptions;
  readonly #custodyKeys: PublicKeyResolver;
  readonly #custodyEncryptionKey: PublicJwk;
  readonly #timeoutMs: number;

  constructor(options: CustodyWalletOptions) {
    // The pinned keys are checked now: a malformed set is refused before anything is trusted.
    this.#custodyKeys = keyResolverFromJwkSet(options.custody.keys);
    this.#custodyEncryptionKey = custodyEncryptionKey(options.custody);
    this.#timeoutMs = options.timeoutMs ?? timeoutMsDefault;
    if (!Number.isSafeInteger(this.#timeoutMs) || this.#timeoutMs < 100 || this.#timeoutMs > 120_000)
      throw new Error('custody wallet options: timeoutMs must be an integer in 100..120000');
    this.#options = options;
  }

  get partyId(): string {
    return this.#options.partyId;
  }

  #trace(step: string, kind: 'jws' | 'jwe', party: string, compact: string): void {
    this.#options.trace?.({ step, kind, party, compact });
  }

  get #headers(): Record<string, string> {
    return deviceAuthorization(this.#options.deviceToken);
  }

  /**
   * iMS §5 step 2: the phone's inbox at custody, after `after` (a cursor),
   * waiting up to `waitMs` (0..25 000) when it is empty. Each event is opened
   * with `openForward`; nothing in it is trusted before.
   */
  async events(after?: string, waitMs = 0): Promise<InboxEvent[]> {
    if (!Number.isSafeInteger(waitMs) || waitMs < 0 || waitMs > inboxWaitMsMax)
      throw new MpayError('REQUEST_INVALID', 'waitMs');
    const query = new URLSearchParams({ ...(after === undefined ? {} : { after }), waitMs: String(waitMs) });
    const body = await callCustody(`${this.#options.custodyUrl}/inbox?${query.toString()}`, {
      headers: this.#headers,
      timeoutMs: waitMs + this.#timeoutMs,
    });
    const events = body.events;
    if (!Array.isArray(events) || events.length > pageEntriesMax) throw malformed('events');
    return events.map((entry: unknown) => parseInboxEvent(entry));
  }

  /**
   * iMS §5 step 3: the user verifies the source. The forward must be signed
   * with custody's pinned key, by custody, for this customer; otherwise
   * CUSTODY_SOURCE_INVALID and nothing is shown or sent (MESSAGE_EXPIRED for
   * a genuine forward past its lifetime). A payment request is
   * then verified as any wallet verifies it (`verifyPaymentRequest`), a
   * receipt or outcome as the FSP's, a refund receipt as any wallet verifies
   * one (`verifyRefundReceipt`: the FSP's, of this payment, completed, paid
   * to this customer; else CRYPTO_VERIFICATION_FAILED): custody's word is
   * not taken for any of them.
   */
  async openForward(forward: string): Promise<OpenedForward> {
    const verified = await this.#verifyForward(forward);
    const content = verified.payload.forward as Record<string, unknown>;
    const transactionId = verified.claims.txn;
    this.#trace('custody step 2: forward', 'jws', this.#options.custody.id, forward);
    switch (content.event as CustodyEventKind) {
      case 'payment-request':
        return this.#openPaymentRequest(forward, content, transactionId);
      case 'receipt':
      case 'outcome':
        return this.#openStatement(content, transactionId);
      case 'alert':
        return { event: 'alert', alertId: transactionId, alert: parseAlert(content.alert) };
      case 'refund-receipt':
        return this.#openRefundReceipt(content, transactionId);
    }
  }

  async #verifyForward(forward: string): Promise<VerifiedPayload> {
    let verified: VerifiedPayload;
    try {
      verified = await verifyPayload(
        forward,
        this.#custodyKeys,
        { issuer: this.#options.custody.id, audience: this.partyId },
        {
          clockSkewSeconds,
          maxAgeSeconds: this.#options.forwardAgeSecondsMax ?? forwardAgeSecondsMaxDefault,
        },
      );
    } catch (cause) {
      // Expiry is checked after the signature: an expired forward is custody's, only too old to act on.
      if (isMpayError(cause, 'MESSAGE_EXPIRED')) throw cause;
      throw sourceInvalid(cause);
    }
    const content = verified.payload.forward;
    if (typeof content !== 'object' || content === null || Array.isArray(content)) throw sourceInvalid();
    if (!custodyEventKinds.includes((content as { event?: unknown }).event as CustodyEventKind))
      throw sourceInvalid();
    return verified;
  }

  async #openPaymentRequest(
    forward: string,
    content: Record<string, unknown>,
    transactionId: string,
  ): Promise<OpenedForward> {
    const view = await verifyPaymentRequest(
      { ims: content.ims, merchantCertificate: content.merchantCertificate },
      {
        partyId: this.partyId,
        fsp: this.#options.fsp,
        ...(this.#options.messageAgeSecondsMax === undefined
          ? {}
          : { messageAgeSecondsMax: this.#options.messageAgeSecondsMax }),
      },
    );
    // Custody vouches for this payment, not for another one's message put in its forward.
    if (view.paymentId !== transactionId) throw sourceInvalid();
    const opened = openedPrivateFields(view, content.privateData);
    this.#trace(
      'custody step 3: fsp-countersignature',
      'jws',
      this.#options.fsp.id,
      view.message.address.fspSign!,
    );
    return { event: 'payment-request', paymentId: view.paymentId, request: { ...opened, forward } };
  }

  async #openStatement(content: Record<string, unknown>, paymentId: string): Promise<OpenedForward> {
    const event = content.event === 'receipt' ? 'receipt' : 'outcome';
    const jws = content[event];
    if (typeof jws !== 'string') throw sourceInvalid();
    const statement = await verifyFspStatement(jws, this.#options.fsp, this.partyId, paymentId);
    this.#trace(`custody step 10: ${event}`, 'jws', this.#options.fsp.id, jws);
    return event === 'receipt'
      ? { event, paymentId, receipt: statement }
      : { event, paymentId, outcome: statement };
  }

  async #openRefundReceipt(content: Record<string, unknown>, paymentId: string): Promise<OpenedForward> {
    const jws = content.receipt;
    if (typeof jws !== 'string' || !compactPattern.test(jws)) throw sourceInvalid();
    const refundReceipt = await verifyRefundReceipt(jws, this.#options.fsp, this.partyId, paymentId);
    this.#trace('custody: refund receipt', 'jws', this.#options.fsp.id, jws);
    return { event: 'refund-receipt', paymentId, refundReceipt };
  }

  /** iMS §5 steps 4–6: confirm with one action plus the PIN; custody signs in the customer's name. */
  async confirm(view: CustodyPaymentRequestView, pin: string): Promise<DelegationResult> {
    return this.#delegate(view, 'confirm', pin);
  }

  /** iMS §5 steps 4–6 for a decline: custody signs the decline in the customer's name. */
  async decline(view: CustodyPaymentRequestView, pin: string): Promise<DelegationResult> {
    return this.#delegate(view, 'decline', pin);
  }

  /**
   * Starts the delegation with an OPAQUE login (custody counts the try),
   * finishes it locally (a wrong PIN is PIN_REFUSED; custody is told, without any proof),
   * then sends, encrypted to custody, the login's finish with the decision,
   * the hash of the forward shown and their HMAC under the session key.
   */
  async #delegate(
    view: CustodyPaymentRequestView,
    decision: DelegationDecision,
    pin: string,
  ): Promise<DelegationResult> {
    requirePinFormat(pin);
    if (typeof view.forward !== 'string' || !compactPattern.test(view.forward))
      throw new MpayError('REQUEST_INVALID', 'forward');
    const messageHash = await forwardMessageHash(view.forward);
    const start = await startPinLogin(pin);
    const started = await postToCustody(
      `${this.#options.custodyUrl}/delegations`,
      { paymentId: view.paymentId, startLoginRequest: start.startLoginRequest },
      { headers: this.#headers, timeoutMs: this.#timeoutMs },
    );
    const delegationId = answerString(started, 'delegationId', identifierPattern);
    const loginResponse = answerString(started, 'loginResponse', opaqueValuePattern);
    let login: Awaited<ReturnType<typeof finishPinLogin>>;
    try {
      login = await finishPinLogin(start, loginResponse, pin);
    } catch (error) {
      // A wrong PIN: custody counted the try; telling it lets the try that reaches the limit block at once.
      await this.#reportFailedDelegation(delegationId, decision, messageHash);
      throw error;
    }
    const authorisation = await delegationAuthorisation(
      login.sessionKey,
      delegationId,
      decision,
      messageHash,
    );
    const jwe = await encryptTo(
      JSON.stringify({ finishLoginRequest: login.finishLoginRequest, decision, messageHash, authorisation }),
      this.#custodyEncryptionKey,
    );
    this.#trace('custody step 4: PIN authorisation (encrypted)', 'jwe', this.#options.custody.id, jwe);
    const answer = await callCustody(
      `${this.#options.custodyUrl}/delegations/${encodeURIComponent(delegationId)}/authorisation`,
      { body: jwe, contentType: 'application/jose', headers: this.#headers, timeoutMs: this.#timeoutMs },
    );
    return this.#delegationResult(answer, view.paymentId, decision);
  }

  /** Step 5 without a PIN proof: custody answers the refusal (PIN_BLOCKED when this was the last try). */
  async #reportFailedDelegation(delegationId: string, decision: DelegationDecision, messageHash: string) {
    const jwe = await encryptTo(
      JSON.stringify({ finishLoginRequest: null, decision, messageHash, authorisation: '' }),
      this.#custodyEncryptionKey,
    );
    await callCustody(
      `${this.#options.custodyUrl}/delegations/${encodeURIComponent(delegationId)}/authorisation`,
      { body: jwe, contentType: 'application/jose', headers: this.#headers, timeoutMs: this.#timeoutMs },
    ).catch((error: unknown) => {
      if (error instanceof MpayError && error.code === 'PIN_BLOCKED') throw error;
    });
  }

  async #delegationResult(
    answer: Record<string, unknown>,
    paymentId: string,
    decision: DelegationDecision,
  ): Promise<DelegationResult> {
    if (answer.paymentId !== paymentId) throw malformed('paymentId');
    const allowed = decision === 'confirm' ? ['completed', 'authorised', 'declined'] : ['declined'];
    if (typeof answer.status !== 'string' || !allowed.includes(answer.status)) throw malformed('status');
    if (answer.status !== 'completed')
      return { status: answer.status as 'authorised' | 'declined', paymentId };
    const jws = answerString(answer, 'receipt', compactPattern);
    const receipt = await verifyFspStatement(jws, this.#options.fsp, this.partyId, paymentId);
    this.#trace('custody step 10: receipt', 'jws', this.#options.fsp.id, jws);
    return { status: 'completed', paymentId, receipt };
  }

  /**
   * The evidence of a payment custody signed in the customer's name: the
   * mpay-receipt/v1 file (the signed messages, the log entry's inclusion proof
   * and a witness-cosigned checkpoint). The phone has no key to ask the FSP
   * with, so custody asks it with the customer's key in its HSM
   * (`GET /payments/:id/evidence`, this phone's token) and passes the file on.
   * Undefined while the log has not proved the entry yet (ask again later).
   * The file is unverified here, and custody is not to be trusted for it:
   * check it with `verifyReceipt` (@mpay/merkle) under the log's and the
   * witnesses' keys you trust. PAYMENT_UNKNOWN for a payment custody did not
   * sign for this customer; EVIDENCE_UNKNOWN as the FSP answers.
   */
  async paymentEvidence(paymentId: string): Promise<string | undefined> {
    if (!uuidPattern.test(paymentId)) throw new MpayError('REQUEST_INVALID', 'paymentId');
    return this.#evidence(`/payments/${paymentId}/evidence`);
  }

  /**
   * The evidence of a refund of a payment, whose receipt custody forwarded
   * to this customer (`openForward`'s `refund-receipt`): the mpay-receipt/v1
   * file of the merchant's signed refund, its bank's answer and the FSP's
   * refund receipt, asked for by custody with the customer's key as
   * `paymentEvidence` is (`GET /payments/:id/refunds/:refundId/evidence`).
   * Undefined while the log has not proved it yet; unverified here: check it
   * with `verifyReceipt` (@mpay/merkle), its transaction id is the refund id.
   * PAYMENT_UNKNOWN for a payment custody holds no message of for this
   * customer, REFUND_UNKNOWN for a refund custody forwarded no receipt of;
   * EVIDENCE_UNKNOWN as the FSP answers.
   */
  async refundEvidence(paymentId: string, refundId: string): Promise<string | undefined> {
    if (!uuidPattern.test(paymentId)) throw new MpayError('REQUEST_INVALID', 'paymentId');
    if (!uuidPattern.test(refundId)) throw new MpayError('REQUEST_INVALID', 'refundId');
    return this.#evidence(`/payments/${paymentId}/refunds/${refundId}/evidence`);
  }

  /** An evidence file custody fetched from the FSP: 200 the file as sent, 202 undefined, else the error. */
  async #evidence(path: string): Promise<string | undefined> {
    // One deadline for the answer's head and body.
    const { response, text } = await withRequestDeadline(this.#timeoutMs, async (signal) => {
      let response: Response;
      try {
        response = await fetchFor(undefined)(`${this.#options.custodyUrl}${path}`, {
          headers: { ...this.#headers, accept: 'application/json' },
          signal,
        });
      } catch (cause) {
        throw new MpayError('SERVICE_UNAVAILABLE', 'evidence', { cause });
      }
      const text = await readBounded(response, evidenceBytesMax).catch((cause: unknown) => {
        throw new MpayError('SERVICE_UNAVAILABLE', 'evidence interrupted', { cause });
      });
      return { response, text };
    });
    if (text === undefined) throw new MpayError('SERVICE_UNAVAILABLE', 'evidence too large');
    if (response.status === 202) return undefined;
    if (response.status === 200) return text;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    throw errorFromAnswer(body, response.status);
  }

  /** Everything custody signed in the customer's name (`GET /delegate-signatures`). */
  async delegateSignatures(): Promise<DelegateSignature[]> {
    const body = await callCustody(`${this.#options.custodyUrl}/delegate-signatures`, {
      headers: this.#headers,
      timeoutMs: this.#timeoutMs,
    });
    const signatures = body.signatures;
    if (!Array.isArray(signatures) || signatures.length > pageEntriesMax) throw malformed('signatures');
    return signatures.map((entry: unknown) => parseDelegateSignature(entry));
  }
}

function parseInboxEvent(value: unknown): InboxEvent {
  if (typeof value !== 'object' || value === null) throw malformed('event');
  const entry = value as Record<string, unknown>;
  const cursor = answerString(entry, 'cursor', identifierPattern);
  const forward = answerString(entry, 'forward', compactPattern);
  if (!custodyEventKinds.includes(entry.event as CustodyEventKind)) throw malformed('event');
  const event: InboxEvent = { cursor, event: entry.event as CustodyEventKind, forward };
  if (entry.paymentId !== undefined) event.paymentId = answerString(entry, 'paymentId', identifierPattern);
  return event;
}

function parseAlert(value: unknown): { reason: string; at: string } {
  const alert = (value ?? {}) as Record<string, unknown>;
  if (
    typeof alert.reason !== 'string' ||
    alert.reason.length > alertTextLengthMax ||
    typeof alert.at !== 'string' ||
    Number.isNaN(Date.parse(alert.at))
  )
    throw sourceInvalid();
  return { reason: alert.reason, at: alert.at };
}

function parseDelegateSignature(value: unknown): DelegateSignature {
  if (typeof value !== 'object' || value === null) throw malformed('signature');
  const entry = value as Record<string, unknown>;
  const logIndex = entry.logIndex;
  if (logIndex !== null && !(typeof logIndex === 'number' && Number.isSafeInteger(logIndex) && logIndex >= 0))
    throw malformed('logIndex');
  return {
    paymentId: answerString(entry, 'paymentId', identifierPattern),
    decision: answerString(entry, 'decision', /^(confirm|decline)$/),
    kid: answerString(entry, 'kid', identifierPattern),
    signedAt: answerString(entry, 'signedAt', /^.{1,64}$/),
    jws: answerString(entry, 'jws', compactPattern),
    logIndex,
  };
}

/**
 * The sealed private fields of a custody customer's request, as custody
 * opened them with the key the bank bound for the customer (custody's) and
 * put them in its signed forward. Sealed but not opened, or opened for
 * another payment: PRIVATE_DATA_INVALID (the phone never shows a request
 * whose description it cannot show).
 */
function openedPrivateFields<View extends PaymentRequestView>(view: View, privateData: unknown): View {
  if (view.message.data.sealed === undefined) return view;
  let data: ImsPrivateData;
  try {
    data = imsPrivateDataFromJson(privateData);
  } catch {
    throw new MpayError('PRIVATE_DATA_INVALID', 'customer');
  }
  if (data.transactionId !== view.paymentId) throw new MpayError('PRIVATE_DATA_INVALID', 'customer');
  return {
    ...view,
    description: data.description,
    ...(data.orderLines === undefined ? {} : { orderLines: data.orderLines }),
  };
}
