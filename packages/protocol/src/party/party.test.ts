import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMpayError } from '../errors/index.ts';
import { isMsisdn, parseMsisdn } from './msisdn.ts';
import { formatPartyId, isPartyId, parsePartyId } from './party-id.ts';

function rejects(text: string): boolean {
  try {
    parsePartyId(text);
    return false;
  } catch (error) {
    return isMpayError(error, 'PARTY_ID_INVALID');
  }
}

describe('parsePartyId', () => {
  it('reads the kind from the syntax, as the iMS paper asks', () => {
    expect(parsePartyId('john.bernard@person.xbank')).toEqual({
      kind: 'person',
      name: 'john.bernard',
      bank: 'xbank',
      id: 'john.bernard@person.xbank',
    });
    expect(parsePartyId('merkur.trade@merchant.xbank')).toMatchObject({ kind: 'merchant', bank: 'xbank' });
    expect(parsePartyId('xbank')).toEqual({ kind: 'bank', name: 'xbank', id: 'xbank' });
    expect(parsePartyId('fsp.mpay')).toEqual({ kind: 'fsp', name: 'mpay', id: 'fsp.mpay' });
    expect(parsePartyId('a_b-c.9@person.bank-2')).toMatchObject({ kind: 'person', name: 'a_b-c.9' });
  });

  it('normalises to lower case (the paper writes John.Bernard@person.xbank)', () => {
    expect(parsePartyId('John.Bernard@person.xbank').id).toBe('john.bernard@person.xbank');
    expect(parsePartyId('Merkur.Trade@MERCHANT.XBank').id).toBe('merkur.trade@merchant.xbank');
    expect(parsePartyId('FSP.MPay').kind).toBe('fsp');
  });

  it.each([
    '',
    'xbank.',
    'x',
    '@person.xbank',
    'john@person.',
    'john@person',
    'john@personx',
    'john@customer.xbank',
    'john@person.x.bank',
    'john@@person.xbank',
    'john@person.xbank@person.ybank',
    'john..bernard@person.xbank',
    '.john@person.xbank',
    'john.@person.xbank',
    'john bernard@person.xbank',
    ' john@person.xbank',
    'john@person.xbank ',
    'john@person.fsp',
    'john@person.person',
    'john@person.1bank',
    'john@person.xbank-',
    'fsp',
    'person',
    'merchant',
    'fsp.',
    'fsp.fsp',
    'fsp.a.b',
    'x.bank',
    '-xbank',
    '+38970123456',
    'jöhn@person.xbank',
    '\u212Aohn@person.xbank',
    'john@person.xbank\n',
    'john@person.xbank\u0000',
    `${'a'.repeat(65)}@person.xbank`,
    `john@person.${'b'.repeat(33)}`,
    'a'.repeat(1_000_000),
  ])('rejects %j', (text) => {
    expect(rejects(text)).toBe(true);
  });

  it('accepts names at the length limits', () => {
    expect(parsePartyId(`${'a'.repeat(64)}@merchant.${'b'.repeat(32)}`).kind).toBe('merchant');
  });

  it('isPartyId holds for canonical ids only; formatPartyId builds them', () => {
    expect(isPartyId('john.bernard@person.xbank')).toBe(true);
    expect(isPartyId('John.Bernard@person.xbank')).toBe(false);
    expect(isPartyId(42)).toBe(false);
    expect(formatPartyId({ kind: 'merchant', name: 'Merkur.Trade', bank: 'xbank' })).toBe(
      'merkur.trade@merchant.xbank',
    );
    expect(formatPartyId({ kind: 'fsp', name: 'mpay' })).toBe('fsp.mpay');
    expect(formatPartyId({ kind: 'bank', name: 'xbank' })).toBe('xbank');
    expect(() => formatPartyId({ kind: 'bank', name: 'fsp' })).toThrow();
  });

  it('property: parsing is idempotent and never yields two kinds for one id', () => {
    const unit = fc.constantFrom('a', 'B', '1', '.', '-', '_', '@', 'person', 'merchant', 'fsp', 'xbank');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 12 }), (text) => {
        let parsed: ReturnType<typeof parsePartyId>;
        try {
          parsed = parsePartyId(text);
        } catch {
          return;
        }
        expect(parsed.id).toBe(text.toLowerCase());
        expect(parsePartyId(parsed.id)).toEqual(parsed);
        expect(formatPartyId(parsed)).toBe(parsed.id);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('MSISDN aliases', () => {
  it('accepts E.164 only', () => {
    expect(parseMsisdn('+38970123456')).toBe('+38970123456');
    expect(isMsisdn('+1234567')).toBe(true);
    expect(isMsisdn('+123456789012345')).toBe(true);
    for (const text of [
      '38970123456',
      '0038970123456',
      '+0389701234',
      '+389 70 123 456',
      '+389-70-123456',
      '+1234567890123456',
      '+123456',
      '+',
      '++38970123456',
      '+٣٨٩٧٠١٢٣٤٥٦',
      '+38970123456\n',
    ]) {
      expect(isMsisdn(text)).toBe(false);
    }
    expect(isMsisdn(38970123456)).toBe(false);
    expect(() => parseMsisdn('070123456')).toThrow(expect.objectContaining({ code: 'PARTY_ID_INVALID' }));
  });
});
