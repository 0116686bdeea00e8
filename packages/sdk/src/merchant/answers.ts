import { MpayError } from '@mpay/protocol';
import type { PaymentRequestAccepted } from './merchant.ts';

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
    typeof expiresAt !== 'string' ||
    expiresAt.length > 40 ||
    Number.isNaN(Date.parse(expiresAt)) ||
    typeof delivered !== 'boolean'
  )
    throw malformed('payment request');
  return { paymentId, status, securityLevel, protections, expiresAt, delivered };
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
