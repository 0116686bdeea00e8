import { assert, MpayError } from '../errors/index.ts';
import {
  type Amount,
  amountMinorMax,
  type CurrencyCode,
  createAmount,
  currencyExponent,
} from '../money/index.ts';
import { emvCrcOf } from './crc.ts';
import { currencyOfNumericCode } from './currency.ts';
import {
  characterCount,
  type EmvDataObject,
  type EmvDataObjectInput,
  encodeDataObject,
  findDataObject,
  parseDataObjects,
} from './tlv.ts';

/**
 * EMV QR Code Specification for Payment Systems, Merchant-Presented Mode
 * (EMV QRCPS-MPM): the payload a till shows, read strictly. What is checked,
 * in order, each failure a stable code:
 *
 * 1. a string of at most 512 characters (the specification's limit), with no
 *    control characters and no unpaired surrogates (QR_INVALID);
 * 2. it ends with the CRC data object '6304' and four upper-case hex digits
 *    (QR_INVALID), and that CRC-16/CCITT-FALSE over the UTF-8 bytes of
 *    everything before the four digits matches (QR_CRC_INVALID) — checked
 *    before anything is interpreted;
 * 3. the whole is a list of data objects (two-digit IDs and lengths, lengths
 *    in characters, nothing truncated, no empty value, no ID twice in one
 *    list, templates well-formed), starting with '000201' and ending with the
 *    CRC (QR_INVALID);
 * 4. the mandatory data objects are present and well-formed: at least one
 *    merchant account (IDs 02–51), 52 merchant category code, 53 currency,
 *    58 country, 59 name, 60 city; 54 amount when present (QR_INVALID).
 *
 * IDs reserved for future EMVCo use (65–79) are kept uninterpreted; they are
 * part of what the CRC (and an mpay till code's signature) covers.
 */

/** The specification's limit on the whole payload, in characters. */
export const emvPayloadLengthMax = 512;

const crcObjectPrefix = '6304';
const crcObjectLength = 8;
const crcPattern = /^[0-9A-F]{4}$/;
/** C0 and C1 control characters and DEL: never in a payload a till shows. */
const controlCharacters = /\p{Cc}/u;
/** With the `u` flag a surrogate range matches only unpaired surrogates (paired ones are one code point). */
const unpairedSurrogates = /[\ud800-\udfff]/u;
const amountPattern = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;
const amountLengthMax = 13;

/** A parsed merchant-presented payload: the data objects, and the fields of the specification read from them. */
export interface EmvMerchantPresentedCode {
  readonly payload: string;
  /** Every top-level data object in payload order, the CRC (63) last. */
  readonly objects: readonly EmvDataObject[];
  /** 01: '11' static (many payments), '12' dynamic (one payment); undefined when absent. */
  readonly pointOfInitiation: 'static' | 'dynamic' | undefined;
  /** IDs 02–51: card schemes' merchant ids (primitive) and account templates (26–51). */
  readonly merchantAccounts: readonly EmvDataObject[];
  readonly merchantCategoryCode: string;
  /** 53: ISO 4217 numeric, and the supported currency it names (undefined for any other). */
  readonly currencyNumeric: string;
  readonly currency: CurrencyCode | undefined;
  /** 54 as written, and in minor units when the currency is supported. */
  readonly amountText: string | undefined;
  readonly amount: Amount | undefined;
  readonly countryCode: string;
  readonly merchantName: string;
  readonly merchantCity: string;
  readonly postalCode: string | undefined;
  /** 62's data objects (05 is the reference label). */
  readonly additionalData: readonly EmvDataObject[] | undefined;
  readonly crc: string;
}

function invalid(detail: string): never {
  throw new MpayError('QR_INVALID', detail);
}

/** Splits into code points after the cheap checks, so that nothing large is ever split. */
function charactersOf(payload: unknown): string[] {
  if (typeof payload !== 'string') invalid('not text');
  // A code point is one or two UTF-16 units: longer than twice the limit is too long without counting.
  if (payload.length > 2 * emvPayloadLengthMax) invalid('too long');
  if (unpairedSurrogates.test(payload) || controlCharacters.test(payload)) invalid('characters');
  const characters = Array.from(payload);
  if (characters.length > emvPayloadLengthMax) invalid('too long');
  return characters;
}

