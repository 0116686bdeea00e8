import type { CurrencyCode } from '../money/index.ts';

/**
 * ISO 4217 numeric codes of the currencies mpay supports (EMV tag 53 carries
 * the numeric code). One entry per currency in money/currency.ts; a test
 * checks that the two lists stay the same.
 */
export const currencyNumericCodes: Readonly<Record<CurrencyCode, string>> = Object.freeze({
  EUR: '978',
  GBP: '826',
  CHF: '756',
  MKD: '807',
  ALL: '008',
  BAM: '977',
  RSD: '941',
  CZK: '203',
  DKK: '208',
  HUF: '348',
  NOK: '578',
  PLN: '985',
  RON: '946',
  SEK: '752',
  ISK: '352',
  USD: '840',
  CAD: '124',
  BRL: '986',
  MXN: '484',
  AUD: '036',
  INR: '356',
  CNY: '156',
  JPY: '392',
  KRW: '410',
  BHD: '048',
  JOD: '400',
  KWD: '414',
  OMR: '512',
  KES: '404',
  TZS: '834',
  UGX: '800',
  RWF: '646',
  NGN: '566',
  GHS: '936',
  ZAR: '710',
  EGP: '818',
  TND: '788',
  XOF: '952',
  XAF: '950',
});

const currencyByNumeric: ReadonlyMap<string, CurrencyCode> = new Map(
  (Object.entries(currencyNumericCodes) as [CurrencyCode, string][]).map(([code, numeric]) => [
    numeric,
    code,
  ]),
);

/** The supported currency with this ISO 4217 numeric code, or undefined. */
export function currencyOfNumericCode(numeric: string): CurrencyCode | undefined {
  return currencyByNumeric.get(numeric);
}

export function numericCodeOfCurrency(currency: CurrencyCode): string {
  return currencyNumericCodes[currency];
}
