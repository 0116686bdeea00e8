import { assert, isMpayError, MpayError } from '../errors/index.ts';
import { parseTransactionId } from '../ims/fields.ts';
import { type Amount, createAmount, formatDecimalAmount } from '../money/index.ts';
import { parsePartyId } from '../party/index.ts';
import { numericCodeOfCurrency } from './currency.ts';
import { buildEmvPayload, type EmvMerchantPresentedCode, parseEmvPayload } from './payload.ts';
import { type EmvDataObject, type EmvDataObjectInput, encodeDataObject, findDataObject } from './tlv.ts';

/**
 * The mpay till code (iMS §2.2, m-trade): an EMV merchant-presented QR code
 * for one payment, signed by the merchant with the key the FSP certified, so
 * that a wallet knows the payee and the amount before it sends anything. EMV
 * itself has only a CRC, which anyone can recompute.
 *
 * Layout, in this order (every ID as in EMV QRCPS-MPM; lengths in characters):
 *
 *   00 '01'                       payload format indicator
 *   01 '12'                       point of initiation: dynamic (one payment)
 *   26 template                   merchant account information
 *      00 'org.mpay'              globally unique identifier of the scheme
 *      01 merchant party id       'merkur.trade@merchant.ybank'
 *   52 MCC                        four digits (default 5999)
 *   53 currency                   ISO 4217 numeric ('978' EUR)
 *   54 amount                     the canonical decimal text of money/ ('12.50')
 *   58 country                    ISO 3166-1 alpha-2
 *   59 merchant name              1–25 printable ASCII (the wallet shows the FSP's name, not this)
 *   60 merchant city              1–15 printable ASCII
 *   62 template                   additional data
 *      05 reference label         the transaction id: its 16 UUID bytes in base64url (22
 *                                 characters; EMV limits 62.05 to 25, a UUID's text is 36)
 *   90 template                   signature parameters
 *      00 'org.mpay'
 *      01 key id                  RFC 7638 thumbprint of the merchant's signing key (43)
 *      02 expiry                  YYYYMMDDhhmmss, UTC
 *   91 template                   the merchant's signature
 *      00 'mpay'                  (a 5-character GUID at most fits beside the signature)
 *      01 signature               64 bytes in base64url (86): ES256 r‖s, or Ed25519
 *   63 CRC                        CRC-16/CCITT-FALSE, four upper-case hex digits
 *
 * What is signed: the UTF-8 bytes of `tillSigningContext` followed by the
 * payload from its first character up to, not including, the '91' of the
 * signature template. That covers every data object but the signature itself
 * and the CRC: merchant, amount, currency, transaction id, key id and expiry
 * included. The signature template must be the last before the CRC, so
 * nothing can be added after what was signed; the CRC is computed last, over
 * everything. No tip or fee (55–57): the customer pays exactly what was signed.
 */
export const tillCodeLayout = Object.freeze({
  merchantAccountTag: '26',
  guid: 'org.mpay',
  signatureParametersTag: '90',
  signatureTag: '91',
  signatureGuid: 'mpay',
});

/** Prefixed to the signed payload text: a till code signature can never stand for any other message. */
export const tillSigningContext = 'mpay till QR v1\n';

/** The longest a till code may stay valid; a code expiring later is refused. */
export const tillCodeLifetimeSecondsMax = 900;
export const tillCodeLifetimeSecondsDefault = 300;
export const tillMerchantCategoryCodeDefault = '5999';

export interface TillCodeFields {
  readonly merchantId: string;
  readonly amount: Amount;
  /** The payment's transaction id (a UUID): the till's payment request uses the same. */
  readonly transactionId: string;
  /** When the code stops being accepted; whole seconds. */
  readonly expiresAt: Date;
  /** kid (RFC 7638 thumbprint) of the merchant's certified signing key. */
  readonly keyId: string;
  readonly merchantName: string;
  readonly merchantCity: string;
  readonly countryCode: string;
  readonly merchantCategoryCode: string;
}

/** A till code before its signature: the exact text and bytes to sign. */
export interface UnsignedTillCode {
  readonly fields: TillCodeFields;
  /** The payload text the signature covers (from '00' up to, not including, '91'). */
  readonly signedText: string;
  /** UTF-8 of `tillSigningContext` + `signedText`: what the merchant's key signs. */
  readonly signingInput: Uint8Array;
  readonly objects: readonly EmvDataObjectInput[];
}

/** A till code read from a payload: its fields, and what its signature must verify over (not yet verified). */
export interface TillCode extends TillCodeFields {
  readonly payload: string;
  /** The signature, base64url (86 characters, 64 bytes). */
  readonly signature: string;
  readonly signedText: string;
  readonly signingInput: Uint8Array;
}

