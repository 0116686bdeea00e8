/**
 * iMS step 10's receipt as the confirmation's answer carries it to a phone
 * that holds its key, wire format `receipt/v2` (inside the FSP's encryption
 * to the device key): the FSP's JWS detached (`<protected header>..<signature>`),
 * its three claims the phone cannot name, and only the receipt's members the
 * payer does not hold (the bank's transfer and signed answer, the customer's
 * own signature value, the completion time). The payer names the rest from
 * the message it confirmed (`receiptKnownToPayer`), rebuilds the whole JWS
 * byte for byte (RFC 8785) and keeps and verifies it as if it came whole.
 *
 * The FSP sends this form only when its own rebuild equals the receipt it
 * signed; else the whole JWS (`receipt/v1`), which the phone still reads.
 * Pure: no I/O, no crypto. Everything here is read as hostile input.
 */

import { MpayError } from '../errors/index.ts';
import { formatDecimalAmount } from '../money/decimal.ts';
import {
  type ConsentClaimsKnown,
  isDetachedSign,
  readSignatureClaims,
  type SignatureClaims,
  signedPayloadOf,
} from './consent.ts';
import { readObject } from './json-object.ts';
import type { ImsMessage } from './message.ts';

/** A receipt as `receipt/v2` carries it. */
export interface CompactReceipt {
  readonly sign: string;
  readonly claims: SignatureClaims;
  readonly receipt: Readonly<Record<string, unknown>>;
}

/** The longest `receipt/v2` text a payer reads (one is about 600 characters): longer is refused unread. */
export const compactReceiptLengthMax = 4_096;

/** The members of a `receipt/v2` answer's `receipt` (what the payer cannot derive): at most these. */
const receiptSentMembers = ['bankTransferId', 'customerSignature', 'bankAnswer', 'completedAt'] as const;

/**
 * The receipt's members its payer derives from the message it confirmed,
 * exactly as the FSP signs them (services/gateway payments/effects.ts).
 */
export function receiptKnownToPayer(message: ImsMessage): Record<string, unknown> {
  const { protections, data } = message;
  // The receipt goes into the public log: at a sealing level no account number travels in clear.
  const sealing = protections?.includes('private_data_sealed') === true;
  return {
    paymentId: message.transactionId,
    status: 'completed',
    payer: message.address.from.id,
    payee: message.address.to.id,
    ...(sealing || data.accountPayable === undefined ? {} : { accountPayable: data.accountPayable }),
    amount: { currency: data.amount.currency, value: formatDecimalAmount(data.amount) },
    security: { level: message.type, protections: [...(protections ?? [])] },
  };
}

/** What a verifier of the receipt names itself: the FSP signed it for the payer, for this payment. */
export function receiptSignatureKnown(message: ImsMessage, fspId: string): ConsentClaimsKnown {
  return { iss: fspId, aud: message.address.from.id, txn: message.transactionId };
}

/** The receipt's members a `receipt/v2` answer carries: those of `receipt` the payer does not derive. */
export function receiptSentPart(
  receipt: Readonly<Record<string, unknown>>,
  known: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  return Object.fromEntries(Object.entries(receipt).filter(([name]) => !Object.hasOwn(known, name)));
}

/**
 * The payload a payer puts back into a `receipt/v2`'s detached signature:
 * what it derives from the message it confirmed, what was sent, and the
 * claims (its own and the sent ones). Serialise with RFC 8785 (the
 * envelope's `attachCanonicalPayload`). MESSAGE_INVALID for a sent member the
 * payer derives.
 */
export function receiptSignedPayload(
  message: ImsMessage,
  fspId: string,
  sent: CompactReceipt,
): Record<string, unknown> {
  const content = receiptContentOf(receiptKnownToPayer(message), sent.receipt);
  return signedPayloadOf(content, receiptSignatureKnown(message, fspId), sent.claims);
}

/** Reads `{sign, claims, receipt}` as sent: MESSAGE_INVALID (with the member) for anything else. */
export function parseCompactReceipt(value: unknown): CompactReceipt {
  const object = readObject(value, 'receipt', ['sign', 'claims', 'receipt']);
  const { sign } = object;
  if (typeof sign !== 'string' || !isDetachedSign(sign))
    throw new MpayError('MESSAGE_INVALID', 'receipt.sign');
  const receipt = readObject(object.receipt, 'receipt.receipt', [], receiptSentMembers);
  for (const [name, member] of Object.entries(receipt))
    if (typeof member !== 'string' || member.length > 1_024)
      throw new MpayError('MESSAGE_INVALID', `receipt.receipt.${name}`);
  return Object.freeze({
    sign,
    claims: readSignatureClaims(object.claims, 'receipt.claims'),
    receipt: Object.freeze({ ...receipt }),
  });
}

/**
 * The receipt's signed content rebuilt by its payer: what it derives and what
 * was sent. MESSAGE_INVALID for a sent member the payer derives (which of the
 * two was signed is never guessed).
 */
export function receiptContentOf(
  known: Readonly<Record<string, unknown>>,
  sent: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  for (const name of Object.keys(sent))
    if (Object.hasOwn(known, name)) throw new MpayError('MESSAGE_INVALID', `receipt.receipt.${name}`);
  return { receipt: { ...known, ...sent } };
}
