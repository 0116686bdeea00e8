import { describe, expect, it } from 'vitest';
import { requestDeadlineMs, waitFor } from '../../../../test/support/deadlines.ts';
import {
  inBatches,
  itemsPerProgressLine,
  type MeasurePause,
  type Meter,
  measure,
  type Pause,
  type PayingUnit,
} from './e2e-traffic.ts';

/** A meter that counts nothing: measure's lanes are what is under test, not the counting. */
function silentMeter(): Meter {
  return {
    traffic: {} as Meter['traffic'],
    crypto: {
      counts: () => ({}),
      reset: () => undefined,
      active: false,
      samples: new Map(),
      restore: () => undefined,
    },
    counting: false,
  };
}

const timing = { warmupMs: 10, windowMs: 80, mixBudgetMs: 1 } as const;

/** Resolves once `done` holds, looking after every timer turn; fails after a generous named deadline. */
async function until(what: string, done: () => boolean): Promise<void> {
  await waitFor(done, { deadlineMs: requestDeadlineMs, what, intervalMs: 1 });
}

/**
 * A pause that does not watch the clock: the window ends when `windowDone` holds, every other pause
 * (the warm-up, a lane's after a failure) ends at once. What the tests check then does not depend on
 * how late a busy machine runs the timers.
 */
function pauseUntil(windowDone: () => boolean, asked: string[] = []): Pause {
  return (ms: number, what: MeasurePause) => {
    asked.push(`${what} ${ms}`);
    return what === 'window' ? until('the window', windowDone) : Promise.resolve();
  };
}

/** A customer whose payments take `ms`, which records how many of its own were under way at once. */
function customer(ms: number, fails = false) {
  const seen = { attempts: 0, paid: 0, ownAtOnceMax: 0 };
  let own = 0;
  const unit: PayingUnit = {
    async pay() {
      seen.attempts += 1;
      own += 1;
      seen.ownAtOnceMax = Math.max(seen.ownAtOnceMax, own);
      try {
        await new Promise((resolve) => setTimeout(resolve, ms));
        if (fails) throw new Error('refused');
        seen.paid += 1;
        return ms;
      } finally {
        own -= 1;
      }
    },
    close: async () => undefined,
  };
  return { unit, seen };
}

