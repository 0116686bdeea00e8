import { describe, expect, it } from 'vitest';
import { createGatewayLimits, defaultGatewayLimits } from './limits.ts';

describe('gateway limits', () => {
  it('defaults are valid and frozen', () => {
    const limits = createGatewayLimits();
    expect(limits).toEqual(defaultGatewayLimits);
    expect(Object.isFrozen(limits)).toBe(true);
  });

  it('refuses a value out of bounds, a fraction, an unknown name, and crossed backoff bounds, naming the limit', () => {
    expect(() => createGatewayLimits({ paymentExpirySeconds: 0 })).toThrow(/paymentExpirySeconds/);
    expect(() => createGatewayLimits({ devicePageSize: 1.5 })).toThrow(/devicePageSize/);
    expect(() => createGatewayLimits({ inFlightRequestsMax: Number.NaN })).toThrow(/inFlightRequestsMax/);
    expect(() => createGatewayLimits({ bogus: 1 } as never)).toThrow(/unknown limit bogus/);
    expect(() => createGatewayLimits({ outboxBackoffBaseMs: 5_000, outboxBackoffMaxMs: 1_000 })).toThrow(
      /outboxBackoffBaseMs/,
    );
  });

  it('takes a valid override', () => {
    expect(createGatewayLimits({ paymentRequestsPerCustomerMax: 3 }).paymentRequestsPerCustomerMax).toBe(3);
  });
});
