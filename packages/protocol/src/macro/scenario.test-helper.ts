import { createHash } from 'node:crypto';
import { createAmount } from '../money/index.ts';
import {
  createSession,
  createTranId,
  createTransactionData,
  hashTransactionData,
  type MacroMessage,
  type MacroMessageKind,
  macroAmountOf,
  type PAppRespContent,
  type PayAckContent,
  type PaymentRequestContent,
  type SecretAnswerContent,
  type Sha256Digest,
} from './messages.ts';
import type { MacroPayment } from './step.ts';

/** SHA-256 from node:crypto: what a Node service passes in. */
export const sha256: Sha256Digest = (data) => new Uint8Array(createHash('sha256').update(data).digest());

/** The parties of one macro payment across two banks. */
export const parties = Object.freeze({
  client: 'C042917365028.xbank',
  mpasp: 'fsp.mpay',
  clientBank: 'xbank',
  merchant: 'merkur.trade@merchant.ybank',
  merchantBank: 'ybank',
});

export const t0 = new Date('2026-12-02T10:00:00.000Z');
export const seconds = (count: number) => new Date(t0.getTime() + count * 1_000);

export const amount = createAmount('EUR', 1_250_00n);
export const transactionData = createTransactionData({ date: t0, amount, merchantId: parties.merchant });
export const transactionDataHash = hashTransactionData(transactionData, sha256);

export const transactionId = createTranId(parties.client, seconds(1), new Uint8Array(16).fill(0x5a));
export const sessionId = createSession(transactionId, new Uint8Array(16).fill(0xa5));

/** Step 1, as the client sends it. */
export function paymentRequest(overrides: Partial<PaymentRequestContent> = {}): PaymentRequestContent {
  return {
    kind: 'macro_payment_request',
    from: parties.client,
    to: parties.mpasp,
    requestId: '3f2b8c1e-9d4a-4e6f-8a7b-1c2d3e4f5a6b',
    amount: macroAmountOf(amount),
    transactionDataHash,
    expiresAt: seconds(60).toISOString(),
    ...overrides,
  };
}

/** Step 4 for `payment`, as the client sends it. */
export function secretAnswer(
  payment: MacroPayment,
  overrides: Partial<SecretAnswerContent> = {},
): SecretAnswerContent {
  return {
    kind: 'macro_secret_answer',
    from: payment.clientId,
    to: payment.mpaspId,
    transactionId: payment.transactionId ?? transactionId,
    amount: macroAmountOf(payment.amount),
    expiresAt: payment.expiresAt.toISOString(),
    secretAnswer: 'Ohrid',
    ...overrides,
  };
}

/** Step 7 for `payment`, as the client sends it after PApp_Req. */
export function pAppResp(payment: MacroPayment, overrides: Partial<PAppRespContent> = {}): PAppRespContent {
  return {
    kind: 'macro_papp_resp',
    from: payment.clientId,
    to: parties.clientBank,
    sessionId: payment.sessionId ?? sessionId,
    transactionId: payment.transactionId ?? transactionId,
    amount: macroAmountOf(payment.amount),
    transactionDate: transactionData.date,
    merchantId: transactionData.merchantId,
    merchantBankId: transactionData.merchantBankId,
    transactionDataHash: payment.transactionDataHash,
    expiresAt: payment.expiresAt.toISOString(),
    decision: 'approve',
    ...overrides,
  };
}

/** Step 10 for `payment`, as the merchant bank sends it. */
export function payAck(
  payment: MacroPayment,
  now: Date,
  overrides: Partial<PayAckContent> = {},
): PayAckContent {
  return {
    kind: 'macro_pay_ack',
    from: parties.merchantBank,
    to: parties.clientBank,
    sessionId: payment.sessionId ?? sessionId,
    clientId: payment.clientId,
    merchantId: parties.merchant,
    amount: macroAmountOf(payment.amount),
    expiresAt: new Date(now.getTime() + 300_000).toISOString(),
    ...overrides,
  };
}

/**
 * One valid content of every macro message kind, for one payment (client
 * xbank, merchant ybank): the samples the message tests and the fuzz
 * campaigns start from.
 */
