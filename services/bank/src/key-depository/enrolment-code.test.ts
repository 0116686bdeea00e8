import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { enrolmentCodeHash, enrolmentCodeMatches, newEnrolmentCode } from './enrolment-code.ts';

describe('enrolment codes', () => {
  it('are 16 Crockford base32 characters, all different over many draws', () => {
    const codes = Array.from({ length: 1_000 }, newEnrolmentCode);
    for (const code of codes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{16}$/);
    expect(new Set(codes).size).toBe(codes.length);
    // Every character of the alphabet is drawn: 80 bits, no bias towards a subset.
    expect(new Set(codes.join('')).size).toBe(32);
  });

  it('match as people type them: any case, hyphens and spaces, O for 0, I and L for 1', () => {
    const code = '0123456789ABCDEF';
    const hash = enrolmentCodeHash(code);
    expect(hash).toBe(createHash('sha256').update(code).digest('hex'));
    for (const typed of [
      '0123456789abcdef',
      '0123-4567-89AB-CDEF',
      '0123 4567 89ab cdef',
      'O123456789ABCDEF'.slice(0, 16),
      'OI23456789ABCDEF',
      '0L23456789abcdef',
    ]) {
      expect(enrolmentCodeMatches(typed, hash), typed).toBe(true);
    }
  });

  it('never match another code, a malformed one or an empty one', () => {
    const hash = enrolmentCodeHash('0123456789ABCDEF');
    for (const typed of [
      '0123456789ABCDEE',
      '0123456789ABCDE',
      '0123456789ABCDEFG',
      'U123456789ABCDEF',
      '',
      '0123456789ABCDEF\u0000',
    ]) {
      expect(enrolmentCodeMatches(typed, hash), JSON.stringify(typed)).toBe(false);
    }
    expect(() => enrolmentCodeHash('not a code')).toThrow('assertion failed');
  });
});
