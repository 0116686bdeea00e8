import { describe, expect, it } from 'vitest';
import {
  chaosTargets,
  customersFor,
  nextCustomer,
  parseChaosOptions,
  planKills,
  seededRandom,
} from './chaos-plan.ts';

const noSeed = () => {
  throw new Error('assertion failed: the seed was given');
};

describe('mpay chaos options', () => {
  it('reads minutes or seconds, kills per minute, lanes, seed and --json in both spellings', () => {
    expect(parseChaosOptions(['--minutes', '10', '--seed=42'], noSeed)).toEqual({
      durationSeconds: 600,
      killsPerMinute: 2,
      lanes: 3,
      seed: 42,
      json: false,
    });
    expect(
      parseChaosOptions(
        ['--seconds=40', '--kills-per-minute', '12', '--lanes', '2', '--seed', '7', '--json'],
        noSeed,
      ),
    ).toEqual({ durationSeconds: 40, killsPerMinute: 12, lanes: 2, seed: 7, json: true });
  });

  it('draws a seed when none is given', () => {
    expect(parseChaosOptions([], () => 1234).seed).toBe(1234);
  });

  it.each([
    [['--minutes', '1', '--seconds', '30'], 'not both'],
    [['--seconds', '5'], '10..86400'],
    [['--minutes', '1441'], '1..1440'],
    [['--lanes', '0'], '1..16'],
    [['--lanes', '17'], '1..16'],
    [['--kills-per-minute', '31'], '0..30'],
    [['--seed', '4294967296'], '0..4294967295'],
    [['--seed', '-1'], 'whole number'],
    [['--seconds', '1e3'], 'whole number'],
    [['--lanes', '2', '--lanes', '3'], 'twice'],
    [['--kill', 'gateway'], 'unknown option'],
    [['gateway'], 'unexpected argument'],
  ])('refuses %j (%s)', (args, reason) => {
    expect(() => parseChaosOptions(args, () => 1)).toThrow(reason);
  });
});

describe('the kill plan', () => {
  const options = { durationSeconds: 40, killsPerMinute: 12, lanes: 2, seed: 7, json: false };

  it('is the same for the same seed and differs for another', () => {
    expect(planKills(options)).toEqual(planKills(options));
    expect(planKills({ ...options, seed: 8 })).not.toEqual(planKills(options));
  });

  it('kills killsPerMinute × minutes times, in order over the run, every service once in each round', () => {
    const plan = planKills(options);
    expect(plan).toHaveLength(8);
    expect([...new Set(plan.slice(0, chaosTargets.length).map((kill) => kill.target))].sort()).toEqual(
      [...chaosTargets].sort(),
    );
    for (const [index, kill] of plan.entries()) {
      expect(kill.atMs).toBeGreaterThan(0);
      expect(kill.atMs).toBeLessThanOrEqual(40_000);
      if (index > 0) expect(kill.atMs).toBeGreaterThan(plan[index - 1]!.atMs);
      expect(kill.jitterMs).toBeGreaterThanOrEqual(0);
      expect(kill.jitterMs).toBeLessThanOrEqual(400);
    }
    expect(planKills({ ...options, killsPerMinute: 0 })).toEqual([]);
  });

  it('draws numbers in [0, 1) from a seed, repeatably', () => {
    const a = seededRandom(99);
    const b = seededRandom(99);
    const drawn = Array.from({ length: 1000 }, () => a());
    expect(drawn).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(Math.min(...drawn)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...drawn)).toBeLessThan(1);
    expect(new Set(drawn).size).toBeGreaterThan(990);
  });

  it('enrols enough customers for the gateway’s rate per customer', () => {
    expect(customersFor(1)).toBe(6);
    expect(customersFor(3)).toBe(18);
  });

  it('paces each customer to the gateway’s rate: the next with room, round the list, else the wait for one', () => {
    const rate = { perWindowMax: 2, windowMs: 60_000 };
    const now = 100_000;
    // Customer 0 had two in the window, 1 one, 2 two long ago.
    const started = [[50_000, 90_000], [95_000], [10_000, 20_000]];
    expect(nextCustomer(started, 0, rate, now)).toEqual({ customer: 1 });
    expect(nextCustomer(started, 2, rate, now)).toEqual({ customer: 2 });
    // Every customer full: the wait until the earliest has room (customer 0's 50 s request leaves at 110 s).
    const full = [
      [50_000, 90_000],
      [60_000, 95_000],
    ];
    expect(nextCustomer(full, 0, rate, now)).toEqual({ waitMs: 10_001 });
    expect(nextCustomer(full, 1, rate, now)).toEqual({ waitMs: 10_001 });
    // One past its window is free again.
    expect(nextCustomer(full, 1, rate, 110_001)).toEqual({ customer: 0 });
  });
});
