import { type DecryptionKey, encryptTo, type PrivateJwk, type SigningKey, signPayload } from '@mpay/envelope';
import { errorFromAnswer, requestAnswer, signRequest } from '@mpay/http-client';
import {
  amountEquals,
  amountOfMacroAmount,
  canonicalBytes,
  MpayError,
  type PAppReqContent,
  type PAppRespContent,
  type PayConfirmToClientContent,
  parsePAppReqContent,
  parsePAppRespContent,
  parsePayConfirmToClientContent,
  parseTransactionData,
  type TransactionData,
  transactionDataOfConsent,
} from '@mpay/protocol';
import type { BankTrust } from '../merchant/seal.ts';
import {
  contentOf,
  noDigest,
  openFromBank,
  PinnedBank,
  record,
  sessionIdPattern,
  verifyFromBank,
} from './from-bank.ts';
import {
  byteLengthOf,
  describeCompact,
  hashTransactionDataAsync,
  type MacroMessageObserved,
  type MacroMessageObserver,
  precomputedDigest,
} from './payment.ts';

/**
 * The client's leg with its own bank in a macro payment (seed 002 §4.2,
 * steps 6, 7 and 11): the device talks to the client bank (CB) directly,
 * never through the MPASP (§5.1.3: "the bank gets payment approval directly
 * from the client").
 *
 * - `approvalRequests()`: the CB's PApp_Req (step 6), sealed to this device,
 *   opened with its encryption key and verified under the bank's keys;
 * - `approve(request, decision)`: PApp_Resp (step 7), built from the PApp_Req
 *   and the TransactionData the device kept from step 1 (its hash must be the
 *   one the CB names: the device approves only what it asked to pay), signed
 *   with the bound key and sealed to the bank's encryption key;
 * - `confirmation(sessionId)`: Pay_Confirm (step 11), sealed to this device
 *   and signed by the bank.
 */
export interface MacroBankClientOptions {
  /** Where the client bank answers. */
  readonly bankUrl: string;
  /** The customer's party id at the bank: the binding's subject, issuer of its tokens and of PApp_Resp. */
  readonly partyId: string;
  /** The device's bound signing key. */
  readonly signingKey: PrivateJwk | SigningKey;
  /** The device's bound encryption key: PApp_Req and Pay_Confirm are sealed to it. */
  readonly encryptionKey: PrivateJwk | DecryptionKey;
  /** The bank as pinned by the app; default: read once from its GET /bank (`fetchBankTrust`). */
  readonly bank?: BankTrust;
  readonly timeoutMs?: number;
  /** Told each message of §4.2 this device sends to or receives from its bank, with its exact size (a trace). */
  readonly onMessage?: MacroMessageObserver;
}

/** A verified PApp_Req waiting for the client's answer. */
export interface MacroApprovalRequest {
  readonly sessionId: string;
  readonly expiresAt: string;
  readonly content: PAppReqContent;
}

/** The client's decision, with the TransactionData of its step-1 request (kept on the device). */
export interface MacroApprovalDecision {
  readonly decision: 'approve' | 'decline';
  readonly transactionData: TransactionData;
  /** PApp_Resp's signature lifetime (default 120 s, at most 300). */
  readonly lifetimeSeconds?: number;
}

/** A PApp_Resp ready to send: the sealed body for POST /macro/approvals/:sessionId. */
export interface PreparedMacroApproval {
  readonly sessionId: string;
  readonly consent: PAppRespContent;
  /** The compact JWE of `{ pappResp }` to the bank's encryption key. */
  readonly approval: string;
}

/** The bank's verified answer to PApp_Resp. */
export interface MacroApprovalOutcome {
  readonly sessionId: string;
  readonly state: 'approved' | 'declined';
  /** The payment order an approval placed (state `completed`, or `sending` while the merchant bank answers). */
  readonly order?: { readonly id: string; readonly state: string; readonly refusalCode?: string };
  /** The bank's signed statement (compact JWS), verified. */
  readonly statement: string;
}

/** Step 11 as the bank tells it: the state, and Pay_Confirm once completed (verified). */
export interface MacroConfirmation {
  readonly sessionId: string;
  readonly state: 'approval_requested' | 'declined' | 'refused' | 'sending' | 'completed';
  readonly refusalCode?: string;
  readonly payConfirm?: PayConfirmToClientContent;
}

const answerBytesMax = 256 * 1024;
const timeoutMsDefault = 30_000;
const consentLifetimeSecondsDefault = 120;
const consentLifetimeSecondsMax = 300;
const confirmationStates: readonly MacroConfirmation['state'][] = [
  'approval_requested',
  'declined',
  'refused',
  'sending',
  'completed',
];

export class MacroBankClient {
  readonly #options: MacroBankClientOptions;
  readonly #bank: PinnedBank;

  constructor(options: MacroBankClientOptions) {
    this.#options = Object.freeze({ ...options });
    this.#bank = new PinnedBank(options.bankUrl, options.bank);
  }

