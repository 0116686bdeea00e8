import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { thrownCodeOf } from '../../../../test/support/code-of.ts';
import { isMpayError } from '../errors/index.ts';
import { amountEquals, amountMinorMax, createAmount } from './amount.ts';
import { type CurrencyCode, currencyExponent, currencyExponents, isCurrencyCode } from './currency.ts';
import { formatDecimalAmount, formatDecimalBalance, parseDecimalAmount, parseMinorUnits } from './decimal.ts';

const currencies = Object.keys(currencyExponents) as CurrencyCode[];

describe('currencies', () => {
  it('knows the ISO 4217 exponents of the currencies the seeds and markets need', () => {
    const expected = { EUR: 2, USD: 2, GBP: 2, CHF: 2, MKD: 2, KES: 2, INR: 2, JPY: 0, BHD: 3 };
    for (const [code, exponent] of Object.entries(expected)) {
      expect(isCurrencyCode(code) && currencyExponent(code)).toBe(exponent);
    }
    expect([currencyExponents.TZS, currencyExponents.UGX, currencyExponents.NGN]).toEqual([2, 0, 2]);
    expect([currencyExponents.ZAR, currencyExponents.XOF]).toEqual([2, 0]);
  });

  it('rejects unknown, lower-case and prototype names', () => {
    for (const code of ['XXX', 'XTS', 'eur', 'EURO', '', 'toString', '__proto__', 'constructor']) {
      expect(isCurrencyCode(code)).toBe(false);
    }
  });
});

