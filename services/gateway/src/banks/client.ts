import { verifyPayload } from '@mpay/envelope';
import { errorFromAnswer, requestAnswer, signRequest } from '@mpay/http-client';
import { errorCategoryOf, isErrorCode, isMpayError, MpayError } from '@mpay/protocol';
import type { FspIdentity } from '../context.ts';
import type { BankRecord } from '../registry/banks.ts';

/**
 * iMS step 7 as mpay does it: the FSP asks the customer's bank to pay and
 * forwards the customer's own signature over the exact debit. The bank, not
 * the FSP, decides whether that signature is its customer's consent.
 */
export interface PaymentOrder {
  readonly id: string;
  readonly payerId: string;
  readonly debitAccountId: string;
  /** The payee's party id: the payee's bank alone resolves it to an account. */
  readonly payeeId: string;
  readonly creditBankId: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly reference: string;
  /** The customer's compact JWS from the iMS message (`address.from.sign`). */
  readonly authorisation: string;
  /** The level's protections include `bank_approval`: a completed answer must carry the bank's explicit approval. */
  readonly approvalRequired?: boolean;
  /** The message carried sealed private fields: an approval must list `private_data` among its checks. */
  readonly privateDataSealed?: boolean;
}

export type PaymentOrderOutcome =
  | { readonly kind: 'transferred'; readonly bankAnswer: string }
  | { readonly kind: 'refused'; readonly code: string; readonly bankAnswer?: string | undefined }
  | { readonly kind: 'failed'; readonly code: string }
  | { readonly kind: 'pending'; readonly code: string };

interface OrderAnswer {
  id?: unknown;
  state?: unknown;
  refusalCode?: unknown;
  bankAnswer?: unknown;
}

/**
 * The object `member` of a bank's signed statement about `id` (a payment or a
 * refund order, a macro session): signed by that bank's key, issued by it, addressed to this
 * FSP, with the statement itself. BANK_ANSWER_INVALID otherwise.
 */
export async function bankStatement(
  fsp: FspIdentity,
  bank: BankRecord,
  jws: unknown,
  id: string,
  member: 'paymentOrder' | 'refundOrder' | 'macroSession',
  /** The service's clock (the freshness of the statement is judged on it); the wall clock by default. */
  clock?: () => Date,
): Promise<{ jws: string; answer: Record<string, unknown>; issuedAt: Date }> {
  if (typeof jws !== 'string') throw new MpayError('BANK_ANSWER_INVALID');
  const verified = await verifyPayload(
    jws,
    (kid) => (kid === bank.signingJwk.kid ? bank.signingJwk : undefined),
    { issuer: bank.id, audience: fsp.id, transactionId: id },
    { maxAgeSeconds: 86_400, ...(clock === undefined ? {} : { now: () => clock().getTime() }) },
  ).catch(() => {
    throw new MpayError('BANK_ANSWER_INVALID');
  });
  const answer = verified.payload[member];
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer))
    throw new MpayError('BANK_ANSWER_INVALID');
  return { jws, answer: answer as Record<string, unknown>, issuedAt: new Date(verified.claims.iat * 1000) };
}

/**
 * Checks the bank's signed answer: by that bank's key, to this FSP, for this
 * order, and saying what the plain answer says about the same payer, payee,
 * amount and currency. Anything else is BANK_ANSWER_INVALID (retried: no
 * outcome is recorded on an answer that does not verify).
 */
async function verifyBankAnswer(
  fsp: FspIdentity,
  bank: BankRecord,
  order: PaymentOrder,
  jws: unknown,
  state: 'completed' | 'refused',
  refusalCode: string | undefined,
): Promise<string> {
  const { jws: statement, answer } = await bankStatement(fsp, bank, jws, order.id, 'paymentOrder');
  const matches =
    answer.id === order.id &&
    answer.state === state &&
    answer.payerId === order.payerId &&
    answer.payeeId === order.payeeId &&
    answer.amount === order.amountMinor.toString() &&
    answer.currency === order.currency &&
    (state === 'completed' || answer.refusalCode === refusalCode);
  if (!matches) throw new MpayError('BANK_ANSWER_INVALID');
  if (
    state === 'completed' &&
    order.approvalRequired === true &&
    !approvesLarge(answer.approval, order.privateDataSealed === true)
  )
    throw new MpayError('BANK_APPROVAL_MISSING');
  return statement;
}

