import { describe, expect, it } from 'vitest';
import { cpuPerPaymentByHalf, stillWarming, stillWarmingLine, stillWarmingRatio } from './e2e-warmup.ts';

describe('the window in halves (mpay bench e2e)', () => {
  it('divides each half’s CPU by the payments completed in it', () => {
    // 300 ms over 10 payments, then 400 ms over 20: 30 and 20 ms per payment.
    expect(cpuPerPaymentByHalf(700, 300, 30, 10)).toEqual({ first: 30, second: 20 });
    expect(cpuPerPaymentByHalf(100, 33.333, 6, 3)).toEqual({ first: 11.1, second: 22.2 });
  });

  it('cannot tell without both readings or with a half in which nothing completed', () => {
    expect(cpuPerPaymentByHalf(undefined, 10, 4, 2)).toBeNull();
    expect(cpuPerPaymentByHalf(20, undefined, 4, 2)).toBeNull();
    expect(cpuPerPaymentByHalf(20, 10, 4, 0)).toBeNull();
    expect(cpuPerPaymentByHalf(20, 10, 4, 4)).toBeNull();
    expect(stillWarming(null)).toBe(false);
    expect(stillWarmingLine(null)).toBeUndefined();
  });

  it('says the servers were still warming up from a first half stillWarmingRatio times the second, not below', () => {
    expect(stillWarmingRatio).toBe(1.2);
    expect(stillWarming({ first: 24, second: 20 })).toBe(true);
    expect(stillWarming({ first: 23.9, second: 20 })).toBe(false);
    // A second half dearer than the first is the machine's noise, not a warm-up.
    expect(stillWarming({ first: 20, second: 30 })).toBe(false);
    expect(stillWarmingLine({ first: 26.8, second: 21.8 })).toBe(
      "the window's first half took 23 % more server CPU per payment than its second (26.8 against 21.8 ms): the servers were still warming up; a longer --warmup measures them settled",
    );
    expect(stillWarmingLine({ first: 21, second: 20 })).toBeUndefined();
  });
});
