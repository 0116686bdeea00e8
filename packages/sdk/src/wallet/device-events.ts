import { type ErrorCode, isErrorCode, MpayError } from '@mpay/protocol';
import type { Receipt } from '../fsp.ts';
import type { PaymentRequestView } from '../payment-request/verify.ts';
import type { RefundReceipt } from './refund.ts';

/**
 * What the gateway pushes to a device (GET /devices/events), by the
 * server-sent event's name: a payment request (iMS step 2), the receipt of a
 * payment (step 10), the signed outcome of one that ended otherwise, and a
 * refund's receipt. Each is encrypted to the device and signed by the FSP.
 */
export const deviceEventKinds = Object.freeze([
  'payment-request',
  'receipt',
  'payment-status',
  'refund-receipt',
] as const);
export type DeviceEventKind = (typeof deviceEventKinds)[number];

/** How a payment ended, as the FSP signed it for the customer. */
export type PaymentEnd = 'completed' | 'declined' | 'cancelled' | 'expired' | 'failed';
const paymentEnds: readonly string[] = ['completed', 'declined', 'cancelled', 'expired', 'failed'];

/** A payment's end, verified: the FSP's receipt (completed) or its signed outcome. */
export interface PaymentClosed {
  readonly paymentId: string;
  readonly status: PaymentEnd;
  /** The stable code of why it failed, when the FSP's outcome names one. */
  readonly failureCode?: ErrorCode;
  /** The FSP's signed statement (its `receipt` or `paymentOutcome`), as verified. */
  readonly statement: Receipt;
}

/** A device event, opened and verified (Wallet.events). */
export type DeviceEventView =
  | { readonly kind: 'payment-request'; readonly view: PaymentRequestView }
  | ({ readonly kind: 'payment-closed' } & PaymentClosed)
  | { readonly kind: 'refund-receipt'; readonly receipt: RefundReceipt };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads a verified FSP statement for `paymentId` as a payment's end: a
 * `receipt` (completed) or a `paymentOutcome` with a final status, both
 * naming this payment. Anything else (a refund receipt, a status that is not
 * an end, another payment) is CRYPTO_VERIFICATION_FAILED: the signature held
 * but the statement is not what the event claims.
 */
export function paymentClosedOf(statement: Receipt, paymentId: string): PaymentClosed {
  const { receipt, paymentOutcome } = statement.payload;
  const body = isRecord(receipt) ? receipt : isRecord(paymentOutcome) ? paymentOutcome : undefined;
  const status = body?.status;
  if (
    body === undefined ||
    body.paymentId !== paymentId ||
    typeof status !== 'string' ||
    !paymentEnds.includes(status) ||
    (isRecord(receipt) && status !== 'completed')
  ) {
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  }
  const code = body.failureCode;
  return {
    paymentId,
    status: status as PaymentEnd,
    ...(isErrorCode(code) ? { failureCode: code } : {}),
    statement,
  };
}
