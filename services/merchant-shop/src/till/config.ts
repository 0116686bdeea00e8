import { type CurrencyCode, parseCurrencyCode } from '@mpay/protocol';
import { createTillLimits, type TillLimits } from './limits.ts';

/** How the shop's till presents itself on its QR codes, and its limits. */
export interface TillOptions {
  /** EMV 59 (1–25 printable ASCII); default the name part of the merchant id. Wallets show the FSP's name instead. */
  readonly merchantName?: string;
  /** EMV 60 (1–15 printable ASCII); default '-'. */
  readonly city?: string;
  /** EMV 58 (ISO 3166-1 alpha-2); default 'MK'. */
  readonly country?: string;
  /** The one currency the till sells in; default the catalogue's. */
  readonly currency?: string;
  readonly limits?: Partial<TillLimits>;
}

/** The till's options, validated at start. */
export interface TillConfig {
  readonly merchantName: string | undefined;
  readonly city: string | undefined;
  readonly country: string | undefined;
  readonly currency: CurrencyCode;
  readonly limits: TillLimits;
}

const namePattern = /^[\x20-\x7e]{1,25}$/;
const cityPattern = /^[\x20-\x7e]{1,15}$/;
const countryPattern = /^[A-Z]{2}$/;

function checked(value: string | undefined, pattern: RegExp, name: string): string | undefined {
  if (value !== undefined && !pattern.test(value))
    throw new Error(`merchant shop till: ${name} must match ${pattern}`);
  return value;
}

/** Throws (a configuration error at start) for a name, city, country or currency the QR code cannot carry. */
export function createTillConfig(options: TillOptions, catalogueCurrency: string): TillConfig {
  return Object.freeze({
    merchantName: checked(options.merchantName, namePattern, 'merchantName'),
    city: checked(options.city, cityPattern, 'city'),
    country: checked(options.country, countryPattern, 'country'),
    currency: parseCurrencyCode(options.currency ?? catalogueCurrency, 'till currency'),
    limits: createTillLimits(options.limits),
  });
}
