import { describe, expect, it } from 'vitest';
import { createGatewayLimits, defaultGatewayLimits, reloadedGatewayLimits } from './limits.ts';

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
    // A lease shorter than a call it covers: the row would be claimed again while still being delivered.
    expect(() => createGatewayLimits({ outboxLeaseMs: 10_000 })).toThrow(
      'gateway limits: outboxLeaseMs (10000) must exceed bankTimeoutMs and webhookTimeoutMs (10000)',
    );
    expect(() => createGatewayLimits({ outboxLeaseMs: 20_000, webhookTimeoutMs: 30_000 })).toThrow(
      /outboxLeaseMs \(20000\) must exceed/,
    );
    expect(createGatewayLimits({ outboxLeaseMs: 10_001 }).outboxLeaseMs).toBe(10_001);
    // A gather of the log line must end well within the lease of the entries it holds.
    expect(() => createGatewayLimits({ outboxLeaseMs: 12_000, logLineGatherMs: 6_000 })).toThrow(
      'gateway limits: logLineGatherMs (6000) must be less than half of outboxLeaseMs (12000)',
    );
    expect(createGatewayLimits({ outboxLeaseMs: 12_000, logLineGatherMs: 5_999 }).logLineGatherMs).toBe(
      5_999,
    );
    expect(() => createGatewayLimits({ logLineGatherMs: 10_001 })).toThrow(/logLineGatherMs/);
    expect(createGatewayLimits({ logLineGatherMs: 0 }).logLineGatherMs).toBe(0);
  });

  it('takes a valid override', () => {
    expect(createGatewayLimits({ paymentRequestsPerCustomerMax: 3 }).paymentRequestsPerCustomerMax).toBe(3);
  });

  it('a reload takes the limits it is given and the defaults for the rest, keeps the start-only ones and names them', () => {
    const current = createGatewayLimits({ paymentRequestsPerCustomerMax: 3, inFlightRequestsMax: 64 });
    const { limits, reload } = reloadedGatewayLimits(current, {
      paymentRequestsPerMerchantMax: 50,
      bodyLimitBytes: 2_048,
    });
    expect(limits).toEqual({
      ...defaultGatewayLimits,
      paymentRequestsPerMerchantMax: 50,
      inFlightRequestsMax: 64,
    });
    expect(Object.isFrozen(limits)).toBe(true);
    // The customer's limit went back to its default: the file no longer names it.
    expect(reload).toEqual({
      changed: ['paymentRequestsPerMerchantMax', 'paymentRequestsPerCustomerMax'],
      atNextStart: ['bodyLimitBytes', 'inFlightRequestsMax'],
    });
    expect(
      reloadedGatewayLimits(limits, { paymentRequestsPerMerchantMax: 50, inFlightRequestsMax: 64 }).reload,
    ).toEqual({
      changed: [],
      atNextStart: [],
    });
    expect(() => reloadedGatewayLimits(current, { outboxLeaseMs: 1_000 })).toThrow(/outboxLeaseMs/);
  });
});