describe('measure: lanes paying for customers in turn', () => {
  it('keeps `lanes` payments under way, never two of one customer at once, every customer in turn', async () => {
    const customers = Array.from({ length: 5 }, () => customer(2));
    let underWay = 0;
    let underWayMax = 0;
    const units = customers.map(({ unit }) => ({
      async pay() {
        underWay += 1;
        underWayMax = Math.max(underWayMax, underWay);
        try {
          return await unit.pay();
        } finally {
          underWay -= 1;
        }
      },
      close: unit.close,
    }));
    // The window ends once every customer has paid twice (each pays only when its turn comes).
    const report = await measure(
      silentMeter(),
      units,
      { ...timing, lanes: 2 },
      () => undefined,
      pauseUntil(() => customers.every(({ seen }) => seen.paid >= 2)),
    );
    expect(report.failures).toBe(0);
    expect(underWayMax).toBe(2);
    expect(report.customersPaid).toBe(5);
    const paid = customers.map(({ seen }) => seen.paid);
    expect(paid.reduce((sum, count) => sum + count, 0)).toBe(report.completedTotal);
    for (const { seen } of customers) expect(seen.ownAtOnceMax).toBe(1);
    // In turn: the one that waited longest goes next, so no customer is more than a round ahead of another.
    expect(Math.max(...paid) - Math.min(...paid)).toBeLessThanOrEqual(2);
  });

  it('puts a customer whose payment failed back in the line after its pause', async () => {
    const failing = customer(1, true);
    const others = [customer(1), customer(1)];
    // One lane over three customers, the first failing every time: the window ends once it has been
    // attempted three times, so its turn came again after each failure and the two others'.
    const asked: string[] = [];
    const report = await measure(
      silentMeter(),
      [failing.unit, ...others.map(({ unit }) => unit)],
      { ...timing, lanes: 1 },
      () => undefined,
      pauseUntil(() => failing.seen.attempts >= 3, asked),
    );
    expect(report.failures).toBe(failing.seen.attempts);
    // Each failure paused its lane for 100 ms (the pause asked for), and only the failures did.
    expect(asked.filter((pause) => pause.startsWith('after-failure'))).toEqual(
      Array.from({ length: failing.seen.attempts }, () => 'after-failure 100'),
    );
    // The warm-up, then the window in two halves (the parent reads the servers' CPU between them).
    expect(asked.slice(0, 2)).toEqual([`warm-up ${timing.warmupMs}`, `window ${timing.windowMs / 2}`]);
    expect(asked.filter((pause) => pause.startsWith('window'))).toEqual([
      `window ${timing.windowMs / 2}`,
      `window ${timing.windowMs / 2}`,
    ]);
    expect(report.customersPaid).toBe(2);
    for (const { seen } of others) expect(seen.paid).toBeGreaterThanOrEqual(failing.seen.attempts - 1);
  });

  it('tells the parent the window’s half, and counts the payments completed in the first half', async () => {
    const only = customer(1);
    const told: string[] = [];
    let paidAtHalf = -1;
    let halves = 0;
    const report = await measure(
      silentMeter(),
      [only.unit],
      { ...timing, windowMs: 81, lanes: 1 },
      (message) => {
        if (message.type === 'progress') return;
        told.push(message.type);
        if (message.type === 'window-half') paidAtHalf = only.seen.paid;
      },
      (ms, what) => {
        if (what !== 'window') return Promise.resolve();
        halves += 1;
        // The first half is 40 ms as asked, the second the rest; each ends after a few more payments.
        expect(ms).toBe(halves === 1 ? 40 : 41);
        const from = only.seen.paid;
        return until(`half ${halves}`, () => only.seen.paid >= from + 3);
      },
    );
    expect(told.slice(0, 3)).toEqual(['window-start', 'window-half', 'window-end']);
    // Every payment completed in the window (the warm-up ended at once, each takes a timer turn).
    expect(report.paymentsFirstHalf).toBe(paidAtHalf);
    expect(report.paymentsFirstHalf).toBeGreaterThanOrEqual(3);
    expect(report.payments).toBeGreaterThanOrEqual(report.paymentsFirstHalf + 3);
  });

  it('stops its lanes when a pause fails: none goes on paying after measure has thrown', async () => {
    const only = customer(1);
    const failed = measure(
      silentMeter(),
      [only.unit],
      { ...timing, lanes: 1 },
      () => undefined,
      (_ms, what) =>
        what === 'window'
          ? until('a few payments', () => only.seen.paid >= 3).then(() => {
              throw new Error('the window failed');
            })
          : Promise.resolve(),
    );
    await expect(failed).rejects.toThrow('the window failed');
    // A lane still running would start another payment within a timer turn or two (each takes one 1-ms timer).
    const attempts = only.seen.attempts;
    for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(only.seen.attempts).toBe(attempts);
  });

  it('refuses more lanes than customers', async () => {
    await expect(
      measure(silentMeter(), [customer(1).unit], { ...timing, lanes: 2 }, () => undefined),
    ).rejects.toThrow('2 lanes for 1 customers');
  });
});

describe('inBatches: a few at a time, with progress', () => {
  it('runs at most atOnce at a time, results in order, progress every 32 and at the end', async () => {
    const items = Array.from({ length: 2 * itemsPerProgressLine + 5 }, (_, index) => `item ${index}`);
    let underWay = 0;
    let underWayMax = 0;
    const lines: number[] = [];
    const results = await inBatches(
      items,
      4,
      async (item, index) => {
        underWay += 1;
        underWayMax = Math.max(underWayMax, underWay);
        // The later ones of a batch end first: the order of the results is still the items'.
        await new Promise((resolve) => setTimeout(resolve, 4 - (index % 4)));
        underWay -= 1;
        return `${item} done`;
      },
      (done) => lines.push(done),
    );
    expect(underWayMax).toBe(4);
    expect(results).toEqual(items.map((item) => `${item} done`));
    // 4 at a time, 69 items: the batches end at 4, 8, …, 68 and 69; a line at 32, 64 and the end.
    expect(lines).toEqual([32, 64, 69]);
    const few: number[] = [];
    await inBatches(
      [1, 2],
      3,
      async (item) => item,
      (done) => few.push(done),
    );
    expect(few).toEqual([]);
  });
});