const keyIdPattern = /^[A-Za-z0-9_-]{43}$/;
/** 64 bytes in unpadded base64url: 86 characters, the last one with its 4 unused bits zero. */
const signaturePattern = /^[A-Za-z0-9_-]{85}[AQgw]$/;
/** 16 bytes in unpadded base64url: 22 characters, the last with its 4 unused bits zero. */
const referenceLabelPattern = /^[A-Za-z0-9_-]{21}[AQgw]$/;
const expiryPattern = /^([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})$/;
const printableAscii = (max: number) => new RegExp(`^[\\x20-\\x7e]{1,${max}}$`);
const namePattern = printableAscii(25);
const cityPattern = printableAscii(15);
const countryPattern = /^[A-Z]{2}$/;
const merchantCategoryCodePattern = /^[0-9]{4}$/;
/** Tip and convenience fee indicators: they would let the amount paid differ from the one signed. */
const amountChangingTags: readonly string[] = ['55', '56', '57'];
/** EMV's limit on tag 54. */
const amountTextLengthMax = 13;

const base64urlAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const encoder = new TextEncoder();

function invalid(detail: string): never {
  throw new MpayError('QR_INVALID', detail);
}

function signatureInvalid(detail?: string): never {
  throw new MpayError('QR_SIGNATURE_INVALID', detail);
}

/** A transaction id (lower-case RFC 9562 UUID) as the 22-character base64url of its 16 bytes. */
export function referenceLabelOf(transactionId: string): string {
  const hex = transactionId.replaceAll('-', '');
  assert(/^[0-9a-f]{32}$/.test(hex), 'a transaction id is a UUID');
  let bits = 0n;
  for (let index = 0; index < 32; index += 2)
    bits = (bits << 8n) | BigInt(Number.parseInt(hex.slice(index, index + 2), 16));
  bits <<= 4n; // 128 bits in 22 six-bit characters: 4 zero bits at the end
  let label = '';
  for (let index = 21; index >= 0; index -= 1)
    label += base64urlAlphabet[Number((bits >> BigInt(6 * index)) & 63n)];
  return label;
}

/** Whether `text` is a transaction id as iMS messages carry it (a lower-case RFC 9562 UUID). */
function isTransactionId(text: string): boolean {
  try {
    parseTransactionId(text, 'transactionId');
    return true;
  } catch (error) {
    if (isMpayError(error)) return false;
    throw error;
  }
}

/** The transaction id a reference label stands for, or undefined when it is not one. */
export function transactionIdOfReferenceLabel(label: string): string | undefined {
  if (!referenceLabelPattern.test(label)) return undefined;
  let bits = 0n;
  for (const character of label) bits = (bits << 6n) | BigInt(base64urlAlphabet.indexOf(character));
  const hex = (bits >> 4n).toString(16).padStart(32, '0');
  const text = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return isTransactionId(text) ? text : undefined;
}

/** An instant as EMV-style digits, UTC: 2026-12-02T10:15:00Z → '20261202101500'. */
export function formatExpiry(at: Date): string {
  const iso = at.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

/** The instant of 14 expiry digits, or undefined for anything that is not a real UTC instant. */
export function parseExpiry(text: string): Date | undefined {
  const match = expiryPattern.exec(text);
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second] = match;
  const iso = `${year}-${month}-${day}T${hour}:${minute}:${second}.000Z`;
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) || at.toISOString() !== iso ? undefined : at;
}

/** A canonical merchant party id, or undefined. */
function merchantIdOf(text: string): string | undefined {
  try {
    const merchant = parsePartyId(text);
    return merchant.kind === 'merchant' && merchant.id === text ? text : undefined;
  } catch (error) {
    if (isMpayError(error)) return undefined;
    throw error;
  }
}

/** What a merchant asks to encode, checked before anything is signed (a stable code, never a crash). */
function checkFields(fields: TillCodeFields): void {
  if (merchantIdOf(fields.merchantId) === undefined) invalid('merchantId');
  const amount = createAmount(fields.amount.currency, fields.amount.minor, 'amount');
  if (formatDecimalAmount(amount).length > amountTextLengthMax) invalid('amount longer than EMV allows');
  if (!isTransactionId(fields.transactionId)) invalid('transactionId');
  if (Number.isNaN(fields.expiresAt.getTime()) || fields.expiresAt.getTime() % 1000 !== 0)
    invalid('expiresAt');
  if (!keyIdPattern.test(fields.keyId)) invalid('keyId');
  if (!namePattern.test(fields.merchantName)) invalid('merchantName');
  if (!cityPattern.test(fields.merchantCity)) invalid('merchantCity');
  if (!countryPattern.test(fields.countryCode)) invalid('countryCode');
  if (!merchantCategoryCodePattern.test(fields.merchantCategoryCode)) invalid('merchantCategoryCode');
}

