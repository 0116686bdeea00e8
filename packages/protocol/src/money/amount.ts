import { MpayError } from '../errors/index.ts';
import { type CurrencyCode, parseCurrencyCode } from './currency.ts';

/**
 * A payment amount: a positive whole number of minor units of one currency.
 * Never a float; never converted with Number().
 */
export interface Amount {
  readonly currency: CurrencyCode;
  readonly minor: bigint;
}

/** The largest amount mpay accepts, in minor units (10^15: ten trillion euro in cents). */
export const amountMinorMax = 1_000_000_000_000_000n;

/** Digits of `amountMinorMax`; a canonical digit string longer than this is too large without parsing it. */
export const amountMinorDigitsMax = amountMinorMax.toString().length;

/** Builds a frozen Amount after checking currency, sign and the maximum. */
export function createAmount(currency: string, minor: bigint, detail?: string): Amount {
  const code = parseCurrencyCode(currency, detail);
  if (typeof minor !== 'bigint' || minor <= 0n) throw new MpayError('AMOUNT_INVALID', detail);
  if (minor > amountMinorMax) throw new MpayError('AMOUNT_TOO_LARGE', detail);
  return Object.freeze({ currency: code, minor });
}

export function amountEquals(left: Amount, right: Amount): boolean {
  return left.currency === right.currency && left.minor === right.minor;
}
