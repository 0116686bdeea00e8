import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, waitFor } from '../../../test/support/deadlines.ts';
import { gate } from '../../../test/support/gate.ts';
import { startBankPair, type TestBankPair } from './interbank/test-banks.ts';

/**
 * GET /health says the process answers; GET /ready says the bank can work.
 * With its accounts table locked by another transaction (PostgreSQL: an
 * exclusive lock; PGlite: its one connection held), /health still answers
 * 200 and /ready answers 503 within its deadline, naming the database; once
 * the lock is gone, /ready is 200 again.
 */
let pair: TestBankPair;

beforeAll(async () => {
  pair = await startBankPair();
}, 60_000);
afterAll(async () => {
  await pair?.close();
});

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${pair.x.url}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('readiness', () => {
  /** /ready once it says ready (a busy machine may miss one 2 s deadline). */
  function readyOnceItIs() {
    return waitFor(
      async () => {
        const answer = await get('/ready');
        return answer.status === 200 ? answer : undefined;
      },
      { deadlineMs: requestDeadlineMs, what: 'xbank ready' },
    );
  }

  it('is ready with its database answering', async () => {
    expect(await readyOnceItIs()).toEqual({
      status: 200,
      body: { status: 'ready', service: 'xbank', checks: { database: 'ok' } },
    });
  });

  it('is not ready while the accounts table is locked, though /health still says 200', async () => {
    const released = gate();
    const locked = gate();
    const holder = pair.x.database.transaction(async (sql) => {
      if (pair.x.database.backend === 'postgres')
        await sql.query('LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE');
      locked.open();
      await released.opened;
    });
    try {
      await locked.opened;
      expect((await fetch(`${pair.x.url}/health`)).status).toBe(200);
      const ready = await get('/ready');
      expect(ready).toEqual({
        status: 503,
        body: { status: 'not_ready', service: 'xbank', checks: { database: 'timeout' } },
      });
    } finally {
      released.open();
      await holder;
    }
    expect((await readyOnceItIs()).body.checks).toEqual({ database: 'ok' });
  });
});
