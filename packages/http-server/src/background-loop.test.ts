import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  backgroundLoopLimitsOf,
  createBackgroundLoop,
  createBackgroundLoopLimits,
  housekeepingSchedule,
} from './background-loop.ts';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

/** A round that records when it ran (fake time) and finds work while `work` says so. */
function recordingRound(work: () => boolean) {
  const ranAt: number[] = [];
  const round = async () => {
    ranAt.push(Date.now());
    return work();
  };
  return { ranAt, round };
}

describe('background loop', () => {
  it('backs off while idle, doubling up to the idle maximum, and comes back at once when kicked', async () => {
    const start = Date.now();
    const { ranAt, round } = recordingRound(() => false);
    const loop = createBackgroundLoop(
      round,
      createBackgroundLoopLimits({ busyIntervalMs: 100, idleIntervalMaxMs: 800 }),
      () => {},
    );
    loop.start();
    await vi.advanceTimersByTimeAsync(5_000);
    const gaps = ranAt.slice(1).map((at, index) => at - (ranAt[index] as number));
    expect(ranAt[0]).toBe(start);
    expect(gaps.slice(0, 5)).toEqual([200, 400, 800, 800, 800]);
    // Idle for 5 s: 9 rounds, where polling every 100 ms would have made 50.
    expect(ranAt.length).toBeLessThan(12);

    const before = ranAt.length;
    loop.kick();
    await vi.advanceTimersByTimeAsync(0);
    expect(ranAt.length).toBe(before + 1);
    // After a kick the idle wait starts again from the busy interval.
    await vi.advanceTimersByTimeAsync(200);
    expect(ranAt.length).toBe(before + 2);
    await loop.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(ranAt.length).toBe(before + 2);
  });

  it('keeps the busy interval while rounds find work', async () => {
    let remaining = 5;
    const { ranAt, round } = recordingRound(() => remaining-- > 0);
    const loop = createBackgroundLoop(
      round,
      createBackgroundLoopLimits({ busyIntervalMs: 100, idleIntervalMaxMs: 10_000 }),
      () => {},
    );
    loop.start();
    await vi.advanceTimersByTimeAsync(550);
    expect(ranAt.map((at) => at - (ranAt[0] as number))).toEqual([0, 100, 200, 300, 400, 500]);
    await loop.stop();
  });

  it('coalesces kicks during a round into one round after it, and reports a failed round', async () => {
    let release: (() => void) | undefined;
    let rounds = 0;
    const errors: unknown[] = [];
    const loop = createBackgroundLoop(
      async () => {
        rounds += 1;
        if (rounds === 1) await new Promise<void>((done) => (release = done));
        if (rounds === 2) throw new Error('database gone');
        return false;
      },
      createBackgroundLoopLimits({ busyIntervalMs: 1_000, idleIntervalMaxMs: 60_000 }),
      (error) => errors.push(error),
    );
    loop.start();
    await vi.advanceTimersByTimeAsync(0);
    loop.kick();
    loop.kick();
    loop.kick();
    expect(rounds).toBe(1);
    release?.();
    await vi.advanceTimersByTimeAsync(0);
    expect(rounds).toBe(2);
    expect(errors).toEqual([new Error('database gone')]);
    // A failed round counts as work: the next comes after the busy interval, not an idle wait.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(rounds).toBe(3);
    await loop.stop();
  });

  it('refuses limits out of range', () => {
    expect(() => createBackgroundLoopLimits({ busyIntervalMs: 0 })).toThrow(/busyIntervalMs/);
    expect(() => createBackgroundLoopLimits({ busyIntervalMs: 86_400_001 })).toThrow(/busyIntervalMs/);
    expect(() => createBackgroundLoopLimits({ busyIntervalMs: 500, idleIntervalMaxMs: 100 })).toThrow(
      /idleIntervalMaxMs/,
    );
    expect(createBackgroundLoopLimits({ busyIntervalMs: 5_000 })).toEqual({
      busyIntervalMs: 5_000,
      idleIntervalMaxMs: 5_000,
    });
  });
});

describe("a service's loop limits", () => {
  it('take the busy interval (default 500 ms) and the idle maximum, never below the busy interval', () => {
    expect(backgroundLoopLimitsOf({}, 2_000)).toEqual({ busyIntervalMs: 500, idleIntervalMaxMs: 2_000 });
    expect(
      backgroundLoopLimitsOf({ backgroundIntervalMs: 250, backgroundIdleIntervalMaxMs: 250 }, 2_000),
    ).toEqual({
      busyIntervalMs: 250,
      idleIntervalMaxMs: 250,
    });
    // Tests that drive rounds themselves set an hour: the idle maximum follows.
    expect(backgroundLoopLimitsOf({ backgroundIntervalMs: 3_600_000 }, 2_000)).toEqual({
      busyIntervalMs: 3_600_000,
      idleIntervalMaxMs: 3_600_000,
    });
  });
});

describe('housekeeping schedule', () => {
  it('is due at first, then every interval of the clock, and again when the clock goes back', () => {
    let now = Date.parse('2026-12-03T12:00:00Z');
    const schedule = housekeepingSchedule(30_000, () => new Date(now));
    expect(schedule.due()).toBe(true);
    schedule.ran();
    now += 29_999;
    expect(schedule.due()).toBe(false);
    now += 1;
    expect(schedule.due()).toBe(true);
    schedule.ran();
    now -= 1;
    expect(schedule.due()).toBe(true);
  });
});
