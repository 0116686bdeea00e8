import { MpayError } from '../errors/index.ts';

/**
 * The ISO 4217 currencies mpay supports, each with its minor-unit exponent
 * (the number of fraction digits: EUR 2 → cents, JPY 0, BHD 3 → fils).
 * Adding a currency is one line here; codes not listed are CURRENCY_INVALID,
 * including the ISO codes for "no currency" (XXX) and testing (XTS).
 */
export const currencyExponents = Object.freeze({
  // Europe
  EUR: 2,
  GBP: 2,
  CHF: 2,
  MKD: 2,
  ALL: 2,
  BAM: 2,
  RSD: 2,
  CZK: 2,
  DKK: 2,
  HUF: 2,
  NOK: 2,
  PLN: 2,
  RON: 2,
  SEK: 2,
  ISK: 0,
  // Americas and Asia-Pacific
  USD: 2,
  CAD: 2,
  BRL: 2,
  MXN: 2,
  AUD: 2,
  INR: 2,
  CNY: 2,
  JPY: 0,
  KRW: 0,
  // Middle East
  BHD: 3,
  JOD: 3,
  KWD: 3,
  OMR: 3,
  // Africa
  KES: 2,
  TZS: 2,
  UGX: 0,
  RWF: 0,
  NGN: 2,
  GHS: 2,
  ZAR: 2,
  EGP: 2,
  TND: 3,
  XOF: 0,
  XAF: 0,
} as const);

export type CurrencyCode = keyof typeof currencyExponents;

export function isCurrencyCode(value: unknown): value is CurrencyCode {
  return typeof value === 'string' && Object.hasOwn(currencyExponents, value);
}

/** Exact, upper-case ISO 4217 code of a supported currency; anything else is CURRENCY_INVALID. */
export function parseCurrencyCode(value: unknown, detail?: string): CurrencyCode {
  if (!isCurrencyCode(value)) throw new MpayError('CURRENCY_INVALID', detail);
  return value;
}

export function currencyExponent(currency: CurrencyCode): number {
  return currencyExponents[currency];
}
