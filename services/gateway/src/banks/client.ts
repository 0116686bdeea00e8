import { requestJson } from '@mpay/http/client';
import { signRequest } from '@mpay/http/signed-request';
import { isMpayError, MpayError } from '@mpay/protocol';
import type { FspIdentity } from '../context.ts';

export interface TransferOrder {
  bankId: string;
  bankUrl: string;
  transferId: string;
  debitAccountId: string;
  /** The payee's bank: the customer's bank pays locally or through it (interbank). */
  creditBankId: string;
  creditAccountId: string;
  amountMinor: bigint;
  currency: string;
  reference: string;
}

export type TransferOutcome =
  | { kind: 'transferred'; transferId: string; answer?: string | undefined }
  | { kind: 'refused'; code: string }
  | { kind: 'failed'; code: string }
  | { kind: 'unavailable'; code: string };

/** Answers after which the same transfer may succeed later: only these are retried. */
const retryableCodes = new Set([
  'BANK_UNAVAILABLE',
  'SERVICE_UNAVAILABLE',
  'INTERNAL',
  'IDEMPOTENCY_REQUEST_IN_PROGRESS',
  'REQUEST_RATE_LIMITED',
]);

/** Errors with which a bank says no for good; anything else may be retried with the same transfer id. */
const refusalCodes = new Set([
  'INSUFFICIENT_FUNDS',
  'LIMIT_EXCEEDED',
  'ACCOUNT_CLOSED',
  'ACCOUNT_UNKNOWN',
  'CURRENCY_MISMATCH',
  'ACCOUNTS_MUST_BE_DIFFERENT',
  'AMOUNT_INVALID',
  'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
  'FUNDS_TRANSFER_EXPIRED',
  'BANK_UNKNOWN',
]);

interface OrderAnswer {
  id: string;
  state: 'sending' | 'completed' | 'refused';
  refusalCode?: string;
  answer?: string;
}

/**
 * iMS step 7: asks the customer's bank to pay (a payment order). The order id
 * is the payment id, so a retry after a crash or a timeout can never debit
 * twice. A payee at another bank is paid through it: the customer's bank
 * answers 'sending' until the merchant's bank has answered, and the gateway
 * asks again later with the same id.
 */
export async function orderTransfer(
  fsp: FspIdentity,
  order: TransferOrder,
  timeoutMs = 10_000,
): Promise<TransferOutcome> {
  const path = '/payment-orders';
  const body = JSON.stringify({
    id: order.transferId,
    debitAccountId: order.debitAccountId,
    creditBankId: order.creditBankId,
    creditAccountId: order.creditAccountId,
    amount: order.amountMinor.toString(),
    currency: order.currency,
    reference: order.reference,
  });
  try {
    const authorization = await signRequest(
      { method: 'POST', path, body },
      { issuer: fsp.id, audience: order.bankId, key: fsp.signing.privateJwk },
    );
    const response = await requestJson<OrderAnswer>(
      `${order.bankUrl}${path}`,
      {
        body,
        contentType: 'application/json',
        headers: { authorization, 'idempotency-key': order.transferId },
        timeoutMs,
      },
      'BANK_UNAVAILABLE',
    );
    const answer = response.body;
    if (answer.state === 'completed')
      return { kind: 'transferred', transferId: answer.id, answer: answer.answer };
    if (answer.state === 'refused') {
      const code = answer.refusalCode ?? 'PAYMENT_DECLINED';
      return { kind: refusalCodes.has(code) ? 'refused' : 'failed', code };
    }
    return { kind: 'unavailable', code: 'INTERBANK_PENDING' };
  } catch (error) {
    if (!isMpayError(error) || retryableCodes.has(error.code)) {
      return { kind: 'unavailable', code: isMpayError(error) ? error.code : 'BANK_UNAVAILABLE' };
    }
    // A refusal declines the payment; any other answer (authentication, a malformed order) fails it for good.
    return { kind: refusalCodes.has(error.code) ? 'refused' : 'failed', code: error.code };
  }
}

export function refusalError(code: string): MpayError {
  return new MpayError(refusalCodes.has(code) ? (code as 'INSUFFICIENT_FUNDS') : 'PAYMENT_DECLINED');
}
