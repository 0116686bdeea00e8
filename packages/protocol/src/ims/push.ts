/**
 * iMS step 2's message to the customer's phone as it travels (inside the
 * FSP's encryption to the device key), wire format `push/v2`: the message
 * with the merchant's and the FSP's signatures detached in place
 * (`<protected header>..<signature>`, as the device sends its consent:
 * ./consent.ts), and beside it, in `signatureClaims`, the three claims of
 * each that the phone cannot name (issued, expires, nonce). The phone names
 * the rest itself (issuer, audience, transaction: the message's parties and
 * its FSP), rebuilds both payloads byte for byte from the message (RFC 8785),
 * and verifies the whole JWSs as before. Each payload otherwise repeats the
 * message inside the signature, in base64 inside the base64 of the
 * encryption: the push shrinks by about two fifths.
 *
 * The FSP sends this form only when it rebuilt both JWSs exactly itself; else
 * the whole JWSs travel in the message (`push/v1`, no `signatureClaims`), which
 * the phone still reads. Pure: no I/O, no crypto. Everything here is read as
 * hostile input.
 */

import { MpayError } from '../errors/index.ts';
import {
  type ConsentClaimsKnown,
  isDetachedSign,
  readSignatureClaims,
  type SignatureClaims,
  signedPayloadOf,
} from './consent.ts';
import { readObject } from './json-object.ts';
import type { ImsMessage } from './message.ts';
import { fspSignedContent, merchantSignedContent } from './signed-content.ts';

/** The claims of the merchant's and the FSP's detached signatures in a `push/v2` message. */
export interface PushSignatureClaims {
  readonly merchant: SignatureClaims;
  readonly fsp: SignatureClaims;
}

/** Reads `{merchant: {iat, exp, nonce}, fsp: {…}}` as sent: MESSAGE_INVALID (with the member) for anything else. */
export function parsePushSignatureClaims(value: unknown): PushSignatureClaims {
  const object = readObject(value, 'signatureClaims', ['merchant', 'fsp']);
  return Object.freeze({
    merchant: readSignatureClaims(object.merchant, 'signatureClaims.merchant'),
    fsp: readSignatureClaims(object.fsp, 'signatureClaims.fsp'),
  });
}

/** What a verifier of the merchant's signature names itself: the payee signed it for the FSP, for this payment. */
export function merchantSignatureKnown(message: ImsMessage, fspId: string): ConsentClaimsKnown {
  return { iss: message.address.to.id, aud: fspId, txn: message.transactionId };
}

/** What a verifier of the FSP's countersignature names itself: the FSP signed it for the payer, for this payment. */
export function fspSignatureKnown(message: ImsMessage, fspId: string): ConsentClaimsKnown {
  return { iss: fspId, aud: message.address.from.id, txn: message.transactionId };
}

/**
 * The merchant's and the FSP's signatures of a `push/v2` message, detached:
 * MESSAGE_INVALID when either is missing or carries its payload (a message
 * that came whole has no `signatureClaims`; which payload counts is never
 * guessed), or when the customer's signature is there already.
 */
export function pushDetachedSigns(message: ImsMessage): { readonly merchant: string; readonly fsp: string } {
  const { to, fspSign, from } = message.address;
  if (to.sign === undefined || !isDetachedSign(to.sign))
    throw new MpayError('MESSAGE_INVALID', 'ims.address.to.sign');
  if (fspSign === undefined || !isDetachedSign(fspSign))
    throw new MpayError('MESSAGE_INVALID', 'ims.address.fspSign');
  if (from.sign !== undefined) throw new MpayError('MESSAGE_INVALID', 'ims.address.from.sign');
  return { merchant: to.sign, fsp: fspSign };
}

/**
 * The payloads a phone puts back into a `push/v2` message's two detached
 * signatures: each rebuilt from the message, the claims it names itself and
 * the claims sent. The FSP's content names the merchant's signature by its
 * value, the same detached or whole. Serialise with RFC 8785 (the envelope's
 * `attachCanonicalPayload`); a content or claim not the signed one fails the
 * signature.
 */
export function pushSignedPayloads(
  message: ImsMessage,
  fspId: string,
  claims: PushSignatureClaims,
): { readonly merchant: Record<string, unknown>; readonly fsp: Record<string, unknown> } {
  return {
    merchant: signedPayloadOf(
      merchantSignedContent(message),
      merchantSignatureKnown(message, fspId),
      claims.merchant,
    ),
    fsp: signedPayloadOf(fspSignedContent(message), fspSignatureKnown(message, fspId), claims.fsp),
  };
}

/** The message with the merchant's and the FSP's signatures replaced (detached or put back). */
export function withChainSigns(
  message: ImsMessage,
  signs: { readonly merchant: string; readonly fsp: string },
): ImsMessage {
  return {
    ...message,
    address: { ...message.address, to: { ...message.address.to, sign: signs.merchant }, fspSign: signs.fsp },
  };
}

/**
 * The merchant's certificate named by reference (`merchantCertificateSha256`,
 * the base64url SHA-256 of its compact text) instead of carried: in a
 * `push/v2` to a device that holds that certificate already, as it said when
 * it opened its stream or by confirming a payment whose push carried it.
 */
export const certificateReferencePattern = /^[A-Za-z0-9_-]{43}$/;

/** At most this many certificate references in a device's stream request: what a wallet keeps. */
export const deviceCertificatesMax = 16;

/**
 * The request header in which a wallet lists the certificates it holds when
 * it opens its stream (`GET /devices/events`), comma-separated; in a header
 * rather than the URL, which request logs and proxies write down (the list
 * names the merchants the customer paid lately). Older wallets sent it as
 * `?certificates=`.
 */
export const deviceCertificatesHeader = 'mpay-certificates';

/** A certificate reference as sent: MESSAGE_INVALID (with the member) for anything else. */
export function parseCertificateReference(value: unknown, member = 'merchantCertificateSha256'): string {
  if (typeof value !== 'string' || !certificateReferencePattern.test(value))
    throw new MpayError('MESSAGE_INVALID', member);
  return value;
}

/**
 * The references a wallet lists when it opens its stream, comma-separated:
 * REQUEST_INVALID for more than `deviceCertificatesMax`, a repeated one, or
 * anything that is not a reference. The empty text is none.
 */
export function parseCertificateReferences(value: string): readonly string[] {
  if (value === '') return [];
  const references = value.split(',');
  if (
    references.length > deviceCertificatesMax ||
    new Set(references).size !== references.length ||
    !references.every((reference) => certificateReferencePattern.test(reference))
  )
    throw new MpayError('REQUEST_INVALID', 'certificates');
  return references;
}
