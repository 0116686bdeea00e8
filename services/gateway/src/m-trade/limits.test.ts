import { describe, expect, it } from 'vitest';
import { createTradeClaimLimits, defaultTradeClaimLimits } from './limits.ts';

describe('m-trade claim limits', () => {
  it('are the defaults, frozen, when nothing is set', () => {
    const limits = createTradeClaimLimits();
    expect(limits).toEqual(defaultTradeClaimLimits);
    expect(Object.isFrozen(limits)).toBe(true);
  });

  it.each([
    [{ openClaimsPerCustomerMax: 0 }, 'openClaimsPerCustomerMax'],
    [{ claimsPerCustomerPerWindowMax: 1.5 }, 'claimsPerCustomerPerWindowMax'],
    [{ claimWindowSeconds: 59 }, 'claimWindowSeconds'],
    [{ openClaimsPerCustomerMax: 10, claimsPerCustomerPerWindowMax: 5 }, 'must not exceed'],
    [{ claimsPerHour: 5 } as object, 'unknown limit'],
  ])('refuses %j at start', (options, message) => {
    expect(() => createTradeClaimLimits(options)).toThrow(message);
  });
});
