import { isMpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { gatewayCountOf, gatewaysFromFlags } from './gateway-front.ts';
import { startPlatform } from './start.ts';

const codeOf = (run: () => unknown): string | undefined => {
  try {
    run();
    return undefined;
  } catch (error) {
    return isMpayError(error) ? error.code : String(error);
  }
};

describe('how many gateway instances', () => {
  it('is one by default, more only on PostgreSQL, and a whole number in 1..16', () => {
    expect(gatewayCountOf({})).toBe(1);
    expect(gatewayCountOf({ gateways: 3, databaseUrl: 'postgres://db/x' })).toBe(3);
    expect(codeOf(() => gatewayCountOf({ gateways: 2 }))).toBe('CONFIGURATION_INVALID');
    expect(() => gatewayCountOf({ gateways: 2 })).toThrow(
      expect.objectContaining({ detail: expect.stringMatching(/shared PostgreSQL \(DATABASE_URL\)/) }),
    );
    for (const gateways of [0, 1.5, 17, Number.NaN])
      expect(codeOf(() => gatewayCountOf({ gateways, databaseUrl: 'postgres://db/x' }))).toBe(
        'CONFIGURATION_INVALID',
      );
  });

  it('comes from --gateways, else MPAY_GATEWAYS', () => {
    expect(gatewaysFromFlags(new Map(), {})).toBeUndefined();
    expect(gatewaysFromFlags(new Map(), { MPAY_GATEWAYS: '2' })).toBe(2);
    expect(gatewaysFromFlags(new Map([['gateways', '3']]), { MPAY_GATEWAYS: '2' })).toBe(3);
    expect(codeOf(() => gatewaysFromFlags(new Map([['gateways', 'two']]), {}))).toBe('CONFIGURATION_INVALID');
  });

  it('refuses several gateways on the embedded database before starting anything', async () => {
    await expect(startPlatform({ gateways: 2 })).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
  });
});
