import {
  decodeBase64url,
  type KeyCertificate,
  type PrivateJwk,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  type SigningKey,
  verifyRawSignature,
} from '@mpay/envelope';
import { errorFromAnswer, requestAnswer, requestJson, signRequest } from '@mpay/http-client';
import {
  type Amount,
  checkTillCodeTime,
  isMpayError,
  MpayError,
  parseTillCode,
  type TillCode,
} from '@mpay/protocol';
import type { FspTrust } from '../fsp.ts';
import {
  merchantShown,
  type PaymentRequestView,
  verifyMerchantCertificate,
} from '../payment-request/verify.ts';

/**
 * What the wallet shows after reading a till's QR code (iMS §2.2, m-trade):
 * the payee as the FSP certified it and the amount the merchant signed.
 */
export interface TillOffer {
  readonly merchantId: string;
  /**
   * The display name the FSP certified in the merchant's key certificate:
   * never the QR code's own text (EMV 59), nor the unsigned `displayName` of
   * GET /parties/:id. A certificate that names no one gives the merchant's id
   * here and `merchantNameCertified: false` (absent when certified), as
   * `PaymentRequestView.merchant` does.
   */
  readonly merchantName: string;
  readonly merchantNameCertified?: false;
  readonly amount: Amount;
  /** The payment's transaction id: the till's payment request carries the same. */
  readonly transactionId: string;
  readonly expiresAt: string;
  /** The code as read, sent to the FSP with the claim (the FSP verifies it again). */
  readonly payload: string;
}

/** The FSP's answer to a claim: the merchant has been notified. */
export interface TillClaimAccepted {
  readonly transactionId: string;
  readonly status: 'claimed';
  readonly claimedAt: string;
}

export interface TillReadContext {
  readonly gatewayUrl: string;
  readonly fsp: FspTrust;
  /** The wallet's clock; default the system clock. */
  readonly now?: () => Date;
  /** Tolerance for the till's clock against the wallet's; default 60 s. */
  readonly clockSkewSeconds?: number;
}

export interface TillClaimContext extends TillReadContext {
  /** The customer this device acts for, and its device signing key (the request is signed as the device). */
  readonly partyId: string;
  readonly key: PrivateJwk | SigningKey;
}

/** GET /parties/:id answers a small JSON object; anything larger is not the FSP's answer. */
const partyAnswerBytesMax = 64 * 1024;

/** Offers this module verified: a claim is only ever sent for one of them. */
const verifiedOffers = new WeakSet<TillOffer>();

function isSigningAlgorithm(alg: string): alg is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly string[]).includes(alg);
}

function signatureInvalid(detail?: string): never {
  throw new MpayError('QR_SIGNATURE_INVALID', detail);
}

/**
 * The FSP's certificate of the merchant's keys and name (the answer's own
 * `displayName` is signed by no one and not read). A merchant the FSP does
 * not know cannot have signed the code: QR_SIGNATURE_INVALID. The FSP not
 * answering, busy or down, stays a retryable code (SERVICE_UNAVAILABLE,
 * REQUEST_RATE_LIMITED).
 */
async function fetchMerchantCertificate(context: TillReadContext, merchantId: string): Promise<string> {
  const answer = await requestAnswer(`${context.gatewayUrl}/parties/${encodeURIComponent(merchantId)}`, {
    responseBytesMax: partyAnswerBytesMax,
  });
  // The FSP busy or down is not a forgery: its retryable answer stands (retry later).
  if (answer.status >= 500 || answer.status === 429) throw errorFromAnswer(answer.body, answer.status);
  const body = (answer.body ?? {}) as Record<string, unknown>;
  const { id, kind, certificate } = body;
  if (answer.status !== 200 || id !== merchantId || kind !== 'merchant' || typeof certificate !== 'string')
    signatureInvalid('merchant');
  return certificate;
}

/**
 * The merchant's signature over the code's signed bytes, under the key the
 * FSP certified for it; returns the verified certificate.
 */
async function verifyMerchantSignature(
  context: TillReadContext,
  code: TillCode,
  certificate: string,
): Promise<KeyCertificate> {
  const certified = await verifyMerchantCertificate(certificate, code.merchantId, context.fsp).catch(
    (error: unknown) => {
      if (isMpayError(error) && error.category === 'retryable') throw error;
      return signatureInvalid('certificate');
    },
  );
  const jwk = certified.signingJwk;
  if (jwk.kid !== code.keyId || !isSigningAlgorithm(jwk.alg)) signatureInvalid('key');
  const signature = decodeBase64url(code.signature);
  if (signature === undefined) signatureInvalid();
  const valid = await verifyRawSignature(jwk.alg, jwk, code.signingInput, signature).catch(() => false);
  if (!valid) signatureInvalid();
  return certified;
}

