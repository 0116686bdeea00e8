import { type DecryptionKey, decryptWith } from '@mpay/envelope';
import { MpayError, refundReceiptContentOf } from '@mpay/protocol';
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

/**
 * Verifies a refund receipt (a compact JWS, already decrypted or never
 * encrypted) as the FSP's statement for this customer and this payment; it
 * must be a refund receipt (`refundReceipt`, not a payment receipt or
 * outcome) of this payment, completed, paid to this customer. A statement
 * that verifies but is no such receipt is CRYPTO_VERIFICATION_FAILED; the
 * envelope's codes (CLAIMS_INVALID, MESSAGE_EXPIRED …) otherwise. Whoever
 * carried it (custody, the device stream) is not trusted for any of it.
 */
export async function verifyRefundReceipt(
  jws: string,
  fsp: FspTrust,
  partyId: string,
  paymentId: string,
): Promise<RefundReceipt> {
  const { payload } = await verifyFspStatement(jws, fsp, partyId, paymentId);
  const receipt = refundReceiptContentOf(payload, { paymentId, payee: partyId });
  if (receipt === undefined) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  return {
    jws,
    refundId: receipt.refundId,
    paymentId,
    payer: receipt.payer,
    amount: receipt.amount,
    payload,
  };
}

/**
 * Opens a refund receipt pushed to the device (event 'refund-receipt') or
 * read from the FSP: decrypted with the device's key, then verified by
 * `verifyRefundReceipt`.
 */
export async function openRefundReceipt(
  jwe: string,
  key: DecryptionKey,
  fsp: FspTrust,
  partyId: string,
  paymentId: string,
): Promise<RefundReceipt> {
  const jws = new TextDecoder().decode(await decryptWith(jwe, [key]));
  return verifyRefundReceipt(jws, fsp, partyId, paymentId);
}
