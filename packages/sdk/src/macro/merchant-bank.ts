import type { DecryptionKey, PrivateJwk, SigningKey } from '@mpay/envelope';
import { errorFromAnswer, requestAnswer, signRequest } from '@mpay/http-client';
import {
  MpayError,
  type PayConfirmToMerchantContent,
  parsePayConfirmToMerchantContent,
} from '@mpay/protocol';
import type { BankTrust } from '../merchant/seal.ts';
import { contentOf, noDigest, openFromBank, PinnedBank, record, sessionIdPattern } from './from-bank.ts';

/**
 * The merchant's leg with its own bank in a macro payment (seed 002 §4.2,
 * step 9: MB → M: E_SP{SID_T, Pay_Confirm, ID_C, AmtInfo_c}_{MB-M}). The
 * merchant's system reads, from its bank directly, the Pay_Confirms of the
 * macro payments its bank credited to it: each sealed to the merchant's
 * bound encryption key, signed by the bank, parsed strictly by the core and
 * checked to name this merchant and its bank. The merchant learns of a
 * macro payment only from its bank's word: the client starts the payment at
 * the MPASP, and nothing the client or the MPASP says credits the merchant.
 */
export interface MacroMerchantClientOptions {
  /** Where the merchant's bank answers. */
  readonly bankUrl: string;
  /** The merchant's party id (ID_M): its binding's subject at the bank, issuer of its request tokens. */
  readonly partyId: string;
  /** The merchant's bound signing key. */
  readonly signingKey: PrivateJwk | SigningKey;
  /** The merchant's bound encryption key: Pay_Confirm is sealed to it. */
  readonly encryptionKey: PrivateJwk | DecryptionKey;
  /** The bank as pinned by the merchant; default: read once from its GET /bank (`fetchBankTrust`). */
  readonly bank?: BankTrust;
  readonly timeoutMs?: number;
}

/** One verified Pay_Confirm (step 9). */
export interface MacroMerchantConfirmation {
  /** Where the next read starts (`confirmations(sequence)`). */
  readonly sequence: string;
  readonly sessionId: string;
  readonly content: PayConfirmToMerchantContent;
  /** Size of the sealed message as the bank sent it, in bytes. */
  readonly bytes: number;
}

export interface MacroMerchantConfirmationPage {
  readonly confirmations: readonly MacroMerchantConfirmation[];
  /** Pass as `after` for the next page; present when this page is full. */
  readonly next?: string;
}

const answerBytesMax = 1024 * 1024;
const timeoutMsDefault = 30_000;
const sequencePattern = /^(0|[1-9][0-9]{0,17})$/;

export class MacroMerchantClient {
  readonly #options: MacroMerchantClientOptions;
  readonly #bank: PinnedBank;

  constructor(options: MacroMerchantClientOptions) {
    this.#options = Object.freeze({ ...options });
    this.#bank = new PinnedBank(options.bankUrl, options.bank);
  }

  /** The bank's keys: pinned, or read once from its GET /bank. */
  bank(): Promise<BankTrust> {
    return this.#bank.trust();
  }

  /**
   * Step 9 at the merchant: the Pay_Confirms after `after` (oldest first, a
   * page at a time). One that does not open, verify or name this merchant is
   * refused (CRYPTO_VERIFICATION_FAILED): never shown as the bank's word.
   */
  async confirmations(after = '0'): Promise<MacroMerchantConfirmationPage> {
    if (!sequencePattern.test(after)) throw new MpayError('REQUEST_INVALID', 'after');
    const bank = await this.bank();
    const path = `/macro/merchant-confirmations?after=${after}`;
    const authorization = await signRequest(
      { method: 'GET', path, body: '' },
      { issuer: this.#options.partyId, audience: bank.id, key: this.#options.signingKey },
    );
    const answer = await requestAnswer(`${this.#options.bankUrl}${path}`, {
      method: 'GET',
      headers: { authorization },
      timeoutMs: this.#options.timeoutMs ?? timeoutMsDefault,
      responseBytesMax: answerBytesMax,
    });
    if (answer.status !== 200) throw errorFromAnswer(answer.body, answer.status);
    const body = record(answer.body);
    if (!Array.isArray(body.confirmations) || (body.next !== undefined && typeof body.next !== 'string'))
      throw new MpayError('BANK_ANSWER_INVALID', 'confirmations');
    const confirmations: MacroMerchantConfirmation[] = [];
    for (const entry of body.confirmations) {
      const { sequence, sessionId, payConfirm } = record(entry);
      if (
        typeof sequence !== 'string' ||
        !sequencePattern.test(sequence) ||
        typeof sessionId !== 'string' ||
        !sessionIdPattern.test(sessionId) ||
        typeof payConfirm !== 'string'
      )
        throw new MpayError('BANK_ANSWER_INVALID', 'confirmations');
      const content = await this.#open(bank, payConfirm, sessionId);
      confirmations.push(
        Object.freeze({ sequence, sessionId, content, bytes: new TextEncoder().encode(payConfirm).length }),
      );
    }
    return Object.freeze({
      confirmations: Object.freeze(confirmations),
      ...(typeof body.next === 'string' ? { next: body.next } : {}),
    });
  }

  async #open(bank: BankTrust, sealed: string, sessionId: string): Promise<PayConfirmToMerchantContent> {
    const { payload } = await openFromBank(
      bank,
      this.#options.encryptionKey,
      this.#options.partyId,
      sealed,
      sessionId,
    );
    const content = parsePayConfirmToMerchantContent(contentOf(payload), noDigest);
    if (content.from !== bank.id || content.to !== this.#options.partyId || content.sessionId !== sessionId)
      throw new MpayError('CRYPTO_VERIFICATION_FAILED', 'Pay_Confirm');
    return content;
  }
}