/**
 * Reads a till's QR code, in this order, before anything about the customer
 * is sent: the EMV structure and CRC (QR_INVALID, QR_CRC_INVALID), an mpay
 * till code (QR_UNSUPPORTED), its expiry (QR_EXPIRED), then the merchant's
 * certificate from the FSP (GET /parties/:id, the one request this makes) and
 * the merchant's signature under the certified key (QR_SIGNATURE_INVALID for
 * any failure, without saying which). A code altered after signing — amount,
 * payee, transaction id — fails the signature. The merchant's name shown is
 * the one its certificate names.
 */
export async function readTillQr(payload: string, context: TillReadContext): Promise<TillOffer> {
  const code = parseTillCode(payload);
  const now = context.now ?? (() => new Date());
  const timeOptions =
    context.clockSkewSeconds === undefined ? {} : { clockSkewSeconds: context.clockSkewSeconds };
  checkTillCodeTime(code, now(), timeOptions);
  const certificate = await fetchMerchantCertificate(context, code.merchantId);
  const merchant = merchantShown(await verifyMerchantSignature(context, code, certificate));
  const offer: TillOffer = Object.freeze({
    merchantId: code.merchantId,
    merchantName: merchant.name,
    ...(merchant.nameCertified === false ? { merchantNameCertified: false as const } : {}),
    amount: code.amount,
    transactionId: code.transactionId,
    expiresAt: code.expiresAt.toISOString(),
    payload: code.payload,
  });
  verifiedOffers.add(offer);
  return offer;
}

/**
 * Claims a till offer at the FSP (POST /m-trade/claims), signed as the
 * device: the FSP verifies the code again, records that this customer claimed
 * it (the first claim wins: TRADE_CLAIMED for anyone after) and notifies the
 * merchant, whose till then sends the ordinary payment request. Only an offer
 * `readTillQr` returned is sent.
 */
export async function claimTill(offer: TillOffer, context: TillClaimContext): Promise<TillClaimAccepted> {
  if (!verifiedOffers.has(offer)) signatureInvalid('not an offer read by readTillQr');
  const now = context.now ?? (() => new Date());
  checkTillCodeTime({ expiresAt: new Date(offer.expiresAt) }, now(), {
    ...(context.clockSkewSeconds === undefined ? {} : { clockSkewSeconds: context.clockSkewSeconds }),
  });
  const path = '/m-trade/claims';
  const body = JSON.stringify({ payload: offer.payload });
  const authorization = await signRequest(
    { method: 'POST', path, body },
    { issuer: context.partyId, audience: context.fsp.id, key: context.key },
  );
  const answer = await requestJson<Record<string, unknown>>(`${context.gatewayUrl}${path}`, {
    body,
    contentType: 'application/json',
    headers: { authorization },
    responseBytesMax: 16 * 1024,
  });
  const { transactionId, status, claimedAt } = answer.body ?? {};
  if (transactionId !== offer.transactionId || status !== 'claimed' || typeof claimedAt !== 'string')
    throw new MpayError('MESSAGE_INVALID', 'claim answer');
  return Object.freeze({ transactionId, status, claimedAt });
}

/**
 * Whether a verified payment request is the one the till offered: the same
 * transaction id, payee and amount, as m-trade.
 */
export function requestMatchesOffer(request: PaymentRequestView, offer: TillOffer): boolean {
  return (
    request.paymentId === offer.transactionId &&
    request.merchant.id === offer.merchantId &&
    request.amount.currency === offer.amount.currency &&
    request.amount.minor === offer.amount.minor &&
    request.procedure === 'm-trade'
  );
}

/**
 * Waits in a stream of verified payment requests for the one with the
 * offer's transaction id. A request with that id that does not match the
 * offer (another payee or amount) is refused with TRADE_CLAIM_MISMATCH rather
 * than shown; other requests are skipped.
 */
export async function awaitTillRequest(
  requests: AsyncIterable<PaymentRequestView>,
  offer: TillOffer,
): Promise<PaymentRequestView> {
  for await (const request of requests) {
    if (request.paymentId !== offer.transactionId) continue;
    if (!requestMatchesOffer(request, offer)) throw new MpayError('TRADE_CLAIM_MISMATCH');
    return request;
  }
  throw new MpayError('SERVICE_UNAVAILABLE', 'the stream of payment requests ended');
}
