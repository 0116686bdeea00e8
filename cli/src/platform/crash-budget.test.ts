import { describe, expect, it } from 'vitest';
import {
  crashBudgetOptionsFromFlags,
  createCrashBudget,
  createCrashBudgetOptions,
  restartDelayMs,
} from './crash-budget.ts';

const minute = 60_000;
const at = (ms: number) => new Date(Date.UTC(2026, 11, 6) + ms);

describe('the crash budget of mpay up --processes', () => {
  it('restarts up to restartsMax times within the window, then gives up', () => {
    const budget = createCrashBudget({ restartsMax: 3, windowMs: 10 * minute });
    expect(budget.crashed('gateway', at(0))).toEqual({ restart: true, count: 1, delayMs: 0 });
    expect(budget.crashed('gateway', at(1 * minute))).toEqual({ restart: true, count: 2, delayMs: 1_000 });
    expect(budget.crashed('gateway', at(2 * minute))).toEqual({ restart: true, count: 3, delayMs: 2_000 });
    expect(budget.crashed('gateway', at(3 * minute))).toEqual({ restart: false, count: 3 });
    // Each service has its own.
    expect(budget.crashed('xbank', at(3 * minute))).toEqual({ restart: true, count: 1, delayMs: 0 });
  });

  it('forgets restarts older than the window: crashes hours apart are restarted every time', () => {
    const budget = createCrashBudget({ restartsMax: 2, windowMs: 10 * minute });
    for (let hour = 0; hour < 24; hour++) {
      expect(budget.crashed('log', at(hour * 60 * minute)).restart).toBe(true);
    }
    // Two within the window; the third, 10 minutes after the first, finds the first gone.
    const budget2 = createCrashBudget({ restartsMax: 2, windowMs: 10 * minute });
    budget2.crashed('log', at(0));
    budget2.crashed('log', at(5 * minute));
    expect(budget2.crashed('log', at(9 * minute)).restart).toBe(false);
    expect(budget2.crashed('log', at(10 * minute))).toEqual({ restart: true, count: 2, delayMs: 1_000 });
  });

  it('pauses before each restart after the first within the window, doubling up to the max', () => {
    const options = createCrashBudgetOptions({
      restartsMax: 100,
      windowMs: 86_400_000,
      restartDelayBaseMs: 1_000,
      restartDelayMaxMs: 30_000,
    });
    expect([1, 2, 3, 4, 5, 6, 7, 100].map((count) => restartDelayMs(options, count))).toEqual([
      0, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000,
    ]);
    const none = createCrashBudgetOptions({ restartDelayBaseMs: 0, restartDelayMaxMs: 0 });
    expect(restartDelayMs(none, 5)).toBe(0);
  });

  it('takes --restarts and --restart-window (minutes) from an operator, and refuses anything else', () => {
    expect(crashBudgetOptionsFromFlags(new Map())).toEqual(createCrashBudgetOptions());
    expect(
      crashBudgetOptionsFromFlags(
        new Map([
          ['restarts', '2'],
          ['restart-window', '1'],
        ]),
      ),
    ).toMatchObject({ restartsMax: 2, windowMs: minute });
    // More restarts than the pauses leave room for in the window: never given up on, so refused.
    expect(() =>
      crashBudgetOptionsFromFlags(
        new Map([
          ['restarts', '100'],
          ['restart-window', '10'],
        ]),
      ),
    ).toThrow(
      expect.objectContaining({
        code: 'CONFIGURATION_INVALID',
        detail: expect.stringMatching(/never be given up on/),
      }),
    );
    expect(crashBudgetOptionsFromFlags(new Map([['restarts', '20']]))).toMatchObject({ restartsMax: 20 });
    for (const [flag, text] of [
      ['restarts', '0'],
      ['restarts', '101'],
      ['restarts', '2.5'],
      ['restarts', ''],
      ['restart-window', '0'],
      ['restart-window', '1441'],
      ['restart-window', '-3'],
      ['restart-window', '1e3'],
    ] as const) {
      expect(() => crashBudgetOptionsFromFlags(new Map([[flag, text]])), `${flag} ${text}`).toThrow(
        expect.objectContaining({
          code: 'CONFIGURATION_INVALID',
          detail: expect.stringContaining(`--${flag}`),
        }),
      );
    }
  });

  it('has validated options', () => {
    expect(createCrashBudgetOptions()).toEqual({
      restartsMax: 5,
      windowMs: 10 * minute,
      restartDelayBaseMs: 1_000,
      restartDelayMaxMs: 30_000,
    });
    expect(() => createCrashBudgetOptions({ restartDelayBaseMs: -1 })).toThrow(/restartDelayBaseMs/);
    expect(() => createCrashBudgetOptions({ restartDelayBaseMs: 2_000, restartDelayMaxMs: 1_000 })).toThrow(
      /restartDelayMaxMs/,
    );
    expect(() => createCrashBudgetOptions({ restartsMax: 0 })).toThrow(/restartsMax/);
    expect(() => createCrashBudgetOptions({ restartsMax: 1.5 })).toThrow(/restartsMax/);
    expect(() => createCrashBudgetOptions({ windowMs: 999 })).toThrow(/windowMs/);
    expect(() => createCrashBudget({ restartsMax: 101, windowMs: minute })).toThrow(/restartsMax/);
  });
});
