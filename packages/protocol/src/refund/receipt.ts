/**
 * The customer's refund receipt as the FSP signs it (the `refundReceipt`
 * member of its statement, audience the customer, transaction the payment):
 * money given back, for one payment, to this customer. Only the members every
 * reader checks are named here; the rest of the signed payload (the
 * signatures it rests on, the time) is read from the payload itself.
 */
export interface RefundReceiptContent {
  readonly refundId: string;
  readonly paymentId: string;
  /** The merchant that paid back. */
  readonly payer: string;
  /** The customer paid back. */
  readonly payee: string;
  readonly status: 'completed';
  readonly amount: { readonly currency: string; readonly value: string };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The refund receipt of an FSP statement whose signature and claims the
 * caller verified: a `refundReceipt` (not a payment's receipt or outcome),
 * completed, of `expected.paymentId`, paid to `expected.payee`. Undefined for
 * anything else: each reader refuses with its own stable code (the phone
 * CRYPTO_VERIFICATION_FAILED, custody CUSTODY_SOURCE_INVALID).
 */
export function refundReceiptContentOf(
  payload: Readonly<Record<string, unknown>>,
  expected: { readonly paymentId: string; readonly payee: string },
): RefundReceiptContent | undefined {
  const receipt = payload.refundReceipt;
  if (!isRecord(receipt)) return undefined;
  const { amount } = receipt;
  if (
    receipt.paymentId !== expected.paymentId ||
    receipt.payee !== expected.payee ||
    receipt.status !== 'completed' ||
    typeof receipt.refundId !== 'string' ||
    typeof receipt.payer !== 'string' ||
    !isRecord(amount) ||
    typeof amount.currency !== 'string' ||
    typeof amount.value !== 'string'
  ) {
    return undefined;
  }
  return {
    refundId: receipt.refundId,
    paymentId: expected.paymentId,
    payer: receipt.payer,
    payee: expected.payee,
    status: 'completed',
    amount: { currency: amount.currency, value: amount.value },
  };
}