  /** The bank's keys: pinned, or read once from its GET /bank. */
  bank(): Promise<BankTrust> {
    return this.#bank.trust();
  }

  async #call(method: 'GET' | 'POST', path: string, body?: string, signed = true) {
    const bank = await this.bank();
    const headers: Record<string, string> = {};
    if (signed) {
      headers.authorization = await signRequest(
        { method, path, body: body ?? '' },
        { issuer: this.#options.partyId, audience: bank.id, key: this.#options.signingKey },
      );
    }
    return requestAnswer(`${this.#options.bankUrl}${path}`, {
      method,
      ...(body === undefined ? {} : { body, contentType: 'application/json' }),
      headers,
      timeoutMs: this.#options.timeoutMs ?? timeoutMsDefault,
      responseBytesMax: answerBytesMax,
    });
  }

  /** Tells the observer; one that throws changes nothing here (the protocol never depends on a trace). */
  #observe(message: MacroMessageObserved): void {
    try {
      this.#options.onMessage?.(Object.freeze(message));
    } catch {
      // A trace's failure is the trace's own.
    }
  }

  /** Tells the observer of a message the bank sealed to this device, once opened and verified. */
  #observeFromBank(
    step: 6 | 11,
    message: 'macro_papp_req' | 'macro_pay_confirm_to_client',
    opened: { readonly sealed: string; readonly jws: string },
    route: string,
  ): void {
    this.#observe({
      step,
      from: 'CB',
      to: 'C',
      message,
      bytes: byteLengthOf(opened.sealed),
      protection: `signed by the CB (${describeCompact(opened.jws)}), sealed to C's device key (${describeCompact(opened.sealed)})`,
      route,
    });
  }

  /**
   * Opens a message the bank sealed to this device and verifies the bank's
   * signature in it: the payload, with the compact JWE and the JWS inside it.
   */
  async #openAndVerify(
    sealed: unknown,
    sessionId: string,
  ): Promise<{ payload: Readonly<Record<string, unknown>>; sealed: string; jws: string }> {
    return openFromBank(
      await this.bank(),
      this.#options.encryptionKey,
      this.#options.partyId,
      sealed,
      sessionId,
    );
  }

  async #verifyFromBank(jws: unknown, sessionId: string) {
    return verifyFromBank(await this.bank(), this.#options.partyId, jws, sessionId);
  }

  /**
   * Step 6 at the device: the open PApp_Reqs of this party (GET
   * /macro/approval-requests), each opened, verified under the bank's keys
   * (issuer the bank, audience this party, txn SID_T) and parsed by the core.
   * One that does not open or verify is refused (CRYPTO_VERIFICATION_FAILED):
   * never shown as the bank's.
   */
  async approvalRequests(): Promise<MacroApprovalRequest[]> {
    const answer = await this.#call('GET', '/macro/approval-requests');
    if (answer.status !== 200) throw errorFromAnswer(answer.body, answer.status);
    const list = record(answer.body).approvalRequests;
    if (!Array.isArray(list)) throw new MpayError('BANK_ANSWER_INVALID', 'approvalRequests');
    const bank = await this.bank();
    const requests: MacroApprovalRequest[] = [];
    for (const entry of list) {
      const { sessionId, expiresAt, pappReq } = record(entry);
      if (typeof sessionId !== 'string' || !sessionIdPattern.test(sessionId) || typeof expiresAt !== 'string')
        throw new MpayError('BANK_ANSWER_INVALID', 'approvalRequests');
      const opened = await this.#openAndVerify(pappReq, sessionId);
      const content = parsePAppReqContent(contentOf(opened.payload), noDigest);
      if (content.from !== bank.id || content.sessionId !== sessionId)
        throw new MpayError('CRYPTO_VERIFICATION_FAILED', 'PApp_Req');
      this.#observeFromBank(6, 'macro_papp_req', opened, 'answer to GET /macro/approval-requests');
      requests.push(Object.freeze({ sessionId, expiresAt: content.expiresAt, content }));
    }
    return requests;
  }

  /**
   * Step 7 built, not sent: PApp_Resp for `request` with the client's
   * decision. The TransactionData must hash to the PApp_Req's
   * h(TransactionData) and carry its amount (PAYMENT_MESSAGE_MISMATCH
   * otherwise): the client signs consent only to the payment it asked for.
   */
  async prepareApproval(
    request: MacroApprovalRequest,
    decision: MacroApprovalDecision,
  ): Promise<PreparedMacroApproval> {
    const bank = await this.bank();
    const data = parseTransactionData(decision.transactionData);
    if (!amountEquals(amountOfMacroAmount(data.amount), amountOfMacroAmount(request.content.amount)))
      throw new MpayError('PAYMENT_MESSAGE_MISMATCH', 'amount');
    if ((await hashTransactionDataAsync(data)) !== request.content.transactionDataHash)
      throw new MpayError('PAYMENT_MESSAGE_MISMATCH', 'transactionDataHash');
    const lifetimeSeconds = decision.lifetimeSeconds ?? consentLifetimeSecondsDefault;
    if (
      !Number.isSafeInteger(lifetimeSeconds) ||
      lifetimeSeconds < 1 ||
      lifetimeSeconds > consentLifetimeSecondsMax
    )
      throw new MpayError('REQUEST_INVALID', 'lifetimeSeconds');
    const candidate = {
      kind: 'macro_papp_resp',
      from: request.content.to,
      to: request.content.from,
      sessionId: request.sessionId,
      transactionId: request.content.transactionId,
      amount: request.content.amount,
      transactionDate: data.date,
      merchantId: data.merchantId,
      merchantBankId: data.merchantBankId,
      transactionDataHash: request.content.transactionDataHash,
      expiresAt: request.content.expiresAt,
      decision: decision.decision,
    } as const;
    const digest = await precomputedDigest(
      canonicalBytes(parseTransactionData(transactionDataOfConsent(candidate))),
    );
    const consent = parsePAppRespContent(candidate, digest);
    const pappResp = await signPayload(
      consent,
      {
        issuer: this.#options.partyId,
        audience: bank.id,
        transactionId: request.sessionId,
        expiresInSeconds: lifetimeSeconds,
      },
      this.#options.signingKey,
    );
    const approval = await encryptTo(JSON.stringify({ pappResp }), bank.encryptionJwk);
    return Object.freeze({ sessionId: request.sessionId, consent, approval });
  }

  /** Sends a prepared PApp_Resp to the bank (POST /macro/approvals/:sessionId) and verifies its statement. */
  async sendApproval(prepared: PreparedMacroApproval): Promise<MacroApprovalOutcome> {
    const path = `/macro/approvals/${prepared.sessionId}`;
    const sent = JSON.stringify({ approval: prepared.approval });
    const answer = await this.#call('POST', path, sent, false);
    this.#observe({
      step: 7,
      from: 'C',
      to: 'CB',
      message: 'macro_papp_resp',
      bytes: byteLengthOf(sent),
      protection: `signed by C with its bound device key (JWS), sealed to the CB (${describeCompact(prepared.approval)})`,
      route: `POST ${path}`,
    });
    if (answer.status < 200 || answer.status > 202) throw errorFromAnswer(answer.body, answer.status);
    const body = record(answer.body);
    const verified = await this.#verifyFromBank(body.statement, prepared.sessionId);
    const statement = record(verified.payload.macroApproval);
    const state = body.state;
    if (
      (state !== 'approved' && state !== 'declined') ||
      statement.sessionId !== prepared.sessionId ||
      statement.transactionId !== prepared.consent.transactionId ||
      statement.clientId !== prepared.consent.from ||
      statement.state !== state
    ) {
      throw new MpayError('BANK_ANSWER_INVALID', 'statement');
    }
    const order = record(body.order);
    return Object.freeze({
      sessionId: prepared.sessionId,
      state,
      ...(typeof order.id === 'string' && typeof order.state === 'string'
        ? {
            order: {
              id: order.id,
              state: order.state,
              ...(typeof order.refusalCode === 'string' ? { refusalCode: order.refusalCode } : {}),
            },
          }
        : {}),
      statement: body.statement as string,
    });
  }

  /** Step 7: PApp_Resp built, signed, sealed and sent to the client bank. */
  async approve(
    request: MacroApprovalRequest,
    decision: MacroApprovalDecision,
  ): Promise<MacroApprovalOutcome> {
    return this.sendApproval(await this.prepareApproval(request, decision));
  }

  /** Step 11: the bank's state of SID_T, and its Pay_Confirm once completed (opened and verified). */
  async confirmation(sessionId: string): Promise<MacroConfirmation> {
    if (!sessionIdPattern.test(sessionId)) throw new MpayError('REQUEST_INVALID', 'sessionId');
    const answer = await this.#call('GET', `/macro/confirmations/${sessionId}`);
    if (answer.status !== 200) throw errorFromAnswer(answer.body, answer.status);
    const body = record(answer.body);
    const state = body.state as MacroConfirmation['state'];
    if (body.sessionId !== sessionId || !confirmationStates.includes(state))
      throw new MpayError('BANK_ANSWER_INVALID', 'state');
    const refusalCode = typeof body.refusalCode === 'string' ? { refusalCode: body.refusalCode } : {};
    if (state !== 'completed') return Object.freeze({ sessionId, state, ...refusalCode });
    const bank = await this.bank();
    const opened = await this.#openAndVerify(body.payConfirm, sessionId);
    const payConfirm = parsePayConfirmToClientContent(contentOf(opened.payload), noDigest);
    if (payConfirm.from !== bank.id || payConfirm.sessionId !== sessionId)
      throw new MpayError('CRYPTO_VERIFICATION_FAILED', 'Pay_Confirm');
    this.#observeFromBank(
      11,
      'macro_pay_confirm_to_client',
      opened,
      `answer to GET /macro/confirmations/${sessionId}`,
    );
    return Object.freeze({ sessionId, state, payConfirm });
  }
}