describe('parseDecimalAmount', () => {
  it('parses canonical decimals into minor units', () => {
    expect(parseDecimalAmount('1000.00', 'EUR')).toEqual({ currency: 'EUR', minor: 100000n });
    expect(parseDecimalAmount('0.01', 'USD').minor).toBe(1n);
    expect(parseDecimalAmount('1000', 'JPY').minor).toBe(1000n);
    expect(parseDecimalAmount('1.500', 'BHD').minor).toBe(1500n);
    expect(parseDecimalAmount('10000000000000.00', 'EUR').minor).toBe(amountMinorMax);
  });

  it.each([
    ['-1.00', 'AMOUNT_INVALID'],
    ['0.00', 'AMOUNT_INVALID'],
    ['+1.00', 'AMOUNT_INVALID'],
    ['1.0', 'AMOUNT_INVALID'],
    ['1', 'AMOUNT_INVALID'],
    ['1.', 'AMOUNT_INVALID'],
    ['.50', 'AMOUNT_INVALID'],
    ['1.001', 'AMOUNT_INVALID'],
    ['01.00', 'AMOUNT_INVALID'],
    ['1e3', 'AMOUNT_INVALID'],
    ['1.00e0', 'AMOUNT_INVALID'],
    ['0x10', 'AMOUNT_INVALID'],
    ['NaN', 'AMOUNT_INVALID'],
    ['Infinity', 'AMOUNT_INVALID'],
    ['abc', 'AMOUNT_INVALID'],
    ['', 'AMOUNT_INVALID'],
    [' 1.00', 'AMOUNT_INVALID'],
    ['1.00 ', 'AMOUNT_INVALID'],
    ['1 000.00', 'AMOUNT_INVALID'],
    ['1,000.00', 'AMOUNT_INVALID'],
    ['1000,00', 'AMOUNT_INVALID'],
    ['1_000.00', 'AMOUNT_INVALID'],
    ['١٠٠٠.٠٠', 'AMOUNT_INVALID'],
    ['１.００', 'AMOUNT_INVALID'],
    ['1.00\n', 'AMOUNT_INVALID'],
    ['10000000000000.01', 'AMOUNT_TOO_LARGE'],
    ['99999999999999999999999999.00', 'AMOUNT_TOO_LARGE'],
    [`${'9'.repeat(100_000)}.00`, 'AMOUNT_TOO_LARGE'],
  ])('EUR %j → %s', (text, code) => {
    expect(thrownCodeOf(() => parseDecimalAmount(text, 'EUR'))).toBe(code);
  });

  it('rejects fraction digits for zero-exponent currencies and short ones for three', () => {
    expect(thrownCodeOf(() => parseDecimalAmount('1000.00', 'JPY'))).toBe('AMOUNT_INVALID');
    expect(thrownCodeOf(() => parseDecimalAmount('1.50', 'BHD'))).toBe('AMOUNT_INVALID');
    expect(thrownCodeOf(() => parseDecimalAmount('0', 'UGX'))).toBe('AMOUNT_INVALID');
  });

  it('rejects unsupported currencies before looking at the amount', () => {
    expect(thrownCodeOf(() => parseDecimalAmount('1.00', 'XXX'))).toBe('CURRENCY_INVALID');
    expect(thrownCodeOf(() => parseDecimalAmount('-1', 'eur'))).toBe('CURRENCY_INVALID');
  });

  it('rejects non-strings at run time', () => {
    expect(thrownCodeOf(() => parseDecimalAmount(1000 as unknown as string, 'EUR'))).toBe('AMOUNT_INVALID');
  });

  it('property: format ∘ parse is the identity on every valid amount', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...currencies),
        fc.bigInt({ min: 1n, max: amountMinorMax }),
        (currency, minor) => {
          const amount = createAmount(currency, minor);
          const text = formatDecimalAmount(amount);
          expect(amountEquals(parseDecimalAmount(text, currency), amount)).toBe(true);
        },
      ),
    );
  });

  it('property: whatever parse accepts is canonical (formats back to the same text) and positive', () => {
    const nearMiss = fc.string({
      unit: fc.constantFrom('0', '1', '9', '.', '-', '+', 'e', ',', ' ', 'x', '\u0661'),
      maxLength: 20,
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...currencies),
        fc.oneof(nearMiss, fc.string({ unit: 'binary' })),
        (currency, text) => {
          let amount: ReturnType<typeof parseDecimalAmount>;
          try {
            amount = parseDecimalAmount(text, currency);
          } catch (error) {
            expect(isMpayError(error)).toBe(true);
            return;
          }
          expect(amount.minor > 0n && amount.minor <= amountMinorMax).toBe(true);
          expect(formatDecimalAmount(amount)).toBe(text);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('formatDecimalAmount', () => {
  it('pads and places the point by exponent', () => {
    expect(formatDecimalAmount({ currency: 'EUR', minor: 100000n })).toBe('1000.00');
    expect(formatDecimalAmount({ currency: 'EUR', minor: 5n })).toBe('0.05');
    expect(formatDecimalAmount({ currency: 'BHD', minor: 1n })).toBe('0.001');
    expect(formatDecimalAmount({ currency: 'XOF', minor: 250n })).toBe('250');
  });

  it('refuses amounts built by hand that break the rules', () => {
    expect(thrownCodeOf(() => formatDecimalAmount({ currency: 'EUR', minor: 0n }))).toBe('AMOUNT_INVALID');
    expect(thrownCodeOf(() => formatDecimalAmount({ currency: 'EUR', minor: -5n }))).toBe('AMOUNT_INVALID');
    expect(thrownCodeOf(() => formatDecimalAmount({ currency: 'EUR', minor: amountMinorMax + 1n }))).toBe(
      'AMOUNT_TOO_LARGE',
    );
    const float = { currency: 'EUR', minor: 1.5 } as unknown as { currency: 'EUR'; minor: bigint };
    expect(thrownCodeOf(() => formatDecimalAmount(float))).toBe('AMOUNT_INVALID');
  });
});

describe('parseMinorUnits and amountEquals', () => {
  it('parses positive decimal integers only', () => {
    expect(parseMinorUnits('100000')).toBe(100000n);
    expect(parseMinorUnits(amountMinorMax.toString())).toBe(amountMinorMax);
    for (const text of ['0', '-1', '+1', '01', '1.0', '1e3', ' 1', '0x1', '']) {
      expect(thrownCodeOf(() => parseMinorUnits(text))).toBe('AMOUNT_INVALID');
    }
    expect(thrownCodeOf(() => parseMinorUnits((amountMinorMax + 1n).toString()))).toBe('AMOUNT_TOO_LARGE');
    expect(thrownCodeOf(() => parseMinorUnits('9'.repeat(1000)))).toBe('AMOUNT_TOO_LARGE');
  });

  it('compares currency and minor units', () => {
    const a = createAmount('EUR', 100n);
    expect(amountEquals(a, { currency: 'EUR', minor: 100n })).toBe(true);
    expect(amountEquals(a, { currency: 'USD', minor: 100n })).toBe(false);
    expect(amountEquals(a, { currency: 'EUR', minor: 101n })).toBe(false);
    expect(Object.isFrozen(a)).toBe(true);
  });
});

describe('formatDecimalBalance', () => {
  it('formats zero, negative and positive balances with the currency exponent', () => {
    expect(formatDecimalBalance('EUR', 0n)).toBe('0.00');
    expect(formatDecimalBalance('JPY', 0n)).toBe('0');
    expect(formatDecimalBalance('EUR', -1250n)).toBe('-12.50');
    expect(formatDecimalBalance('EUR', 5n)).toBe('0.05');
    expect(() => formatDecimalBalance('XXQ', 1n)).toThrow();
  });
});
