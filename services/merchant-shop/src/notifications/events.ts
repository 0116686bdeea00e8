import {
  type CurrencyCode,
  MpayError,
  parseCurrencyCode,
  parseMinorUnits,
  partyIdLengthMax,
} from '@mpay/protocol';

/**
 * The fields the shop reads from the FSP's verified events. The FSP signed
 * them, so they are authentic, but they are still checked field by field
 * (type, pattern, length) before use. Fields the shop does not read are left
 * alone rather than refused: the signed webhook is stored verbatim, and a
 * gateway that adds a field must not make every merchant refuse (and the FSP
 * redeliver) its notifications forever.
 */

/** iMS step 9: what a `payment.updated` says. */
export interface PaymentUpdate {
  /** The FSP's payment id: the iMS transaction id the merchant signed. */
  readonly id: string;
  readonly status: string;
  readonly amount: { readonly currency: CurrencyCode; readonly minor: bigint };
  readonly payer: string;
  readonly failureCode: string | undefined;
}

export interface RefundUpdate {
  readonly refundId: string | undefined;
  /** The refunded payment, when the event names it. */
  readonly paymentId: string | undefined;
  readonly status: string;
}

const identifierPattern = /^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$/;
const statusPattern = /^[a-z][a-z_]{0,31}$/;
const codePattern = /^[A-Z][A-Z0-9_]{0,63}$/;

function read(
  object: Readonly<Record<string, unknown>>,
  name: string,
  pattern: RegExp,
  path: string,
): string {
  const value = object[name];
  if (typeof value !== 'string' || !pattern.test(value))
    throw new MpayError('MESSAGE_INVALID', `${path}.${name}`);
  return value;
}

function readOptional(
  object: Readonly<Record<string, unknown>>,
  name: string,
  pattern: RegExp,
  path: string,
): string | undefined {
  return object[name] === undefined ? undefined : read(object, name, pattern, path);
}

export function readPaymentUpdate(payment: Readonly<Record<string, unknown>>): PaymentUpdate {
  const amount = payment.amount;
  if (typeof amount !== 'object' || amount === null || Array.isArray(amount))
    throw new MpayError('MESSAGE_INVALID', 'payment.amount');
  const { currency, minor } = amount as { currency?: unknown; minor?: unknown };
  const payer = payment.payer;
  if (typeof payer !== 'string' || payer.length === 0 || payer.length > partyIdLengthMax)
    throw new MpayError('MESSAGE_INVALID', 'payment.payer');
  return Object.freeze({
    id: read(payment, 'id', identifierPattern, 'payment'),
    status: read(payment, 'status', statusPattern, 'payment'),
    amount: Object.freeze({
      currency: parseCurrencyCode(currency, 'payment.amount.currency'),
      minor: parseMinorUnits(minor as string, 'payment.amount.minor'),
    }),
    payer,
    failureCode: readOptional(payment, 'failureCode', codePattern, 'payment'),
  });
}

export function readRefundUpdate(refund: Readonly<Record<string, unknown>>): RefundUpdate {
  return Object.freeze({
    refundId:
      readOptional(refund, 'id', identifierPattern, 'refund') ??
      readOptional(refund, 'refundId', identifierPattern, 'refund'),
    paymentId: readOptional(refund, 'paymentId', identifierPattern, 'refund'),
    status: read(refund, 'status', statusPattern, 'refund'),
  });
}

/** What a trade claim is filed under: its own id, else the payment it is about. */
export function claimSubjectOf(claim: Readonly<Record<string, unknown>>): string | undefined {
  for (const name of ['id', 'claimId', 'paymentId', 'transactionId']) {
    const value = claim[name];
    if (typeof value === 'string' && identifierPattern.test(value)) return value;
  }
  return undefined;
}

export function claimStatusOf(claim: Readonly<Record<string, unknown>>): string | null {
  return typeof claim.status === 'string' && statusPattern.test(claim.status) ? claim.status : null;
}