/** Everything but the signature and the CRC, in the layout's order. */
function signedObjects(fields: TillCodeFields): EmvDataObjectInput[] {
  const { guid, merchantAccountTag, signatureParametersTag } = tillCodeLayout;
  return [
    { tag: '00', value: '01' },
    { tag: '01', value: '12' },
    {
      tag: merchantAccountTag,
      children: [
        { tag: '00', value: guid },
        { tag: '01', value: fields.merchantId },
      ],
    },
    { tag: '52', value: fields.merchantCategoryCode },
    { tag: '53', value: numericCodeOfCurrency(fields.amount.currency) },
    { tag: '54', value: formatDecimalAmount(fields.amount) },
    { tag: '58', value: fields.countryCode },
    { tag: '59', value: fields.merchantName },
    { tag: '60', value: fields.merchantCity },
    { tag: '62', children: [{ tag: '05', value: referenceLabelOf(fields.transactionId) }] },
    {
      tag: signatureParametersTag,
      children: [
        { tag: '00', value: guid },
        { tag: '01', value: fields.keyId },
        { tag: '02', value: formatExpiry(fields.expiresAt) },
      ],
    },
  ];
}

/** Step 1 of making a till code: the exact bytes the merchant's key must sign. */
export function prepareTillCode(fields: TillCodeFields): UnsignedTillCode {
  checkFields(fields);
  const objects = signedObjects(fields);
  const signedText = objects.map(encodeDataObject).join('');
  return Object.freeze({
    fields: Object.freeze({ ...fields }),
    signedText,
    signingInput: encoder.encode(`${tillSigningContext}${signedText}`),
    objects: Object.freeze(objects),
  });
}

/** Step 2: the signature (base64url, 86 characters) and the CRC appended; the whole payload is parsed back as a check. */
export function completeTillCode(unsigned: UnsignedTillCode, signature: string): string {
  if (!signaturePattern.test(signature)) signatureInvalid('signature format');
  const { signatureTag, signatureGuid } = tillCodeLayout;
  const payload = buildEmvPayload([
    ...unsigned.objects,
    {
      tag: signatureTag,
      children: [
        { tag: '00', value: signatureGuid },
        { tag: '01', value: signature },
      ],
    },
  ]);
  const parsed = parseTillCode(payload);
  assert(parsed.signedText === unsigned.signedText, 'the signed text is a prefix of the payload');
  return payload;
}

/** The one merchant account template whose GUID is mpay's; a QR code without one is not a till code. */
function mpayMerchantAccount(code: EmvMerchantPresentedCode): EmvDataObject {
  const accounts = code.merchantAccounts.filter(
    (account) => findDataObject(account.children, '00')?.value === tillCodeLayout.guid,
  );
  if (accounts.length === 0) throw new MpayError('QR_UNSUPPORTED');
  if (accounts.length > 1) invalid('two mpay merchant accounts');
  return accounts[0]!;
}

/** A template with exactly these sub-IDs (no others), as a map. */
function exactChildren(
  object: EmvDataObject | undefined,
  tags: readonly string[],
): Map<string, string> | undefined {
  const children = object?.children;
  if (children === undefined || children.length !== tags.length) return undefined;
  const values = new Map(children.map((child) => [child.tag, child.value]));
  return tags.every((tag) => values.has(tag)) ? values : undefined;
}

/**
 * The signature templates: 90 then 91, the last two data objects before the
 * CRC, each exactly as the layout says. Any deviation is QR_SIGNATURE_INVALID,
 * as is a missing signature: an mpay code without one is a forgery.
 */
