import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './retry.ts';

describe('retryDelayMs', () => {
  const limits = { outboxBackoffBaseMs: 250, outboxBackoffMaxMs: 600_000 };

  it('doubles per attempt from the base until the cap (lowest draw: half the ceiling)', () => {
    const lowest = () => 0;
    const delays = [0, 1, 2, 3, 4].map((attempts) => retryDelayMs(attempts, limits, lowest));
    expect(delays).toEqual([125, 250, 500, 1_000, 2_000]);
    expect(retryDelayMs(40, limits, lowest)).toBe(300_000);
    expect(retryDelayMs(1_000_000, limits, () => 0.999_999)).toBeLessThanOrEqual(600_000);
  });

  it('stays within [ceiling/2, ceiling] for every attempt count, limit pair and draw in [0, 1)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 86_400_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempts, base, max, draw) => {
          fc.pre(base <= max);
          const ceiling = Math.min(max, base * 2 ** Math.min(attempts, 30));
          const delay = retryDelayMs(
            attempts,
            { outboxBackoffBaseMs: base, outboxBackoffMaxMs: max },
            () => draw,
          );
          return Number.isSafeInteger(delay) && delay >= ceiling / 2 && delay <= ceiling && delay <= max;
        },
      ),
    );
  });

  it('never shrinks as attempts grow, for the same draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempts, draw) =>
          retryDelayMs(attempts + 1, limits, () => draw) >= retryDelayMs(attempts, limits, () => draw),
      ),
    );
  });
});
