import { MpayError } from '../errors/index.ts';

declare const msisdnBrand: unique symbol;

/** A telephone number in E.164 form ('+38970123456'), used as an alias the gateway resolves to a party. */
export type Msisdn = string & { readonly [msisdnBrand]: 'Msisdn' };

/** Digits after the '+', country code included: E.164 allows at most 15; fewer than 7 is no subscriber number. */
export const msisdnDigitsMin = 7;
export const msisdnDigitsMax = 15;

const msisdnPattern = new RegExp(`^\\+[1-9][0-9]{${msisdnDigitsMin - 1},${msisdnDigitsMax - 1}}$`);

/** Strict E.164: '+', a non-zero digit, only ASCII digits after it; no spaces, dashes, '00' or national forms. */
export function isMsisdn(value: unknown): value is Msisdn {
  return typeof value === 'string' && msisdnPattern.test(value);
}

export function parseMsisdn(text: string, detail?: string): Msisdn {
  if (!isMsisdn(text)) throw new MpayError('PARTY_ID_INVALID', detail);
  return text;
}
