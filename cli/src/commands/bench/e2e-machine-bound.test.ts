import { describe, expect, it } from 'vitest';
import { machineBound, machineBoundText } from './e2e-machine-bound.ts';

describe('what the machine leaves the servers (mpay bench e2e)', () => {
  it('bounds payments/s by the cores over the driver’s and the database’s CPU', () => {
    // The twenty-first session's run: 2 cores, driver 23.5 ms, PostgreSQL 18.6 ms, ceiling 199.1/s.
    const bound = machineBound({ cores: 2, ceilingPerSecond: 199.1, driverMs: 23.5, databaseMs: 18.6 });
    expect(bound.payments_per_second_without_servers).toBe(47.5);
    expect(bound.ratio_without_servers).toBe(0.239);
    // 2000 / (0.3 × 199.1) = 33.5 ms for everything; the driver and the database take 42.1 already.
    expect(bound.servers_cpu_ms_for_target_ratio).toBe(-8.6);
    expect(machineBoundText(bound)).toContain('out of reach');
  });

  it('leaves the servers room when the others are cheap, and PGlite counts the driver alone', () => {
    const bound = machineBound({ cores: 4, ceilingPerSecond: 250, driverMs: 10, databaseMs: undefined });
    expect(bound.payments_per_second_without_servers).toBe(400);
    expect(bound.ratio_without_servers).toBe(1.6);
    // 4000 / 75 = 53.3 ms for everything, less the driver's 10.
    expect(bound.servers_cpu_ms_for_target_ratio).toBe(43.3);
    expect(machineBoundText(bound)).toBe(
      '4 cores: with the driver as they ran, at most 400 payments/s even if the servers cost nothing (ratio 1.6); ratio 0.3 needs the servers at ≤ 43.3 ms/payment',
    );
  });

  it('says nothing it did not measure, and refuses a machine without cores', () => {
    const bound = machineBound({ cores: 2, ceilingPerSecond: 0, driverMs: 0, databaseMs: undefined });
    expect(bound.payments_per_second_without_servers).toBeNull();
    expect(bound.servers_cpu_ms_for_target_ratio).toBeNull();
    expect(() => machineBound({ cores: 0, ceilingPerSecond: 1, driverMs: 1, databaseMs: 1 })).toThrow(
      /cores/,
    );
  });
});
