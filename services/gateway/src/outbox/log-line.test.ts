import { describe, expect, it } from 'vitest';
import { requestDeadlineMs, waitFor } from '../../../../test/support/deadlines.ts';
import type { GatewayContext } from '../context.ts';
import type { OutboxRow } from '../payments/store.ts';
import { LogLine, type LogLineRow } from './log-line.ts';

/** Two stand-in contexts: the line only tells them apart, it never reads them. */
const contextA = { name: 'a' } as unknown as GatewayContext;
const contextB = { name: 'b' } as unknown as GatewayContext;

function rowOf(id: string, until = new Date(60_000)): LogLineRow {
  const row: OutboxRow = { id, payment_id: `payment-${id}`, kind: 'log_entry', payload: '{}', attempts: 0 };
  return { row, until };
}

/** A line whose deliveries wait until the test lets each go, recording what each got. */
function heldLine(waitingMax = 8) {
  const deliveries: { context: GatewayContext; ids: string[]; until: number[] }[] = [];
  const releases: (() => void)[] = [];
  const errors: unknown[] = [];
  let failNext = false;
  const line = new LogLine({
    deliver: async (context, rows) => {
      deliveries.push({
        context,
        ids: rows.map(({ row }) => row.id),
        until: rows.map(({ until }) => until.getTime()),
      });
      await new Promise<void>((resolve) => releases.push(resolve));
      if (failNext) {
        failNext = false;
        throw new Error('the database went away');
      }
    },
    onError: (error) => errors.push(error),
    waitingMax: () => waitingMax,
  });
  const releaseNext = async () => {
    const deadline = Date.now() + 30_000;
    while (releases.length === 0) {
      if (Date.now() > deadline) throw new Error('no delivery under way to release');
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    releases.shift()?.();
  };
  return {
    line,
    deliveries,
    errors,
    releaseNext,
    failNext: () => {
      failNext = true;
    },
  };
}

describe('the log line (the outbox beside the rounds, for the log’s entries)', () => {
  it('delivers one batch at a time; the rows handed in meanwhile go together in the next', async () => {
    const { line, deliveries, releaseNext } = heldLine();
    expect(line.add(contextA, [rowOf('1'), rowOf('2')])).toBe(0);
    // Handing in does not wait for the delivery.
    line.add(contextA, [rowOf('3')]);
    line.add(contextA, [rowOf('4')]);
    expect(line.waiting).toBe(2);
    let drained = false;
    const drain = line.drained().then(() => {
      drained = true;
    });
    await releaseNext();
    await releaseNext();
    await drain;
    expect(drained).toBe(true);
    expect(deliveries.map(({ ids }) => ids)).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
    expect(line.waiting).toBe(0);
  });

  it('keeps a row handed in again once, with its later lease', async () => {
    const { line, deliveries, releaseNext } = heldLine();
    line.add(contextA, [rowOf('1')]);
    line.add(contextA, [rowOf('2', new Date(1_000)), rowOf('3')]);
    // Claimed again after its lease ended, while the line was held: one row, the later lease.
    line.add(contextA, [rowOf('2', new Date(2_000))]);
    expect(line.waiting).toBe(2);
    await releaseNext();
    await releaseNext();
    await line.drained();
    expect(deliveries[1]).toMatchObject({ ids: ['3', '2'], until: [60_000, 2_000] });
  });

  it('leaves the rows beyond its bound (they stay leased and come due again) and counts them', async () => {
    const { line, deliveries, releaseNext } = heldLine(2);
    line.add(contextA, [rowOf('1')]);
    // The delivery under way does not count: one row waits, the line has room.
    expect(line.full).toBe(false);
    expect(line.add(contextA, [rowOf('2'), rowOf('3'), rowOf('4')])).toBe(1);
    // Full: the gateway leases no new step's effects to this start meanwhile (service.ts's accepts).
    expect(line.full).toBe(true);
    // A row already waiting is no new row: taken again even at the bound.
    expect(line.add(contextA, [rowOf('3')])).toBe(0);
    expect(line.left).toBe(1);
    await releaseNext();
    // Once the next delivery took its two rows: room again.
    await waitFor(() => deliveries.length === 2, {
      deadlineMs: requestDeadlineMs,
      what: 'the second delivery to start',
    });
    expect(line.full).toBe(false);
    await releaseNext();
    await line.drained();
    expect(deliveries.map(({ ids }) => ids)).toEqual([['1'], ['2', '3']]);
  });

  it('says the rows it left at most once per interval, each row once', async () => {
    const { line, releaseNext } = heldLine(1);
    line.add(contextA, [rowOf('1')]);
    expect(line.leftToSay(0, 60_000)).toBe(0);
    line.add(contextA, [rowOf('2'), rowOf('3'), rowOf('4')]);
    expect(line.leftToSay(1_000, 60_000)).toBe(2);
    line.add(contextA, [rowOf('5')]);
    // Within the interval: not said again, and not forgotten.
    expect(line.leftToSay(30_000, 60_000)).toBe(0);
    expect(line.leftToSay(61_000, 60_000)).toBe(1);
    expect(line.leftToSay(200_000, 60_000)).toBe(0);
    expect(line.left).toBe(3);
    await releaseNext();
    await releaseNext();
    await line.drained();
  });

  it('delivers the rows of each context apart, in the order handed in', async () => {
    const { line, deliveries, releaseNext } = heldLine();
    line.add(contextA, [rowOf('1')]);
    line.add(contextA, [rowOf('2')]);
    line.add(contextB, [rowOf('3')]);
    line.add(contextA, [rowOf('4')]);
    for (let delivery = 0; delivery < 4; delivery += 1) await releaseNext();
    await line.drained();
    expect(deliveries.map(({ context, ids }) => [context, ids])).toEqual([
      [contextA, ['1']],
      [contextA, ['2']],
      [contextB, ['3']],
      [contextA, ['4']],
    ]);
  });

  it('reports a delivery that failed and goes on with the next', async () => {
    const { line, deliveries, errors, releaseNext, failNext } = heldLine();
    failNext();
    line.add(contextA, [rowOf('1')]);
    line.add(contextA, [rowOf('2')]);
    await releaseNext();
    await releaseNext();
    await line.drained();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('the database went away');
    expect(deliveries.map(({ ids }) => ids)).toEqual([['1'], ['2']]);
    // Idle again: the next hand-in starts a delivery of its own.
    line.add(contextA, [rowOf('5')]);
    await releaseNext();
    await line.drained();
    expect(deliveries.at(-1)?.ids).toEqual(['5']);
  });
});

describe('the log line gathers before each delivery (logLineGatherMs)', () => {
  /** A line whose deliveries end at once, recording what each got. */
  function gatheringLine(gatherMs: number, waitingMax = 4) {
    const deliveries: string[][] = [];
    const line = new LogLine({
      deliver: async (_context, rows) => {
        deliveries.push(rows.map(({ row }) => row.id));
      },
      onError: (error) => {
        throw error;
      },
      waitingMax: () => waitingMax,
      gatherMs: () => gatherMs,
    });
    return { line, deliveries };
  }

  it('sends the rows handed in while it gathers in one delivery; a drain ends the gather, and none starts while it is waited for', async () => {
    const deliveries: string[][] = [];
    const releases: (() => void)[] = [];
    // A gather far longer than the test: only a drain, or a full line, can end it.
    const line = new LogLine({
      deliver: async (_context, rows) => {
        deliveries.push(rows.map(({ row }) => row.id));
        await new Promise<void>((resolve) => releases.push(resolve));
      },
      onError: (error) => {
        throw error;
      },
      waitingMax: () => 8,
      gatherMs: () => 3_600_000,
    });
    line.add(contextA, [rowOf('1')]);
    await Promise.resolve();
    line.add(contextA, [rowOf('2')]);
    line.add(contextA, [rowOf('3')]);
    expect(deliveries).toEqual([]);
    const draining = line.drained();
    await waitFor(() => releases.length === 1, { deadlineMs: requestDeadlineMs, what: 'the first delivery' });
    expect(deliveries).toEqual([['1', '2', '3']]);
    // Handed in while the drain is waited for and a delivery is under way: the next goes without gathering.
    line.add(contextA, [rowOf('4')]);
    releases.shift()?.();
    await waitFor(() => releases.length === 1, {
      deadlineMs: requestDeadlineMs,
      what: 'the second delivery',
    });
    expect(deliveries).toEqual([['1', '2', '3'], ['4']]);
    releases.shift()?.();
    await draining;
  });

  it('ends the gather once as many rows wait as the line holds', async () => {
    const { line, deliveries } = gatheringLine(3_600_000, 3);
    line.add(contextA, [rowOf('1'), rowOf('2')]);
    await Promise.resolve();
    expect(deliveries).toEqual([]);
    line.add(contextA, [rowOf('3')]);
    await waitFor(() => deliveries.length === 1, { deadlineMs: requestDeadlineMs, what: 'the full batch' });
    expect(deliveries).toEqual([['1', '2', '3']]);
  });

  it('delivers when the gather ends, with no drain', async () => {
    const { line, deliveries } = gatheringLine(20);
    line.add(contextA, [rowOf('1'), rowOf('2')]);
    await waitFor(() => deliveries.length === 1, {
      deadlineMs: requestDeadlineMs,
      what: 'the gathered batch',
    });
    expect(deliveries).toEqual([['1', '2']]);
    await line.drained();
  });
});
