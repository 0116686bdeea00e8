import { MpayError } from '../errors/index.ts';
import { type Amount, amountMinorDigitsMax, amountMinorMax, createAmount } from './amount.ts';
import { type CurrencyCode, currencyExponents, parseCurrencyCode } from './currency.ts';

/**
 * Canonical decimal text of an amount, e.g. '1000.00' EUR, '1000' JPY, '1.500' BHD:
 * ASCII digits, no sign, no leading zeros (except the single '0' before the point),
 * and exactly as many fraction digits as the currency's exponent — no fewer, so
 * that every amount has one text and every text one amount (signatures and the
 * two wire forms rely on that). Friendlier input ('10', '10.5') is the job of
 * the user interface, which pads before calling this.
 */
function decimalPattern(exponent: number): RegExp {
  return exponent === 0 ? /^(0|[1-9][0-9]*)$/ : new RegExp(`^(0|[1-9][0-9]*)\\.([0-9]{${exponent}})$`);
}

const decimalPatterns: ReadonlyMap<number, RegExp> = new Map(
  [...new Set(Object.values(currencyExponents))].map((exponent) => [exponent, decimalPattern(exponent)]),
);

const minorUnitsPattern = /^[1-9][0-9]*$/;

/** parseDecimalAmount('1000.00', 'EUR') → { currency: 'EUR', minor: 100000n }. */
export function parseDecimalAmount(text: string, currency: string, detail?: string): Amount {
  const code = parseCurrencyCode(currency, detail);
  const pattern = decimalPatterns.get(currencyExponents[code]);
  const match = typeof text === 'string' && pattern !== undefined ? pattern.exec(text) : null;
  if (match === null) throw new MpayError('AMOUNT_INVALID', detail);
  const digits = `${match[1]}${match[2] ?? ''}`;
  if (digits.replace(/^0+/, '').length > amountMinorDigitsMax)
    throw new MpayError('AMOUNT_TOO_LARGE', detail);
  return createAmount(code, BigInt(digits), detail);
}

/** The canonical decimal text: formatDecimalAmount({ currency: 'EUR', minor: 100000n }) → '1000.00'. */
export function formatDecimalAmount(amount: Amount, detail?: string): string {
  const checked = createAmount(amount.currency, amount.minor, detail);
  const exponent = currencyExponents[checked.currency];
  if (exponent === 0) return checked.minor.toString();
  const digits = checked.minor.toString().padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** A positive decimal integer of minor units ('100000'), at most `amountMinorMax`. */
export function parseMinorUnits(text: string, detail?: string): bigint {
  if (typeof text !== 'string' || !minorUnitsPattern.test(text))
    throw new MpayError('AMOUNT_INVALID', detail);
  if (text.length > amountMinorDigitsMax) throw new MpayError('AMOUNT_TOO_LARGE', detail);
  const minor = BigInt(text);
  if (minor > amountMinorMax) throw new MpayError('AMOUNT_TOO_LARGE', detail);
  return minor;
}

/** A balance of any sign, zero included: formatDecimalBalance('EUR', -1250n) → '-12.50'. */
export function formatDecimalBalance(currency: string, minor: bigint, detail?: string): string {
  if (minor === 0n) {
    const exponent = currencyExponents[parseCurrencyCode(currency, detail)];
    return exponent === 0 ? '0' : `0.${'0'.repeat(exponent)}`;
  }
  const text = formatDecimalAmount(
    { currency: currency as CurrencyCode, minor: minor < 0n ? -minor : minor },
    detail,
  );
  return minor < 0n ? `-${text}` : text;
}
