import { attachCanonicalPayload } from '@mpay/envelope';
import {
  type ImsMessage,
  MpayError,
  parseCompactReceipt,
  receiptContentOf,
  receiptKnownToPayer,
  receiptSignatureKnown,
  signedPayloadOf,
} from '@mpay/protocol';

/** A receipt/v2 is about 600 characters: four times that is refused unread. */
const compactReceiptLengthMax = 4_096;

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
  const content = receiptContentOf(receiptKnownToPayer(message), sent.receipt);
  return attachCanonicalPayload(
    sent.sign,
    signedPayloadOf(content, receiptSignatureKnown(message, fspId), sent.claims),
  );
}
