import { isMpayError, MpayError, parseDecimalAmount } from '@mpay/protocol';
import type { PaymentRequestAccepted, PaymentStatus } from './merchant.ts';

/**
 * The FSP's answers to a merchant, checked before the merchant acts on them:
 * a merchant does not trust the gateway's answers more than the gateway
 * trusts the merchant's requests. An answer of another shape is the FSP being
 * unavailable (SERVICE_UNAVAILABLE, retryable with the same idempotency key),
 * never a value of the wrong type stored by the merchant's own system.
 */

/** A string of at most `lengthMax` characters, not empty. */
function isText(value: unknown, lengthMax: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= lengthMax;
}

const idLengthMax = 256;
const nameLengthMax = 64;
/** Protections a level names: a handful in the security policy. */
const protectionsMax = 32;

function malformed(what: string): MpayError {
  return new MpayError('SERVICE_UNAVAILABLE', `${what} answer`);
}

/** POST /payments's answer (iMS step 1 accepted). */
export function paymentRequestAcceptedOf(body: Record<string, unknown>): PaymentRequestAccepted {
  const { paymentId, status, securityLevel, protections, expiresAt, delivered } = body;
  if (
    !isText(paymentId, idLengthMax) ||
    !isText(status, nameLengthMax) ||
    !isText(securityLevel, nameLengthMax) ||
    !Array.isArray(protections) ||
    protections.length > protectionsMax ||
    !protections.every((protection) => isText(protection, nameLengthMax)) ||
    !isDate(expiresAt) ||
    typeof delivered !== 'boolean'
  )
    throw malformed('payment request');
  return { paymentId, status, securityLevel, protections, expiresAt, delivered };
}

/** A date-time as the FSP writes it: ISO 8601 (RFC 3339) with its offset, that Date can read. */
const dateTimePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function isDate(value: unknown): value is string {
  return typeof value === 'string' && dateTimePattern.test(value) && !Number.isNaN(Date.parse(value));
}

/** Steps one payment can take: its state machine has fewer than 20 states. */
const historyMax = 64;

/** The amount's canonical decimal text in a currency mpay knows, as the gateway writes it. */
function isAmount(currency: unknown, value: unknown): boolean {
  if (typeof currency !== 'string' || typeof value !== 'string' || value.length > 40) return false;
  try {
    parseDecimalAmount(value, currency);
    return true;
  } catch (error) {
    if (isMpayError(error)) return false;
    throw error;
  }
}

/** GET /payments/:id's answer: the payment asked for (`paymentId`), no other. */
export function paymentStatusOf(body: Record<string, unknown>, paymentId: string): PaymentStatus {
  const { id, status, procedure, securityLevel, amount, payer, payee, failureCode, history } = body;
  const { expiresAt, createdAt, updatedAt } = body;
  const money = typeof amount === 'object' && amount !== null ? (amount as Record<string, unknown>) : {};
  if (
    id !== paymentId ||
    !isText(id, idLengthMax) ||
    !isText(status, nameLengthMax) ||
    !isText(procedure, nameLengthMax) ||
    !isText(securityLevel, nameLengthMax) ||
    !isAmount(money.currency, money.value) ||
    !isText(payer, idLengthMax) ||
    !isText(payee, idLengthMax) ||
    !(failureCode === null || isText(failureCode, nameLengthMax)) ||
    !isDate(expiresAt) ||
    !isDate(createdAt) ||
    !isDate(updatedAt) ||
    !Array.isArray(history) ||
    history.length > historyMax
  )
    throw malformed('payment status');
  const steps = history.map((entry: unknown) => {
    const record = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {};
    const { status: stepStatus, step, at } = record;
    if (!isText(stepStatus, nameLengthMax) || !(step === null || isText(step, nameLengthMax)) || !isDate(at))
      throw malformed('payment status');
    return { status: stepStatus, step, at };
  });
  return {
    id,
    status,
    procedure,
    securityLevel,
    amount: { currency: money.currency as string, value: money.value as string },
    payer,
    payee,
    failureCode,
    expiresAt,
    createdAt,
    updatedAt,
    history: steps,
  };
}

/** POST /payments/:id/cancellation's answer. */
export function cancellationOf(body: Record<string, unknown>): { paymentId: string; status: string } {
  const { paymentId, status } = body;
  if (!isText(paymentId, idLengthMax) || !isText(status, nameLengthMax)) throw malformed('cancellation');
  return { paymentId, status };
}

/** GET /aliases/:msisdn's answer: the party the phone number names. */
export function aliasPartyOf(body: Record<string, unknown>): string {
  if (!isText(body.partyId, idLengthMax)) throw malformed('alias');
  return body.partyId;
}
