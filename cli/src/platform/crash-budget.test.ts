import { describe, expect, it } from 'vitest';
import { createCrashBudget, createCrashBudgetOptions } from './crash-budget.ts';

const minute = 60_000;
const at = (ms: number) => new Date(Date.UTC(2026, 11, 6) + ms);

describe('the crash budget of mpay up --processes', () => {
  it('restarts up to restartsMax times within the window, then gives up', () => {
    const budget = createCrashBudget({ restartsMax: 3, windowMs: 10 * minute });
    expect(budget.crashed('gateway', at(0))).toEqual({ restart: true, count: 1 });
    expect(budget.crashed('gateway', at(1 * minute))).toEqual({ restart: true, count: 2 });
    expect(budget.crashed('gateway', at(2 * minute))).toEqual({ restart: true, count: 3 });
    expect(budget.crashed('gateway', at(3 * minute))).toEqual({ restart: false, count: 3 });
    // Each service has its own.
    expect(budget.crashed('xbank', at(3 * minute))).toEqual({ restart: true, count: 1 });
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
    expect(budget2.crashed('log', at(10 * minute))).toEqual({ restart: true, count: 2 });
  });

  it('has validated options', () => {
    expect(createCrashBudgetOptions()).toEqual({ restartsMax: 5, windowMs: 10 * minute });
    expect(() => createCrashBudgetOptions({ restartsMax: 0 })).toThrow(/restartsMax/);
    expect(() => createCrashBudgetOptions({ restartsMax: 1.5 })).toThrow(/restartsMax/);
    expect(() => createCrashBudgetOptions({ windowMs: 999 })).toThrow(/windowMs/);
    expect(() => createCrashBudget({ restartsMax: 101, windowMs: minute })).toThrow(/restartsMax/);
  });
});
