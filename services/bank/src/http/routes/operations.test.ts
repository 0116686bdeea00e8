import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBank, type TestBank } from '../../test-helpers.ts';

/** The console's views of a bank over real HTTP: its outboxes' backlog and its settlement runs. */
let bank: TestBank;
beforeAll(async () => {
  bank = await startTestBank();
});
afterAll(() => bank?.close());

describe('GET /outboxes and GET /settlements', () => {
  it('are for the authenticated operator only', async () => {
    for (const path of ['/outboxes', '/settlements']) {
      const answer = await fetch(`${bank.url}${path}`);
      expect(answer.status, path).toBe(401);
    }
  });

  it('list every outbox, empty ones included, and no settlement run before the first', async () => {
    const outboxes = await bank.call('GET', '/outboxes');
    expect(outboxes.status).toBe(200);
    expect(outboxes.body.outboxes).toEqual(
      ['payment_orders', 'refund_orders', 'banking_transactions', 'banking_renewal_notices'].map((name) => ({
        name,
        pending: 0,
        retrying: 0,
        overdue: 0,
        oldestPendingAgeSeconds: null,
      })),
    );
    expect((await bank.call('GET', '/settlements')).body).toEqual({ settlements: [] });
  });

  it('count a payment order still being delivered: its age, its retries, past its deadline', async () => {
    const customer = await bank.openAccount('customer');
    const now = bank.now();
    const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000).toISOString();
    // A row as the order's delivery leaves it after two failed attempts (the delivery itself is tested in interbank/).
    await bank.database.query(
      `INSERT INTO payment_orders (id, request_hash, ordered_by, debit_account_id, creditor_bank, credit_account_id,
         amount, ledger, reference, state, deadline, attempts, next_attempt_at, created_at, updated_at)
       VALUES ($1, 'hash', 'fsp.mpay', $2, 'ybank', $3, 500, 'EUR', 'order', 'sending', $4, 2, $5, $6, $6)`,
      [randomUUID(), customer, randomUUID(), ago(60), ago(0), ago(120)],
    );
    const { body } = await bank.call('GET', '/outboxes');
    const orders = (body.outboxes as { name: string; oldestPendingAgeSeconds: number }[]).find(
      (outbox) => outbox.name === 'payment_orders',
    );
    expect(orders).toMatchObject({ pending: 1, retrying: 1, overdue: 1 });
    expect(orders?.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(120);
  });
});
