import { errorFromAnswer, requestAnswer, signRequest } from '@mpay/http-client';
import { errorCategoryOf, isErrorCode, isMpayError, MpayError } from '@mpay/protocol';
import { bankStatement } from '../banks/client.ts';
import type { FspIdentity } from '../context.ts';
import type { BankRecord } from '../registry/banks.ts';

/**
 * What the FSP asks the merchant's bank to pay back: the refund, the original
 * payment (its id is the customer's bank's order id) and that bank, merchant
 * and customer by party id, and the merchant's own signature over exactly
 * this refund. The merchant's bank, not the FSP, decides whether that
 * signature is its merchant's consent, and which account pays.
 */
export interface RefundOrder {
  readonly id: string;
  readonly originalOrderId: string;
  readonly originalBank: string;
  readonly payerId: string;
  readonly payeeId: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly reference: string;
  readonly authorisation: string;
}

export type RefundOrderOutcome =
  | { readonly kind: 'refunded'; readonly bankAnswer: string }
  | { readonly kind: 'refused'; readonly code: string; readonly bankAnswer?: string | undefined }
  | { readonly kind: 'failed'; readonly code: string }
  /** Not decided yet; `accepted` when the merchant's bank placed the order and is paying back. */
  | { readonly kind: 'pending'; readonly code: string; readonly accepted: boolean };

/**
 * Checks the bank's signed word on a refund order: by that bank's key, to
 * this FSP, for this refund, saying what the plain answer says about the same
 * payment, merchant, customer, amount and currency. Anything else is
 * BANK_ANSWER_INVALID (asked again: no outcome is recorded on an answer that
 * does not verify).
 */
async function verifyRefundAnswer(
  fsp: FspIdentity,
  bank: BankRecord,
  order: RefundOrder,
  jws: unknown,
  state: 'completed' | 'refused',
  refusalCode: string | undefined,
): Promise<string> {
  const { jws: statement, answer } = await bankStatement(fsp, bank, jws, order.id, 'refundOrder');
  const matches =
    answer.id === order.id &&
    answer.state === state &&
    answer.originalOrderId === order.originalOrderId &&
    answer.payerId === order.payerId &&
    answer.payeeId === order.payeeId &&
    answer.amount === order.amountMinor.toString() &&
    answer.currency === order.currency &&
    (state === 'completed' ? answer.refusalCode === undefined : answer.refusalCode === refusalCode);
  if (!matches) throw new MpayError('BANK_ANSWER_INVALID');
  return statement;
}

function outcomeOfError(code: string): RefundOrderOutcome {
  if (!isErrorCode(code)) return { kind: 'failed', code };
  const category = errorCategoryOf(code);
  if (category === 'retryable') return { kind: 'pending', code, accepted: false };
  return category === 'refused' ? { kind: 'refused', code } : { kind: 'failed', code };
}

/**
 * An error answer. A refusal the bank signed is its final word whatever the
 * code's category (REFUND_EXCEEDS_ORIGINAL is `final` in the catalogue, a
 * decision here), once the signature verifies; a signed refusal that does not
 * verify is asked again, never recorded. Unsigned, the code's category decides.
 */
async function outcomeOfRefusal(
  fsp: FspIdentity,
  bank: BankRecord,
  order: RefundOrder,
  status: number,
  body: unknown,
): Promise<RefundOrderOutcome> {
  const { code } = errorFromAnswer(body, status);
  const signed = (body as { bankAnswer?: unknown } | null)?.bankAnswer;
  if (signed === undefined) return outcomeOfError(code);
  try {
    return {
      kind: 'refused',
      code,
      bankAnswer: await verifyRefundAnswer(fsp, bank, order, signed, 'refused', code),
    };
  } catch {
    return { kind: 'pending', code: 'BANK_ANSWER_INVALID', accepted: false };
  }
}

/**
 * Places (or asks again about) the refund order at the merchant's bank. The
 * refund id is the order id, so a retry after a crash or a timeout can never
 * pay back twice. A customer at another bank is paid back through it: the
 * bank answers `sending` until the customer's bank has answered.
 */
export async function placeRefundOrder(
  fsp: FspIdentity,
  bank: BankRecord,
  order: RefundOrder,
  timeoutMs: number,
): Promise<RefundOrderOutcome> {
  const path = '/refund-orders';
  const body = JSON.stringify({
    id: order.id,
    originalOrderId: order.originalOrderId,
    originalBank: order.originalBank,
    payerId: order.payerId,
    payeeId: order.payeeId,
    amount: order.amountMinor.toString(),
    currency: order.currency,
    reference: order.reference,
    authorisation: order.authorisation,
  });
  let answer: { id?: unknown; state?: unknown; refusalCode?: unknown; bankAnswer?: unknown };
  try {
    const authorization = await signRequest(
      { method: 'POST', path, body },
      { issuer: fsp.id, audience: bank.id, key: fsp.signing.privateJwk },
    );
    const response = await requestAnswer(
      `${bank.url}${path}`,
      {
        body,
        contentType: 'application/json',
        headers: { authorization },
        timeoutMs,
        responseBytesMax: 64 * 1024,
      },
      'BANK_UNAVAILABLE',
    );
    if (response.status < 200 || response.status > 299) {
      return await outcomeOfRefusal(fsp, bank, order, response.status, response.body);
    }
    answer =
      typeof response.body === 'object' && response.body !== null ? (response.body as typeof answer) : {};
  } catch (error) {
    if (!isMpayError(error)) return { kind: 'pending', code: 'BANK_UNAVAILABLE', accepted: false };
    return outcomeOfError(error.code);
  }
  if (answer.id !== order.id) return { kind: 'pending', code: 'BANK_ANSWER_INVALID', accepted: false };
  try {
    if (answer.state === 'completed') {
      return {
        kind: 'refunded',
        bankAnswer: await verifyRefundAnswer(fsp, bank, order, answer.bankAnswer, 'completed', undefined),
      };
    }
    if (answer.state === 'refused') {
      const code = typeof answer.refusalCode === 'string' ? answer.refusalCode : 'PAYMENT_DECLINED';
      return {
        kind: 'refused',
        code,
        bankAnswer: await verifyRefundAnswer(fsp, bank, order, answer.bankAnswer, 'refused', code),
      };
    }
  } catch (error) {
    return {
      kind: 'pending',
      code: isMpayError(error) ? error.code : 'BANK_ANSWER_INVALID',
      accepted: false,
    };
  }
  return { kind: 'pending', code: 'INTERBANK_PENDING', accepted: answer.state === 'sending' };
}
