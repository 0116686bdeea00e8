import { attachCanonicalPayload } from '@mpay/envelope';
import {
  compactReceiptLengthMax,
  type ImsMessage,
  MpayError,
  parseCompactReceipt,
  receiptSignedPayload,
} from '@mpay/protocol';

/**
 * The FSP's receipt JWS from a confirmation's answer, decrypted: whole
 * (`receipt/v1`, a compact JWS), or `receipt/v2` (@mpay/protocol
 * ims/receipt.ts, a JSON object) made whole from what was sent and what this
 * phone derives from the message it confirmed. Unverified: the caller
 * verifies the result as the FSP's, so a member other than the signed one
 * fails the signature. MESSAGE_INVALID for a compact receipt without the
 * message or not of its form.
 */
export function receiptJwsOf(plaintext: string, message: ImsMessage | undefined, fspId: string): string {
  if (!plaintext.startsWith('{')) return plaintext;
  if (message === undefined || plaintext.length > compactReceiptLengthMax)
    throw new MpayError('MESSAGE_INVALID', 'receipt');
  let value: unknown;
  try {
    value = JSON.parse(plaintext);
  } catch {
    throw new MpayError('MESSAGE_INVALID', 'receipt');
  }
  const sent = parseCompactReceipt(value);
  return attachCanonicalPayload(sent.sign, receiptSignedPayload(message, fspId, sent));
}
