import {
  encodeBase64url,
  importPrivateKey,
  jwkThumbprint,
  type PrivateJwk,
  publicPart,
  type SigningAlgorithm,
} from '@mpay/envelope';
import { errorFromAnswer, requestAnswer, signRequest } from '@mpay/http-client';
import {
  type Amount,
  completeTillCode,
  createAmount,
  MpayError,
  parseMinorUnits,
  parsePartyId,
  prepareTillCode,
  tillCodeLifetimeSecondsDefault,
  tillCodeLifetimeSecondsMax,
  tillMerchantCategoryCodeDefault,
} from '@mpay/protocol';
import type { MerchantClientOptions, MerchantEvent } from './merchant.ts';

export interface TillQrInput {
  readonly amount: Amount;
  /** The payment's transaction id; a fresh UUID when absent. The till's payment request uses the same. */
  readonly transactionId?: string;
  /** How long the code is accepted; default 300, at most 900 (tillCodeLifetimeSecondsMax). */
  readonly expiresInSeconds?: number;
  /** EMV 59, 1–25 printable ASCII; default the name part of the merchant id. Wallets show the FSP's name instead. */
  readonly merchantName?: string;
  /** EMV 60, 1–15 printable ASCII; default '-'. */
  readonly city?: string;
  /** EMV 58, ISO 3166-1 alpha-2; default 'MK'. */
  readonly country?: string;
  /** EMV 52; default 5999. */
  readonly merchantCategoryCode?: string;
}

/** A signed till code, ready to be drawn as a QR code. */
export interface TillQr {
  readonly payload: string;
  readonly transactionId: string;
  readonly expiresAt: string;
}

/** Who signs a till code: the merchant and the signing key the FSP certified (the one that signs its iMS requests). */
export interface TillSigner {
  readonly merchantId: string;
  readonly signingKey: PrivateJwk;
}

/** WebCrypto's parameters for the raw signature of each JWS algorithm (ES256: the 64-byte r‖s). */
const signParameters: Readonly<Record<SigningAlgorithm, AlgorithmIdentifier | EcdsaParams>> = Object.freeze({
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  EdDSA: { name: 'Ed25519' },
});

function lifetimeSecondsOf(value: number | undefined): number {
  const seconds = value ?? tillCodeLifetimeSecondsDefault;
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > tillCodeLifetimeSecondsMax)
    throw new MpayError('QR_INVALID', 'expiresInSeconds');
  return seconds;
}

function defaultMerchantName(merchantId: string): string {
  const parsed = parsePartyId(merchantId, 'merchantId');
  return parsed.name.slice(0, 25);
}

/**
 * m-trade at the till (iMS §2.2): an EMV merchant-presented QR code for one
 * payment, signed with the merchant's certified key over the bytes
 * `prepareTillCode` names (everything but the signature and the CRC). `now`
 * is the merchant's clock (whole seconds are kept).
 */
export async function createTillQr(
  signer: TillSigner,
  input: TillQrInput,
  now: Date = new Date(),
): Promise<TillQr> {
  const lifetimeSeconds = lifetimeSecondsOf(input.expiresInSeconds);
  const expiresAt = new Date((Math.floor(now.getTime() / 1000) + lifetimeSeconds) * 1000);
  const transactionId = input.transactionId ?? crypto.randomUUID();
  const key = await importPrivateKey(signer.signingKey);
  if (key.use !== 'sig') throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  const unsigned = prepareTillCode({
    merchantId: signer.merchantId,
    amount: createAmount(input.amount.currency, input.amount.minor, 'amount'),
    transactionId,
    expiresAt,
    // The certificate names the key by its RFC 7638 thumbprint; so does the code.
    keyId: await jwkThumbprint(publicPart(signer.signingKey)),
    merchantName: input.merchantName ?? defaultMerchantName(signer.merchantId),
    merchantCity: input.city ?? '-',
    countryCode: input.country ?? 'MK',
    merchantCategoryCode: input.merchantCategoryCode ?? tillMerchantCategoryCodeDefault,
  });
  const signature = new Uint8Array(
    await globalThis.crypto.subtle.sign(
      signParameters[key.alg],
      key.cryptoKey,
      unsigned.signingInput as Uint8Array<ArrayBuffer>,
    ),
  );
  return Object.freeze({
    payload: completeTillCode(unsigned, encodeBase64url(signature)),
    transactionId,
    expiresAt: expiresAt.toISOString(),
  });
}

/** A customer's claim of a till code, as the FSP signed it for the merchant. */
export interface TillClaim {
  readonly transactionId: string;
  /** The customer's party id: the till's payment request goes to this customer. */
  readonly customer: string;
  readonly amount: Amount;
  readonly claimedAt: string;
}

/**
 * The claim of a verified `trade.claimed` notification, strictly: exactly
 * the members the FSP sends (MESSAGE_INVALID otherwise).
 */
export function tillClaimOf(event: MerchantEvent): TillClaim {
  if (event.event !== 'trade.claimed') throw new MpayError('MESSAGE_INVALID', 'event');
  const { transactionId, customer, amount, claimedAt, ...rest } = event.claim as Record<string, unknown>;
  const { currency, minor, ...restOfAmount } = (amount ?? {}) as Record<string, unknown>;
  if (
    Object.keys(rest).length > 0 ||
    Object.keys(restOfAmount).length > 0 ||
    typeof transactionId !== 'string' ||
    typeof customer !== 'string' ||
    typeof claimedAt !== 'string' ||
    typeof currency !== 'string' ||
    typeof minor !== 'string'
  )
    throw new MpayError('MESSAGE_INVALID', 'claim');
  return Object.freeze({
    transactionId,
    customer,
    amount: createAmount(currency, parseMinorUnits(minor, 'claim.amount'), 'claim.amount'),
    claimedAt,
  });
}

/**
 * The till asks the FSP whether its code was claimed yet (for a till that
 * takes no webhooks): undefined until a customer claims it; then the FSP's
 * signed notification, verified as any webhook body.
 */
export async function fetchTillClaim(
  options: Pick<MerchantClientOptions, 'gatewayUrl' | 'merchantId' | 'signingKey' | 'fsp'>,
  transactionId: string,
  verifyNotification: (body: string) => Promise<MerchantEvent>,
): Promise<TillClaim | undefined> {
  const path = `/m-trade/claims/${encodeURIComponent(transactionId)}`;
  const authorization = await signRequest(
    { method: 'GET', path, body: '' },
    { issuer: options.merchantId, audience: options.fsp.id, key: options.signingKey },
  );
  const answer = await requestAnswer(`${options.gatewayUrl}${path}`, {
    headers: { authorization },
    responseBytesMax: 64 * 1024,
  });
  if (answer.status < 200 || answer.status > 299) {
    const error = errorFromAnswer(answer.body, answer.status);
    if (error.code === 'NOT_FOUND') return undefined;
    throw error;
  }
  const notification = (answer.body as { notification?: unknown } | null)?.notification;
  if (typeof notification !== 'string') throw new MpayError('MESSAGE_INVALID', 'notification');
  const claim = tillClaimOf(await verifyNotification(notification));
  if (claim.transactionId !== transactionId) throw new MpayError('MESSAGE_INVALID', 'transactionId');
  return claim;
}