const sampleMoney = macroAmountOf(createAmount('EUR', 1_250_00n));
const sampleExpiresAt = seconds(300).toISOString();
const sampleRequestId = '3f2b8c1e-9d4a-4e6f-8a7b-1c2d3e4f5a6b';

export const macroMessageSamples: { readonly [K in MacroMessageKind]: Extract<MacroMessage, { kind: K }> } = {
  macro_payment_request: {
    kind: 'macro_payment_request',
    from: parties.client,
    to: parties.mpasp,
    requestId: sampleRequestId,
    amount: sampleMoney,
    transactionDataHash,
    expiresAt: sampleExpiresAt,
  },
  macro_challenge: {
    kind: 'macro_challenge',
    from: parties.mpasp,
    to: parties.client,
    requestId: sampleRequestId,
    transactionId,
    challengedAt: seconds(1).toISOString(),
    expiresAt: sampleExpiresAt,
    amount: sampleMoney,
    secretQuestion: 'Where did you spend your first holiday?',
  },
  macro_secret_answer: {
    kind: 'macro_secret_answer',
    from: parties.client,
    to: parties.mpasp,
    transactionId,
    amount: sampleMoney,
    expiresAt: sampleExpiresAt,
    secretAnswer: 'Ohrid',
  },
  macro_failure_msg1: {
    kind: 'macro_failure_msg1',
    from: parties.mpasp,
    to: parties.client,
    transactionId,
    amount: sampleMoney,
    expiresAt: sampleExpiresAt,
  },
  macro_client_bank_request: {
    kind: 'macro_client_bank_request',
    from: parties.mpasp,
    to: parties.clientBank,
    sessionId,
    transactionId,
    clientId: parties.client,
    amount: sampleMoney,
    transactionDataHash,
    expiresAt: sampleExpiresAt,
  },
  macro_papp_req: {
    kind: 'macro_papp_req',
    from: parties.clientBank,
    to: parties.client,
    sessionId,
    transactionId,
    amount: sampleMoney,
    transactionDataHash,
    expiresAt: sampleExpiresAt,
  },
  macro_failure_msg2: {
    kind: 'macro_failure_msg2',
    from: parties.clientBank,
    to: parties.mpasp,
    sessionId,
    transactionId,
    amount: sampleMoney,
    expiresAt: sampleExpiresAt,
  },
  macro_papp_resp: {
    kind: 'macro_papp_resp',
    from: parties.client,
    to: parties.clientBank,
    sessionId,
    transactionId,
    amount: sampleMoney,
    transactionDate: transactionData.date,
    merchantId: parties.merchant,
    merchantBankId: parties.merchantBank,
    transactionDataHash,
    expiresAt: sampleExpiresAt,
    decision: 'approve',
  },
  macro_funds_transfer: {
    kind: 'macro_funds_transfer',
    from: parties.clientBank,
    to: parties.merchantBank,
    sessionId,
    clientId: parties.client,
    merchantId: parties.merchant,
    amount: sampleMoney,
    expiresAt: sampleExpiresAt,
  },
  macro_pay_confirm_to_merchant: {
    kind: 'macro_pay_confirm_to_merchant',
    from: parties.merchantBank,
    to: parties.merchant,
    sessionId,
    clientId: parties.client,
    amount: sampleMoney,
    expiresAt: sampleExpiresAt,
  },
  macro_pay_ack: {
    kind: 'macro_pay_ack',
    from: parties.merchantBank,
    to: parties.clientBank,
    sessionId,
    clientId: parties.client,
    merchantId: parties.merchant,
    amount: sampleMoney,
    expiresAt: sampleExpiresAt,
  },
  macro_pay_confirm_to_client: {
    kind: 'macro_pay_confirm_to_client',
    from: parties.clientBank,
    to: parties.client,
    sessionId,
    merchantId: parties.merchant,
    amount: sampleMoney,
    expiresAt: sampleExpiresAt,
  },
  macro_pay_confirm_to_mpasp: {
    kind: 'macro_pay_confirm_to_mpasp',
    from: parties.clientBank,
    to: parties.mpasp,
    sessionId,
    merchantId: parties.merchant,
    amount: sampleMoney,
    expiresAt: sampleExpiresAt,
  },
};
