import { describe, expect, it } from 'vitest';
import { invalidSmsFieldOf, isSmsSenderId, isSmsText } from './message.ts';

const textMax = 918;

describe('an SMS text', () => {
  it('has 1..918 code points, counted as characters whatever their UTF-16 length', () => {
    expect(isSmsText('x', textMax)).toBe(true);
    expect(isSmsText('x'.repeat(918), textMax)).toBe(true);
    expect(isSmsText('x'.repeat(919), textMax)).toBe(false);
    // 918 characters outside the BMP are 1,836 UTF-16 units: still 918 characters.
    expect(isSmsText('🙂'.repeat(918), textMax)).toBe(true);
    expect(isSmsText('🙂'.repeat(919), textMax)).toBe(false);
    expect(isSmsText('', textMax)).toBe(false);
    expect(isSmsText('abc', 2)).toBe(false);
  });

  it('keeps \\n and refuses every other control character and lone surrogates', () => {
    expect(isSmsText('Ihr Code: 123456\nGültig 5 Minuten. Ђорђе ✓', textMax)).toBe(true);
    for (const character of [
      '\u0000',
      '\t',
      '\r',
      '\u001b',
      '\u007f',
      '\u0085',
      '\u009b',
      '\ud83d',
      '\ude42',
    ]) {
      expect(isSmsText(`code${character}123`, textMax), JSON.stringify(character)).toBe(false);
    }
  });

  it('names the first field that cannot be sent', () => {
    expect(invalidSmsFieldOf({ to: '+38970123456', text: 'hi' }, textMax)).toBeUndefined();
    for (const to of [
      '38970123456',
      '+0123456789',
      '+12345',
      '+1234567890123456',
      '+3897012345a',
      ' +38970123456',
      1,
    ]) {
      expect(invalidSmsFieldOf({ to, text: 'hi' }, textMax), String(to)).toBe('to');
    }
    expect(invalidSmsFieldOf({ to: '+38970123456', text: 7 }, textMax)).toBe('text');
    expect(invalidSmsFieldOf({}, textMax)).toBe('to');
  });
});

describe('a sender id', () => {
  it('is alphanumeric up to 11 characters, or an MSISDN', () => {
    for (const id of ['mpay', 'XBANK', 'A1234567890', '+38970123456'])
      expect(isSmsSenderId(id), id).toBe(true);
    for (const id of ['', 'A12345678901', 'm pay', 'mpay\n', 'ünï', '+0123'])
      expect(isSmsSenderId(id), id).toBe(false);
  });
});
