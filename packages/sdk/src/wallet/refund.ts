import { type DecryptionKey, decryptWith } from '@mpay/envelope';
import { MpayError } from '@mpay/protocol';
import { type FspTrust, verifyFspStatement } from '../fsp.ts';

/** The FSP's signed refund receipt, verified: money given back to this customer for one payment. */
export interface RefundReceipt {
  readonly jws: string;
  readonly refundId: string;
  readonly paymentId: string;
  /** The merchant that paid back. */
  readonly payer: string;
  readonly amount: { readonly currency: string; readonly value: string };
  /** The whole signed payload (`refundReceipt` and the envelope's claims). */
  readonly payload: Readonly<Record<string, unknown>>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Opens a refund receipt pushed to the device (event 'refund-receipt') or
 * read from the FSP: decrypted with the device's key, then verified as the
 * FSP's statement for this customer and this payment; it must be a refund
 * receipt (`refundReceipt`, not a payment receipt or outcome) of this
 * payment, completed, paid to this customer. Anything else is
 * CRYPTO_VERIFICATION_FAILED.
 */
export async function openRefundReceipt(
  jwe: string,
  key: DecryptionKey,
  fsp: FspTrust,
  partyId: string,
  paymentId: string,
): Promise<RefundReceipt> {
  const jws = new TextDecoder().decode(await decryptWith(jwe, [key]));
  const { payload } = await verifyFspStatement(jws, fsp, partyId, paymentId);
  const receipt = payload.refundReceipt;
  const amount = isRecord(receipt) ? receipt.amount : undefined;
  if (
    !isRecord(receipt) ||
    receipt.paymentId !== paymentId ||
    receipt.payee !== partyId ||
    receipt.status !== 'completed' ||
    typeof receipt.refundId !== 'string' ||
    typeof receipt.payer !== 'string' ||
    !isRecord(amount) ||
    typeof amount.currency !== 'string' ||
    typeof amount.value !== 'string'
  ) {
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  }
  return {
    jws,
    refundId: receipt.refundId,
    paymentId,
    payer: receipt.payer,
    amount: { currency: amount.currency, value: amount.value },
    payload,
  };
}
