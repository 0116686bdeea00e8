import { MpayError } from '../errors/index.ts';
import { type Amount, formatDecimalAmount } from '../money/index.ts';
import { isPartyId, parsePartyId } from '../party/index.ts';

/**
 * What a merchant signs to give money back: a content of its own (`kind:
 * 'refund'`, no iMS layout), so that a refund can never stand for a payment
 * message, a decline or another refund, and no other signature can stand for
 * it. It names the refund (its id is the idempotency key everywhere: FSP,
 * both banks, the log), the payment it refunds, who pays (the merchant, payee
 * of the original) and who is paid (the customer, payer of the original), and
 * the amount as canonical decimal text (one text per amount).
 *
 * The merchant signs it with the key the FSP certified (the FSP checks it)
 * and that the merchant's bank bound to the merchant's account (the bank
 * checks it before it debits: the rule everything serves).
 */
export type RefundSignedContent = {
  readonly signer: 'merchant';
  readonly kind: 'refund';
  readonly refundId: string;
  readonly paymentId: string;
  /** The merchant: debited. */
  readonly payer: string;
  /** The customer of the original payment: credited. */
  readonly payee: string;
  readonly amount: { readonly currency: string; readonly value: string };
};

export interface RefundToSign {
  readonly refundId: string;
  readonly paymentId: string;
  readonly merchantId: string;
  readonly customerId: string;
  readonly amount: Amount;
}

/** Lower-case UUIDs, as payment ids are: what a refund id must be. */
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isRefundId(value: unknown): value is string {
  return typeof value === 'string' && uuidPattern.test(value);
}

/**
 * The content the merchant signs for `refund`. Throws REQUEST_INVALID for a
 * malformed id, PARTY_ID_INVALID for a payer that is not a merchant or a
 * payee that is not a person, AMOUNT_INVALID for a bad amount.
 */
export function merchantRefundContent(refund: RefundToSign): RefundSignedContent {
  if (!isRefundId(refund.refundId)) throw new MpayError('REQUEST_INVALID', 'refundId');
  if (!isRefundId(refund.paymentId)) throw new MpayError('REQUEST_INVALID', 'paymentId');
  if (!isPartyId(refund.merchantId) || parsePartyId(refund.merchantId).kind !== 'merchant') {
    throw new MpayError('PARTY_ID_INVALID', 'payer');
  }
  if (!isPartyId(refund.customerId) || parsePartyId(refund.customerId).kind !== 'person') {
    throw new MpayError('PARTY_ID_INVALID', 'payee');
  }
  return {
    signer: 'merchant',
    kind: 'refund',
    refundId: refund.refundId,
    paymentId: refund.paymentId,
    payer: refund.merchantId,
    payee: refund.customerId,
    amount: { currency: refund.amount.currency, value: formatDecimalAmount(refund.amount, 'amount') },
  };
}
