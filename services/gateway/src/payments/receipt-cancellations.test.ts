import type { Database } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openGatewayDatabase } from '../test-helpers.ts';
import {
  cancelReceiptPushes,
  ReceiptPushCancellations,
  receiptCancellationsWaitingMax,
} from './receipt-cancellations.ts';

describe('the receipt pushes cancelled together (ReceiptPushCancellations)', () => {
  /** A line whose statements are recorded and finish only when the test lets them. */
  function gatedLine(batchMax = 100) {
    const written: string[][] = [];
    const gates: (() => void)[] = [];
    const failures: number[] = [];
    let failNext = false;
    const line = new ReceiptPushCancellations({
      write: async (paymentIds) => {
        written.push([...paymentIds]);
        await new Promise<void>((open) => gates.push(open));
        if (failNext) {
          failNext = false;
          throw new Error('the database is gone');
        }
      },
      onFailed: (_error, paymentIds) => failures.push(paymentIds),
      batchMax,
    });
    return {
      line,
      written,
      failures,
      failNextWrite: () => {
        failNext = true;
      },
      openGate: () => gates.shift()?.(),
    };
  }

  it('writes the first at once, and those that came meanwhile together in the next statement', async () => {
    const { line, written, openGate } = gatedLine();
    line.cancel('p1');
    line.cancel('p2');
    await Promise.resolve();
    // The first at once (a microtask later), alone with those asked in the same moment.
    expect(written).toEqual([['p1', 'p2']]);
    line.cancel('p3');
    line.cancel('p4');
    expect(written).toHaveLength(1);
    openGate();
    await new Promise((settled) => setImmediate(settled));
    expect(written).toEqual([
      ['p1', 'p2'],
      ['p3', 'p4'],
    ]);
    openGate();
    await line.drained();
  });

  it('takes at most batchMax in one statement, and a failed statement neither stops the line nor is retried', async () => {
    const { line, written, failures, failNextWrite, openGate } = gatedLine(2);
    failNextWrite();
    for (const id of ['a', 'b', 'c', 'd', 'e']) line.cancel(id);
    const drained = line.drained();
    for (let gate = 0; gate < 3; gate++) {
      await new Promise((settled) => setImmediate(settled));
      openGate();
    }
    await drained;
    expect(written).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(failures).toEqual([2]);
  });

  it('goes on after a write that throws at once, before giving a promise', async () => {
    const written: string[][] = [];
    let throwNow = true;
    const line = new ReceiptPushCancellations({
      write: (paymentIds) => {
        if (throwNow) {
          throwNow = false;
          throw new Error('thrown before any promise');
        }
        written.push([...paymentIds]);
        return Promise.resolve();
      },
      onFailed: () => undefined,
      batchMax: 10,
    });
    line.cancel('a');
    await line.drained();
    line.cancel('b');
    await line.drained();
    expect(written).toEqual([['b']]);
  });

  it('drops a cancellation beyond receiptCancellationsWaitingMax waiting (its push then goes out), and counts it', async () => {
    const { line, written, openGate } = gatedLine(receiptCancellationsWaitingMax);
    // Asked in one moment, before the first statement leaves: the two beyond the bound are dropped.
    for (let id = 0; id <= receiptCancellationsWaitingMax + 1; id++) line.cancel(`p${id}`);
    expect(line.dropped).toBe(2);
    expect(line.waiting).toBe(receiptCancellationsWaitingMax);
    openGate();
    await new Promise((settled) => setImmediate(settled));
    openGate();
    await line.drained();
    expect(written.map((batch) => batch.length)).toEqual([receiptCancellationsWaitingMax]);
    expect(line.waiting).toBe(0);
  });
});

describe('cancelReceiptPushes', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openGatewayDatabase();
  });
  afterAll(async () => {
    await database.close();
  });

  it("marks only the named payments' receipt pushes still waiting, in one statement", async () => {
    const at = '2026-12-07T04:00:00.000Z';
    const rows: [string, string, string, string | null][] = [
      ['p1', 'device_push', '{"event":"receipt"}', null],
      ['p2', 'device_push', '{"event":"receipt"}', null],
      ['p2', 'device_push', '{"event":"payment-status"}', null],
      ['p2', 'webhook', '{}', null],
      ['p3', 'device_push', '{"event":"receipt"}', null],
      ['p4', 'device_push', '{"event":"receipt"}', '2026-12-07T03:00:00.000Z'],
    ];
    for (const [paymentId, kind, payload, delivered] of rows)
      await database.query(
        `INSERT INTO outbox (payment_id, kind, payload, next_attempt_at, created_at, delivered_at)
         VALUES ($1, $2, $3, $4, $4, $5)`,
        [paymentId, kind, payload, at, delivered],
      );
    await cancelReceiptPushes(database, ['p1', 'p2', 'p4'], new Date('2026-12-07T04:00:05.000Z'));
    const { rows: after } = await database.query<{
      payment_id: string;
      kind: string;
      payload: string;
      delivered: boolean;
    }>(`SELECT payment_id, kind, payload, delivered_at IS NOT NULL AS delivered FROM outbox ORDER BY id`);
    expect(
      after.map(({ payment_id, kind, payload, delivered }) => [payment_id, kind, payload, delivered]),
    ).toEqual([
      ['p1', 'device_push', '{"event":"receipt"}', true],
      ['p2', 'device_push', '{"event":"receipt"}', true],
      ['p2', 'device_push', '{"event":"payment-status"}', false],
      ['p2', 'webhook', '{}', false],
      ['p3', 'device_push', '{"event":"receipt"}', false],
      // Delivered before: its time stays.
      ['p4', 'device_push', '{"event":"receipt"}', true],
    ]);
    const { rows: kept } = await database.query<{ delivered_at: Date | string }>(
      `SELECT delivered_at FROM outbox WHERE payment_id = 'p4'`,
    );
    expect(new Date(kept[0]!.delivered_at).toISOString()).toBe('2026-12-07T03:00:00.000Z');
  });
});
