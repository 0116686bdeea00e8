import { attachCanonicalPayload, decodeUnverified } from '@mpay/envelope';
import {
  compactReceiptLengthMax,
  detachPayload,
  type ImsMessage,
  parseCompactReceipt,
  receiptKnownToPayer,
  receiptSentPart,
  receiptSignedPayload,
} from '@mpay/protocol';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * What the FSP encrypts to the customer's device in the confirmation's answer
 * (iMS step 10): `receipt/v2` (@mpay/protocol ims/receipt.ts: the receipt's
 * JWS detached, its claims and the members the payer cannot derive from
 * `message`, about half the bytes) for a phone that holds its key, when the
 * phone's rebuild from what it is sent is the signed receipt byte for byte;
 * else the whole JWS (`receipt/v1`: what custody reads). The payload is read
 * unverified: the FSP signed it here, and the comparison with the rebuilt JWS
 * is the only decision taken on it.
 */
export function deviceReceiptContent(
  receipt: string,
  message: ImsMessage,
  options: { readonly fspId: string; readonly toCustody: boolean },
): string {
  if (options.toCustody) return receipt;
  const payload = decodeUnverified(receipt)?.payload;
  if (!isRecord(payload) || !isRecord(payload.receipt)) return receipt;
  try {
    const known = receiptKnownToPayer(message);
    const text = JSON.stringify({
      sign: detachPayload(receipt),
      claims: { iat: payload.iat, exp: payload.exp, nonce: payload.nonce },
      receipt: receiptSentPart(payload.receipt, known),
    });
    // Exactly what the phone does with it (packages/sdk wallet/receipt.ts receiptJwsOf).
    if (text.length > compactReceiptLengthMax) return receipt;
    const sent = parseCompactReceipt(JSON.parse(text));
    const rebuilt = attachCanonicalPayload(sent.sign, receiptSignedPayload(message, options.fspId, sent));
    return rebuilt === receipt ? text : receipt;
  } catch {
    return receipt;
  }
}