function checkCrc(payload: string, characters: readonly string[]): string {
  const tail = characters.slice(-crcObjectLength).join('');
  if (characters.length < crcObjectLength || !tail.startsWith(crcObjectPrefix)) invalid('no CRC (63)');
  const crc = tail.slice(crcObjectPrefix.length);
  if (!crcPattern.test(crc)) invalid('CRC (63) format');
  // The CRC's digits are ASCII, so the text before them is the payload less its last four UTF-16 units.
  if (emvCrcOf(payload.slice(0, -4)) !== crc) throw new MpayError('QR_CRC_INVALID');
  return crc;
}

function required(objects: readonly EmvDataObject[], tag: string, pattern: RegExp): string {
  const value = findDataObject(objects, tag)?.value;
  if (value === undefined || !pattern.test(value)) invalid(`tag ${tag}`);
  return value;
}

function optional(objects: readonly EmvDataObject[], tag: string, pattern: RegExp): string | undefined {
  const value = findDataObject(objects, tag)?.value;
  if (value !== undefined && !pattern.test(value)) invalid(`tag ${tag}`);
  return value;
}

/**
 * EMV amount text ('23.72', '999', '0.5') in minor units of `currency`: no
 * sign, no leading zeros, at most the currency's fraction digits, positive.
 */
export function emvAmountOf(text: string, currency: CurrencyCode): Amount {
  const match = text.length <= amountLengthMax ? amountPattern.exec(text) : null;
  const exponent = currencyExponent(currency);
  const fraction = match?.[2];
  if (match === null || (fraction !== undefined && (fraction.length > exponent || exponent === 0)))
    invalid('tag 54');
  const minor = BigInt(`${match[1]}${(fraction ?? '').padEnd(exponent, '0')}`);
  if (minor <= 0n || minor > amountMinorMax) invalid('tag 54');
  return createAmount(currency, minor);
}

function pointOfInitiationOf(objects: readonly EmvDataObject[]): 'static' | 'dynamic' | undefined {
  const value = optional(objects, '01', /^1[12]$/);
  return value === undefined ? undefined : value === '11' ? 'static' : 'dynamic';
}

/** Parses and checks a merchant-presented payload (see the steps above). */
export function parseEmvPayload(payload: unknown): EmvMerchantPresentedCode {
  const characters = charactersOf(payload);
  const text = payload as string;
  const crc = checkCrc(text, characters);
  const objects = parseDataObjects(characters);
  const last = objects.at(-1);
  if (last?.tag !== '63' || last.value !== crc) invalid('the CRC (63) is not the last data object');
  if (objects[0]?.tag !== '00' || objects[0].value !== '01') invalid('payload format indicator (00)');
  const merchantAccounts = objects.filter((object) => Number(object.tag) >= 2 && Number(object.tag) <= 51);
  if (merchantAccounts.length === 0) invalid('no merchant account (02-51)');
  const currencyNumeric = required(objects, '53', /^[0-9]{3}$/);
  const currency = currencyOfNumericCode(currencyNumeric);
  const amountText = optional(objects, '54', /^[0-9.]{1,13}$/);
  return Object.freeze({
    payload: text,
    objects: Object.freeze(objects),
    pointOfInitiation: pointOfInitiationOf(objects),
    merchantAccounts: Object.freeze(merchantAccounts),
    merchantCategoryCode: required(objects, '52', /^[0-9]{4}$/),
    currencyNumeric,
    currency,
    amountText,
    amount:
      amountText === undefined || currency === undefined ? undefined : emvAmountOf(amountText, currency),
    countryCode: required(objects, '58', /^[A-Z]{2}$/),
    merchantName: required(objects, '59', /^.{1,25}$/u),
    merchantCity: required(objects, '60', /^.{1,15}$/u),
    postalCode: optional(objects, '61', /^.{1,10}$/u),
    additionalData: findDataObject(objects, '62')?.children,
    crc,
  });
}

/**
 * Encodes data objects (every one but the CRC, '00' first) and appends the
 * CRC computed over all of it. What it returns is checked by `parseEmvPayload`
 * before it is returned, so a builder can never emit a payload its own parser refuses.
 */
export function buildEmvPayload(objects: readonly EmvDataObjectInput[]): string {
  assert(objects[0]?.tag === '00', "the payload format indicator '00' comes first");
  assert(!objects.some((object) => object.tag === '63'), 'the CRC is appended by the builder');
  const body = `${objects.map(encodeDataObject).join('')}${crcObjectPrefix}`;
  if (characterCount(body) + 4 > emvPayloadLengthMax) invalid('too long');
  const payload = `${body}${emvCrcOf(body)}`;
  parseEmvPayload(payload);
  return payload;
}
