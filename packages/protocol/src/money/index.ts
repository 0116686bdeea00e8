export { type Amount, amountEquals, amountMinorDigitsMax, amountMinorMax, createAmount } from './amount.ts';
export {
  type CurrencyCode,
  currencyExponent,
  currencyExponents,
  isCurrencyCode,
  parseCurrencyCode,
} from './currency.ts';
export { formatDecimalAmount, formatDecimalBalance, parseDecimalAmount, parseMinorUnits } from './decimal.ts';
