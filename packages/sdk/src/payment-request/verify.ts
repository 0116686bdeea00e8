import {
  attachCanonicalPayload,
  type KeyCertificate,
  verifyKeyCertificate,
  verifyPayload,
} from '@mpay/envelope';
import {
  formatDecimalAmount,
  fspSignedContent,
  type ImsMessage,
  type ImsOrderLine,
  imsFromJson,
  MpayError,
  merchantSignedContent,
  type PushSignatureClaims,
  parsePushSignatureClaims,
  pushDetachedSigns,
  pushSignedPayloads,
  signedContentMatches,
  withChainSigns,
} from '@mpay/protocol';
import { type FspTrust, fspKeyResolver } from '../fsp.ts';

/** What the customer is shown before confirming (iMS: "presents merchant and amount"). */
export interface PaymentRequestView {
  paymentId: string;
  /** The payee, as `merchantShown` reads it from the merchant's key certificate. */
  merchant: MerchantShown;
  amount: { currency: string; value: string; minor: bigint };
  /** In clear, or opened from the sealed private fields by the wallet (`sealed`). */
  description: string | undefined;
  /** What is bought: only ever sealed, so only there once the wallet opened them. */
  orderLines?: readonly ImsOrderLine[];
  /** The private fields came sealed end to end (the FSP could not read them). */
  sealed: boolean;
  /**
   * Sealed, but this device could not open its copy: shown so that it can be
   * declined, never confirmed (PRIVATE_DATA_INVALID), and without breaking
   * the stream of other requests.
   */
  privateDataUnreadable?: true;
  procedure: string;
  securityLevel: string;
  /** What the level requires, as the FSP stated it under its signature (the PIN, a second factor, the bank's approval…). */
  protections: readonly string[];
  message: ImsMessage;
}

/**
 * A merchant as a wallet may show it. `name` is the display name the FSP
 * certified in the merchant's key certificate, never text from outside a
 * signature. A certificate that names no one (issued before the FSP certified
 * names) gives the merchant's id as `name` and `nameCertified: false`: show it
 * as an id, not as a name the FSP vouches for. `nameCertified` is absent when
 * the name is certified.
 */
export interface MerchantShown {
  id: string;
  name: string;
  nameCertified?: false;
}

export interface VerifyPaymentRequestContext {
  /** The party this device acts for: the message must be addressed from it. */
  readonly partyId: string;
  readonly fsp: FspTrust;
  /** Longest accepted lifetime of the FSP's and the merchant's signatures; default 600. */
  readonly messageAgeSecondsMax?: number;
}

export const paymentRequestAgeSecondsMaxDefault = 600;
const clockSkewSeconds = 60;

function verificationFailed(): never {
  throw new MpayError('CRYPTO_VERIFICATION_FAILED');
}

/**
 * The FSP's certificate of a merchant's keys (iMS §4: "the FSP stores the
 * certificates of the merchants"), as the FSP gave it with a payment request
 * or from GET /parties/:id: signed by one of the FSP's keys, within its
 * validity, and naming `merchantId`. CRYPTO_VERIFICATION_FAILED for another
 * subject; the certificate's own codes otherwise.
 */
export async function verifyMerchantCertificate(
  certificate: string,
  merchantId: string,
  fsp: FspTrust,
): Promise<KeyCertificate> {
  const verified = await verifyKeyCertificate(certificate, fspKeyResolver(fsp), { isRevoked: () => false });
  if (verified.subject !== merchantId) verificationFailed();
  return verified;
}

/** The merchant a verified certificate names, as a wallet shows it (`MerchantShown`). */
export function merchantShown(certificate: KeyCertificate): MerchantShown {
  return certificate.name === undefined
    ? { id: certificate.subject, name: certificate.subject, nameCertified: false }
    : { id: certificate.subject, name: certificate.name };
}

/**
 * A `push/v2` message (@mpay/protocol ims/push.ts) with its two detached
 * signatures made whole: each payload rebuilt from the message and the claims
 * this phone names itself (the payee signed for the FSP, the FSP for this
 * party). Verified afterwards as a message that came whole: a content or claim
 * other than the signed one fails the signature.
 */
function withWholeSigns(message: ImsMessage, claims: PushSignatureClaims, fspId: string): ImsMessage {
  const detached = pushDetachedSigns(message);
  const payloads = pushSignedPayloads(message, fspId, claims);
  return withChainSigns(message, {
    merchant: attachCanonicalPayload(detached.merchant, payloads.merchant),
    fsp: attachCanonicalPayload(detached.fsp, payloads.fsp),
  });
}

/**
 * iMS step 3 (§4 and §5), the same for a wallet that holds its key and for a
 * custody customer's phone: the request `{ ims, merchantCertificate }` as the
 * FSP sent it (or `push/v2`: `{ ims, signatureClaims, merchantCertificate }`,
 * both signatures detached in `ims` and made whole here) is shown only if it is addressed to this party, the FSP
 * countersigned exactly its content, the merchant's certificate is the FSP's
 * for the payee, and the merchant signed exactly its content. Any failure is
 * CRYPTO_VERIFICATION_FAILED (or the message format's own code), without
 * saying which check failed. The merchant's name shown is the certificate's
 * (`merchantShown`): a `merchantName` member in the push is signed by no one
 * and ignored.
 */
export async function verifyPaymentRequest(
  push: unknown,
  context: VerifyPaymentRequestContext,
): Promise<PaymentRequestView> {
  const { ims, merchantCertificate, signatureClaims } = (push ?? {}) as Record<string, unknown>;
  if (typeof merchantCertificate !== 'string') verificationFailed();
  const message =
    signatureClaims === undefined
      ? imsFromJson(ims)
      : withWholeSigns(imsFromJson(ims), parsePushSignatureClaims(signatureClaims), context.fsp.id);
  if (message.address.from.id !== context.partyId) verificationFailed();
  const fspSign = message.address.fspSign;
  const merchantSign = message.address.to.sign;
  if (fspSign === undefined || merchantSign === undefined) verificationFailed();
  const options = {
    clockSkewSeconds,
    maxAgeSeconds: context.messageAgeSecondsMax ?? paymentRequestAgeSecondsMaxDefault,
  };
  const fspKeys = fspKeyResolver(context.fsp);
  const fsp = await verifyPayload(
    fspSign,
    fspKeys,
    { issuer: context.fsp.id, audience: context.partyId, transactionId: message.transactionId },
    options,
  );
  if (!signedContentMatches(fsp.payload, fspSignedContent(message))) verificationFailed();
  const certificate = await verifyMerchantCertificate(
    merchantCertificate,
    message.address.to.id,
    context.fsp,
  );
  const merchant = await verifyPayload(
    merchantSign,
    async () => certificate.signingJwk,
    { issuer: message.address.to.id, audience: context.fsp.id, transactionId: message.transactionId },
    options,
  );
  if (!signedContentMatches(merchant.payload, merchantSignedContent(message))) verificationFailed();
  return {
    paymentId: message.transactionId,
    merchant: merchantShown(certificate),
    amount: {
      currency: message.data.amount.currency,
      value: formatDecimalAmount(message.data.amount),
      minor: message.data.amount.minor,
    },
    description: message.data.description,
    sealed: message.data.sealed !== undefined,
    procedure: message.procedure,
    securityLevel: message.type,
    protections: message.protections ?? [],
    message,
  };
}