function readSignature(code: EmvMerchantPresentedCode) {
  const { guid, signatureParametersTag, signatureTag, signatureGuid } = tillCodeLayout;
  const objects = code.objects;
  const parametersObject = objects.at(-3);
  const signatureObject = objects.at(-2);
  if (parametersObject?.tag !== signatureParametersTag || signatureObject?.tag !== signatureTag)
    signatureInvalid('90 and 91 must be the last data objects before 63');
  const parameters = exactChildren(parametersObject, ['00', '01', '02']);
  const signed = exactChildren(signatureObject, ['00', '01']);
  if (parameters === undefined || signed === undefined) signatureInvalid('template layout');
  if (parameters.get('00') !== guid || signed.get('00') !== signatureGuid) signatureInvalid('GUID');
  const keyId = parameters.get('01')!;
  const expiresAt = parseExpiry(parameters.get('02')!);
  const signature = signed.get('01')!;
  if (!keyIdPattern.test(keyId) || expiresAt === undefined || !signaturePattern.test(signature))
    signatureInvalid('format');
  // 91 and its children are ASCII (checked above), so its encoded length in UTF-16 units is its length.
  const tailLength = 4 + signatureObject.value.length + 8;
  const signedText = code.payload.slice(0, code.payload.length - tailLength);
  return { keyId, expiresAt, signature, signedText };
}

function readMerchantId(account: EmvDataObject): string {
  const values = exactChildren(account, ['00', '01']);
  // Canonical only: one text per merchant, as it was certified.
  const merchantId = merchantIdOf(values?.get('01') ?? '');
  if (merchantId === undefined) invalid(`${account.tag}.01`);
  return merchantId;
}

function readTransactionId(code: EmvMerchantPresentedCode): string {
  const additional = code.additionalData;
  const label = findDataObject(additional, '05')?.value;
  const transactionId = label === undefined ? undefined : transactionIdOfReferenceLabel(label);
  if (transactionId === undefined) invalid('62.05');
  // Other additional data (bill number, store, terminal) may be there: it is signed too, but no sub-template.
  if (additional?.some((object) => object.children !== undefined)) invalid('62');
  return transactionId;
}

function readAmount(code: EmvMerchantPresentedCode): Amount {
  if (amountChangingTags.some((tag) => findDataObject(code.objects, tag) !== undefined))
    invalid('tip or fee');
  if (code.currency === undefined) invalid('53');
  if (code.amount === undefined || code.amountText !== formatDecimalAmount(code.amount)) invalid('54');
  return code.amount;
}

/**
 * Reads an mpay till code: the EMV checks of `parseEmvPayload` (QR_INVALID,
 * QR_CRC_INVALID), then QR_UNSUPPORTED for an EMV code that is not mpay's,
 * QR_SIGNATURE_INVALID for missing or malformed signature templates, and
 * QR_INVALID for any other field outside the layout. The signature is NOT
 * verified here (no cryptography in this package): verify it over
 * `signingInput` under the merchant's certified key `keyId`, then check the
 * time with `checkTillCodeTime`.
 */
export function parseTillCode(payload: unknown): TillCode {
  const code = parseEmvPayload(payload);
  const account = mpayMerchantAccount(code);
  const { keyId, expiresAt, signature, signedText } = readSignature(code);
  if (code.pointOfInitiation !== 'dynamic') invalid('01');
  if (!namePattern.test(code.merchantName)) invalid('59');
  if (!cityPattern.test(code.merchantCity)) invalid('60');
  return Object.freeze({
    payload: code.payload,
    merchantId: readMerchantId(account),
    amount: readAmount(code),
    transactionId: readTransactionId(code),
    expiresAt,
    keyId,
    merchantName: code.merchantName,
    merchantCity: code.merchantCity,
    countryCode: code.countryCode,
    merchantCategoryCode: code.merchantCategoryCode,
    signature,
    signedText,
    signingInput: encoder.encode(`${tillSigningContext}${signedText}`),
  });
}

export interface TillCodeTimeOptions {
  /** Tolerance for the two clocks; default 60 s. */
  readonly clockSkewSeconds?: number;
  /** Default tillCodeLifetimeSecondsMax. */
  readonly lifetimeSecondsMax?: number;
}

/**
 * QR_EXPIRED once `now` is past the code's expiry (with the clock skew);
 * QR_INVALID for a code that claims to stay valid longer than the lifetime
 * limit from now (a merchant key cannot sign open-ended codes).
 */
export function checkTillCodeTime(
  code: Pick<TillCode, 'expiresAt'>,
  now: Date,
  options: TillCodeTimeOptions = {},
): void {
  const skewMs = (options.clockSkewSeconds ?? 60) * 1000;
  const lifetimeMs = (options.lifetimeSecondsMax ?? tillCodeLifetimeSecondsMax) * 1000;
  assert(skewMs >= 0 && lifetimeMs > 0, 'time limits are positive');
  const expiresAtMs = code.expiresAt.getTime();
  if (now.getTime() >= expiresAtMs + skewMs) throw new MpayError('QR_EXPIRED');
  if (expiresAtMs - now.getTime() > lifetimeMs + skewMs) invalid('expiry too far ahead');
}