/** The bank's explicit approval of a large payment: the level, and the second factor among the checks it ran. */
function approvesLarge(approval: unknown, privateDataSealed: boolean): boolean {
  if (typeof approval !== 'object' || approval === null) return false;
  const { level, checks, approvedAt } = approval as Record<string, unknown>;
  return (
    level === 'large' &&
    Array.isArray(checks) &&
    checks.includes('customer_signature') &&
    checks.includes('second_factor') &&
    (!privateDataSealed || checks.includes('private_data')) &&
    typeof approvedAt === 'string'
  );
}

/**
 * An error answer: its code decides (refused, retryable, final). A refusal
 * comes with the bank's signed answer, which must verify before the refusal
 * is recorded; an answer that does not verify is retried, never recorded.
 */
async function outcomeOfRefusal(
  fsp: FspIdentity,
  bank: BankRecord,
  order: PaymentOrder,
  status: number,
  body: unknown,
): Promise<PaymentOrderOutcome> {
  const { code } = errorFromAnswer(body, status);
  const outcome = outcomeOfError(code);
  if (outcome.kind !== 'refused') return outcome;
  const signed = (body as { bankAnswer?: unknown } | null)?.bankAnswer;
  if (signed === undefined) return outcome;
  try {
    return {
      kind: 'refused',
      code,
      bankAnswer: await verifyBankAnswer(fsp, bank, order, signed, 'refused', code),
    };
  } catch {
    return { kind: 'pending', code: 'BANK_ANSWER_INVALID' };
  }
}

function outcomeOfError(code: string): PaymentOrderOutcome {
  if (!isErrorCode(code)) return { kind: 'failed', code };
  const category = errorCategoryOf(code);
  if (category === 'retryable') return { kind: 'pending', code };
  return category === 'refused' ? { kind: 'refused', code } : { kind: 'failed', code };
}

/**
 * Places (or asks again about) the payment order at the customer's bank. The
 * order id is the payment id, so a retry after a crash or a timeout can never
 * debit twice. A payee at another bank is paid through it: the bank answers
 * `sending` until the merchant's bank has answered; the FSP asks again later.
 */
export async function placePaymentOrder(
  fsp: FspIdentity,
  bank: BankRecord,
  order: PaymentOrder,
  timeoutMs: number,
): Promise<PaymentOrderOutcome> {
  const path = '/payment-orders';
  const body = JSON.stringify({
    id: order.id,
    payerId: order.payerId,
    debitAccountId: order.debitAccountId,
    payeeId: order.payeeId,
    creditBankId: order.creditBankId,
    amount: order.amountMinor.toString(),
    currency: order.currency,
    reference: order.reference,
    authorisation: order.authorisation,
  });
  let status: number;
  let answer: OrderAnswer;
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
        headers: { authorization, 'idempotency-key': order.id },
        timeoutMs,
        responseBytesMax: 64 * 1024,
      },
      'BANK_UNAVAILABLE',
    );
    status = response.status;
    answer =
      typeof response.body === 'object' && response.body !== null ? (response.body as OrderAnswer) : {};
    if (status < 200 || status > 299) return await outcomeOfRefusal(fsp, bank, order, status, response.body);
  } catch (error) {
    if (!isMpayError(error)) return { kind: 'pending', code: 'BANK_UNAVAILABLE' };
    return outcomeOfError(error.code);
  }
  if (answer.id !== order.id) return { kind: 'pending', code: 'BANK_ANSWER_INVALID' };
  try {
    if (answer.state === 'completed') {
      return {
        kind: 'transferred',
        bankAnswer: await verifyBankAnswer(fsp, bank, order, answer.bankAnswer, 'completed', undefined),
      };
    }
    if (answer.state === 'refused') {
      const code = typeof answer.refusalCode === 'string' ? answer.refusalCode : 'PAYMENT_DECLINED';
      const bankAnswer = await verifyBankAnswer(fsp, bank, order, answer.bankAnswer, 'refused', code);
      // A signed refusal is the bank's final word, whatever the code's category.
      return { kind: 'refused', code, bankAnswer };
    }
  } catch (error) {
    return { kind: 'pending', code: isMpayError(error) ? error.code : 'BANK_ANSWER_INVALID' };
  }
  return { kind: 'pending', code: 'INTERBANK_PENDING' };
}
