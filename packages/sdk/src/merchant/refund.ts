import { type PrivateJwk, signPayload } from '@mpay/envelope';
import { requestJson, signRequest } from '@mpay/http-client';
import { type Amount, isRefundId, MpayError, merchantRefundContent, type RefundStatus } from '@mpay/protocol';
import type { FspTrust } from '../fsp.ts';
import type { MessageTrace } from '../trace.ts';

/** What the merchant asks: how much of the payment to give back (its currency), under which id, why. */
export interface RefundInput {
  readonly amount: Amount;
  /** The refund's id, a lower-case UUID: the idempotency key everywhere (default: a fresh one). */
  readonly refundId?: string;
  /** For the records (at most 200 characters); not part of what the banks are shown. */
  readonly reason?: string;
}

/** A refund as the FSP reports it. */
export interface RefundAnswer {
  readonly refundId: string;
  readonly paymentId: string;
  readonly status: RefundStatus;
  readonly amount: { readonly currency: string; readonly value: string };
  readonly reason?: string;
  /** Why it was refused or failed: a stable error code. */
  readonly failureCode?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly history: readonly { readonly status: RefundStatus; readonly step: string; readonly at: string }[];
}

/** What the refund calls need of the merchant client's options. */
export interface RefundClientOptions {
  readonly gatewayUrl: string;
  readonly merchantId: string;
  readonly signingKey: PrivateJwk;
  readonly fsp: FspTrust;
  readonly trace?: MessageTrace | undefined;
  readonly signatureLifetimeSeconds?: number | undefined;
}

const refundStatuses: readonly RefundStatus[] = ['requested', 'ordered', 'completed', 'refused', 'failed'];
const answerBytesMax = 64 * 1024;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The FSP's answer, checked rather than cast: a refund of this payment, with a known status. */
function parseRefundAnswer(body: unknown, paymentId: string): RefundAnswer {
  const valid =
    isRecord(body) &&
    isRefundId(body.refundId) &&
    body.paymentId === paymentId &&
    refundStatuses.includes(body.status as RefundStatus) &&
    isRecord(body.amount) &&
    typeof body.amount.currency === 'string' &&
    typeof body.amount.value === 'string' &&
    typeof body.createdAt === 'string' &&
    typeof body.updatedAt === 'string' &&
    Array.isArray(body.history) &&
    (body.failureCode === undefined || typeof body.failureCode === 'string') &&
    (body.reason === undefined || typeof body.reason === 'string');
  if (!valid) throw new MpayError('SERVICE_UNAVAILABLE', 'refund answer');
  return body as unknown as RefundAnswer;
}

async function signedGet(options: RefundClientOptions, path: string): Promise<unknown> {
  const authorization = await signRequest(
    { method: 'GET', path, body: '' },
    { issuer: options.merchantId, audience: options.fsp.id, key: options.signingKey },
  );
  const { body } = await requestJson<unknown>(`${options.gatewayUrl}${path}`, {
    headers: { authorization },
    responseBytesMax: answerBytesMax,
  });
  return body;
}

/** The customer of one of this merchant's payments, and its currency, from the FSP's status of it. */
async function paymentParties(
  options: RefundClientOptions,
  paymentId: string,
): Promise<{ customerId: string; currency: string }> {
  const status = await signedGet(options, `/payments/${encodeURIComponent(paymentId)}`);
  const payer = isRecord(status) ? status.payer : undefined;
  const amount = isRecord(status) && isRecord(status.amount) ? status.amount.currency : undefined;
  if (typeof payer !== 'string' || typeof amount !== 'string') {
    throw new MpayError('SERVICE_UNAVAILABLE', 'payment status');
  }
  return { customerId: payer, currency: amount };
}

/**
 * Refunds all or part of a completed payment: the merchant signs the refund
 * content (merchantRefundContent: refund, payment, merchant as payer, the
 * original customer as payee, amount) with its key (the one the FSP
 * certified and the merchant's bank bound to its account), audience the
 * FSP, transaction the refund id, and sends it in a signed request. The same
 * refund id with the same fields answers the refund as it stands.
 */
export async function requestRefund(
  options: RefundClientOptions,
  paymentId: string,
  input: RefundInput,
): Promise<RefundAnswer> {
  const refundId = input.refundId ?? crypto.randomUUID();
  if (!isRefundId(refundId)) throw new MpayError('REQUEST_INVALID', 'refundId');
  const { customerId, currency } = await paymentParties(options, paymentId);
  if (input.amount.currency !== currency) throw new MpayError('CURRENCY_MISMATCH', 'amount');
  const content = merchantRefundContent({
    refundId,
    paymentId,
    merchantId: options.merchantId,
    customerId,
    amount: input.amount,
  });
  const refund = await signPayload(
    content,
    {
      issuer: options.merchantId,
      audience: options.fsp.id,
      transactionId: refundId,
      expiresInSeconds: options.signatureLifetimeSeconds ?? 300,
    },
    options.signingKey,
  );
  options.trace?.({
    step: 'merchant-refund-signature',
    kind: 'jws',
    party: options.merchantId,
    compact: refund,
  });
  const path = `/payments/${encodeURIComponent(paymentId)}/refunds`;
  const body = JSON.stringify(input.reason === undefined ? { refund } : { refund, reason: input.reason });
  const authorization = await signRequest(
    { method: 'POST', path, body },
    { issuer: options.merchantId, audience: options.fsp.id, key: options.signingKey },
  );
  const answer = await requestJson<unknown>(`${options.gatewayUrl}${path}`, {
    body,
    contentType: 'application/json',
    headers: { authorization },
    timeoutMs: 30_000,
    responseBytesMax: answerBytesMax,
  });
  return parseRefundAnswer(answer.body, paymentId);
}

/** A refund of one of this merchant's payments, as it stands. */
export async function readRefund(
  options: RefundClientOptions,
  paymentId: string,
  refundId: string,
): Promise<RefundAnswer> {
  if (!isRefundId(refundId)) throw new MpayError('REFUND_UNKNOWN');
  const body = await signedGet(
    options,
    `/payments/${encodeURIComponent(paymentId)}/refunds/${encodeURIComponent(refundId)}`,
  );
  return parseRefundAnswer(body, paymentId);
}
