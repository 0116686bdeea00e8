import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SecurityLevel } from './security-level.ts';
import {
  assessSecurity,
  defaultSecurityPolicy,
  isLevelAtLeast,
  parseSecurityPolicy,
  type RecentPayment,
  securityLevelFloor,
  securityPolicyToJson,
} from './security-policy.ts';

const now = new Date('2026-12-02T12:00:00Z');
const eur = (minor: bigint) => ({ currency: 'EUR', minor });
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000);

/** Pays `pieces` one after the other, each assessed against the ones before; returns the levels. */
function payInPieces(pieces: readonly bigint[]): SecurityLevel[] {
  const history: RecentPayment[] = [];
  return pieces.map((minor, index) => {
    const at = minutesAgo(pieces.length - index);
    const { level } = assessSecurity(eur(minor), history, defaultSecurityPolicy, at);
    history.push({ amountMinor: minor, level, at, authenticated: true });
    return level;
  });
}

describe('assessSecurity with the default policy', () => {
  it('gives each amount alone its level (bounds inclusive)', () => {
    const level = (minor: bigint) => assessSecurity(eur(minor), [], defaultSecurityPolicy, now).level;
    expect([level(1n), level(30_00n), level(30_01n), level(500_00n), level(500_01n)]).toEqual([
      'small',
      'small',
      'medium',
      'medium',
      'large',
    ]);
  });

  it('lists the protections of the level: the exemption when small, the PIN from medium, everything when large', () => {
    expect(assessSecurity(eur(10_00n), [], defaultSecurityPolicy, now).protections).toContain(
      'low_value_exemption',
    );
    expect(assessSecurity(eur(100_00n), [], defaultSecurityPolicy, now).protections).toContain('pin');
    expect(assessSecurity(eur(900_00n), [], defaultSecurityPolicy, now).protections).toEqual([
      'merchant_signature',
      'fsp_countersignature',
      'customer_signature',
      'pin',
      'private_data_sealed',
      'second_factor',
      'bank_approval',
    ]);
  });

  it('steps a €900 purchase split into €29 pieces up at the 4th piece (€116 since the last full authentication)', () => {
    const levels = payInPieces(Array.from({ length: 32 }, () => 29_00n));
    expect(levels.slice(0, 4)).toEqual(['small', 'small', 'small', 'medium']);
    // After each full authentication three more small pieces, never more.
    for (let index = 3; index < levels.length; index += 1) {
      const window = levels.slice(index - 3, index + 1);
      expect(
        window.every((level) => level === 'small'),
        `pieces ${index - 3}..${index}`,
      ).toBe(false);
    }
    // And the sum since the last large payment brings in the large level too.
    expect(levels).toContain('large');
  });

  it('steps up on the count: the 6th €1 payment since the last full authentication is medium', () => {
    expect(payInPieces([1_00n, 1_00n, 1_00n, 1_00n, 1_00n, 1_00n])).toEqual([
      'small',
      'small',
      'small',
      'small',
      'small',
      'medium',
    ]);
  });

  it('steps a €900 purchase split into €400 pieces up to large at the 2nd piece', () => {
    expect(payInPieces([400_00n, 400_00n, 100_00n])).toEqual(['medium', 'large', 'medium']);
  });

  it('restarts the counters only at an authorised payment: a large request left unconfirmed resets nothing', () => {
    const confirmed: RecentPayment = {
      amountMinor: 490_00n,
      level: 'medium',
      at: minutesAgo(10),
      authenticated: true,
    };
    const pendingLarge: RecentPayment = {
      amountMinor: 600_00n,
      level: 'large',
      at: minutesAgo(5),
      authenticated: false,
    };
    expect(assessSecurity(eur(490_00n), [confirmed, pendingLarge], defaultSecurityPolicy, now).level).toBe(
      'large',
    );
    const pendingMedium: RecentPayment = {
      amountMinor: 40_00n,
      level: 'medium',
      at: minutesAgo(5),
      authenticated: false,
    };
    const smalls: RecentPayment[] = [1, 2, 3].map((minutes) => ({
      amountMinor: 29_00n,
      level: 'small',
      at: minutesAgo(10 + minutes),
      authenticated: true,
    }));
    expect(assessSecurity(eur(29_00n), [...smalls, pendingMedium], defaultSecurityPolicy, now).level).toBe(
      'medium',
    );
  });

  it('forgets payments older than the window', () => {
    const old: RecentPayment[] = [
      { amountMinor: 90_00n, level: 'small', at: minutesAgo(25 * 60), authenticated: true },
    ];
    expect(assessSecurity(eur(20_00n), old, defaultSecurityPolicy, now).level).toBe('small');
    const recent: RecentPayment[] = [
      { amountMinor: 90_00n, level: 'small', at: minutesAgo(60), authenticated: true },
    ];
    expect(assessSecurity(eur(20_00n), recent, defaultSecurityPolicy, now).level).toBe('medium');
  });

  it('treats a currency without policy as large', () => {
    expect(assessSecurity({ currency: 'GBP', minor: 1n }, [], defaultSecurityPolicy, now).level).toBe(
      'large',
    );
    expect(securityLevelFloor({ currency: 'GBP', minor: 1n }, defaultSecurityPolicy)).toBe('large');
  });

  it('property: splitting never gives a lower level than the amount alone, and the level is never below the floor', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ minor: fc.bigInt({ min: 1n, max: 1_000_00n }), minutes: fc.nat(3000) }), {
          maxLength: 20,
        }),
        fc.bigInt({ min: 1n, max: 2_000_00n }),
        (past, minor) => {
          const history: RecentPayment[] = past.map(({ minor: amountMinor, minutes }) => ({
            amountMinor,
            level: assessSecurity(eur(amountMinor), [], defaultSecurityPolicy, now).level,
            at: minutesAgo(minutes),
            authenticated: minutes % 2 === 0,
          }));
          const { level } = assessSecurity(eur(minor), history, defaultSecurityPolicy, now);
          expect(isLevelAtLeast(level, securityLevelFloor(eur(minor), defaultSecurityPolicy))).toBe(true);
          expect(
            isLevelAtLeast(level, assessSecurity(eur(minor), [], defaultSecurityPolicy, now).level),
          ).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// biome-ignore lint/suspicious/noExplicitAny: configuration as JSON, changed freely by each case
type PolicyJson = Record<string, any>;

describe('parseSecurityPolicy', () => {
  const valid = () => securityPolicyToJson(defaultSecurityPolicy) as PolicyJson;

  it('reads back what it writes', () => {
    expect(parseSecurityPolicy(valid())).toEqual(defaultSecurityPolicy);
  });

  it.each<[string, (policy: PolicyJson) => void, string]>([
    ['an unknown field', (p) => (p.extra = 1), '(root).extra: unknown field'],
    ['a lower-case currency', (p) => (p.currencies.eur = p.currencies.EUR), 'currencies.eur'],
    ['a zero amount', (p) => (p.currencies.EUR.small.amountMaxMinor = '0'), 'small.amountMaxMinor'],
    ['a fractional amount', (p) => (p.currencies.EUR.small.amountMaxMinor = '1.5'), 'small.amountMaxMinor'],
    [
      'medium not above small',
      (p) => (p.currencies.EUR.medium.amountMaxMinor = '3000'),
      'medium.amountMaxMinor: not above',
    ],
    ['no count', (p) => delete p.currencies.EUR.small.countMax, 'small.countMax: missing'],
    [
      'a level without the chain',
      (p) => (p.levels.medium = ['customer_signature', 'pin']),
      'must include merchant_signature',
    ],
    [
      'both the PIN and the exemption',
      (p) => p.levels.small.push('pin'),
      'exactly one of pin and low_value_exemption',
    ],
    ['an unknown protection', (p) => p.levels.large.push('retina'), 'unknown protection retina'],
    [
      'a second factor below large',
      (p) => p.levels.medium.push('second_factor'),
      'second_factor is required at large, and only there',
    ],
    [
      'sealing asked at medium but not at large',
      (p) => {
        p.levels.medium.splice(p.levels.medium.indexOf('pin') + 1, 0, 'private_data_sealed');
        p.levels.large.splice(p.levels.large.indexOf('private_data_sealed'), 1);
      },
      'must include what medium requires (private_data_sealed)',
    ],
    [
      'the exemption above small',
      (p) => (p.levels.medium = p.levels.small),
      'low_value_exemption applies to small payments only',
    ],
  ])('refuses %s, naming the field', (_name, change, message) => {
    const policy = valid();
    change(policy);
    expect(() => parseSecurityPolicy(policy)).toThrow(message);
  });
});
