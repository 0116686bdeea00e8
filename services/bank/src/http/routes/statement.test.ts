import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodeOf, startTestBank, type TestBank } from '../../test-helpers.ts';
import { decodeStatementCursor, encodeStatementCursor } from './statement-cursor.ts';

let bank: TestBank;
beforeAll(async () => {
  bank = await startTestBank({ limits: { statementPageSizeDefault: 2, statementPageSizeMax: 3 } });
});
afterAll(() => bank.close());

async function transfer(fields: Record<string, unknown>): Promise<string> {
  const id = randomUUID();
  const answer = await bank.call('POST', '/transfers', { id, currency: 'EUR', ...fields });
  expect(answer.status).toBe(201);
  return id;
}

describe('GET /accounts/:id/statement', () => {
  it('answers booked movements newest first with running balances, and open holds on the first page', async () => {
    const customer = await bank.openAccount('customer');
    const merchant = await bank.openAccount('merchant');
    await bank.fund(customer, 500n);
    const paid = await transfer({
      debitAccountId: customer,
      creditAccountId: merchant,
      amount: '120',
      reference: 'shoes',
    });
    const held = { kind: 'pending', debitAccountId: customer, creditAccountId: merchant, timeoutSeconds: 60 };
    const hold = await transfer({ ...held, amount: '30' });
    const posted = await transfer({ ...held, amount: '50' });
    const post = await bank.call('POST', `/transfers/${posted}/post`, { amount: '45' });
    await bank.call('POST', `/transfers/${await transfer({ ...held, amount: '7' })}/void`);

    const first = await bank.call('GET', `/accounts/${customer}/statement`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      accountId: customer,
      currency: 'EUR',
      order: 'newest_first',
      balance: '335',
      available: '305',
      openHoldsTruncated: false,
    });
    expect(first.body.entries).toEqual([
      {
        id: post.body.id,
        kind: 'post_pending',
        direction: 'debit',
        amount: '45',
        counterpartyAccountId: merchant,
        pendingId: posted,
        reference: '',
        createdAt: post.body.createdAt,
        balanceAfter: '335',
      },
      expect.objectContaining({
        id: paid,
        kind: 'posted',
        amount: '120',
        reference: 'shoes',
        balanceAfter: '380',
      }),
    ]);
    expect(first.body.openHolds).toEqual([
      expect.objectContaining({
        id: hold,
        direction: 'debit',
        amount: '30',
        status: 'pending',
        counterpartyAccountId: merchant,
      }),
    ]);
    const second = await bank.call(
      'GET',
      `/accounts/${customer}/statement?cursor=${first.body.nextCursor}&limit=3`,
    );
    expect(second.body.entries).toEqual([
      expect.objectContaining({ direction: 'credit', amount: '500', balanceAfter: '500' }),
    ]);
    expect(second.body.nextCursor).toBeNull();
    expect(second.body).not.toHaveProperty('openHolds');
    const merchantSide = await bank.call('GET', `/accounts/${merchant}/statement?limit=1`);
    expect(merchantSide.body.entries).toEqual([
      expect.objectContaining({ direction: 'credit', balanceAfter: '165' }),
    ]);
    expect(merchantSide.body.openHolds).toEqual([expect.objectContaining({ id: hold, direction: 'credit' })]);
  });

  it('does not shift pages when new movements arrive, and shows an expired hold until it is swept', async () => {
    const customer = await bank.openAccount('customer');
    for (const amount of [1n, 2n, 3n]) await bank.fund(customer, amount);
    const merchant = await bank.openAccount('merchant');
    await transfer({
      kind: 'pending',
      debitAccountId: customer,
      creditAccountId: merchant,
      amount: '4',
      timeoutSeconds: 1,
    });
    bank.advanceSeconds(2);
    const first = await bank.call('GET', `/accounts/${customer}/statement?limit=1`);
    expect(first.body.openHolds).toEqual([expect.objectContaining({ amount: '4', status: 'expired' })]);
    await bank.fund(customer, 100n);
    const second = await bank.call(
      'GET',
      `/accounts/${customer}/statement?limit=1&cursor=${first.body.nextCursor}`,
    );
    expect(second.body.entries).toEqual([expect.objectContaining({ amount: '2', balanceAfter: '3' })]);
    await bank.service.ledger.expirePendingTransfers(bank.now());
    expect((await bank.call('GET', `/accounts/${customer}/statement`)).body.openHolds).toEqual([]);
  });

  it('answers an empty statement for a new account', async () => {
    const customer = await bank.openAccount('customer');
    const answer = await bank.call('GET', `/accounts/${customer}/statement`);
    expect(answer.body).toMatchObject({ entries: [], openHolds: [], nextCursor: null, balance: '0' });
  });

  it.each([
    ['limit=4', 'above statementPageSizeMax'],
    ['limit=0', 'zero'],
    ['limit=-1', 'negative'],
    ['limit=1.5', 'fractional'],
    ['limit=01', 'a leading zero'],
    ['limit=1&limit=2', 'repeated'],
    ['cursor=', 'empty cursor'],
    ['cursor=!!', 'not base64url'],
    [`cursor=${Buffer.from('v2.5').toString('base64url')}`, 'an unknown cursor version'],
    [`cursor=${Buffer.from('v1.05').toString('base64url')}`, 'a leading zero in the cursor'],
    [
      `cursor=${Buffer.from('v1.9223372036854775808').toString('base64url')}`,
      'a cursor past the largest position',
    ],
    ['from=2026-01-01', 'an unknown parameter'],
  ])('refuses %s (%s) with REQUEST_INVALID', async (query) => {
    const customer = await bank.openAccount('customer');
    const answer = await bank.call('GET', `/accounts/${customer}/statement?${query}`);
    expect([answer.status, errorCodeOf(answer)]).toEqual([400, 'REQUEST_INVALID']);
  });

  it('answers ACCOUNT_UNKNOWN (404)', async () => {
    const answer = await bank.call('GET', `/accounts/${randomUUID()}/statement`);
    expect([answer.status, errorCodeOf(answer)]).toEqual([404, 'ACCOUNT_UNKNOWN']);
  });
});

describe('statement cursor', () => {
  it('round-trips positions and accepts only its own encoding', () => {
    for (const position of [0n, 1n, 42n, 2n ** 63n - 1n]) {
      expect(decodeStatementCursor(encodeStatementCursor(position))).toBe(position);
    }
    const padded = `${encodeStatementCursor(7n)}=`;
    expect(() => decodeStatementCursor(padded)).toThrow(expect.objectContaining({ code: 'REQUEST_INVALID' }));
  });
});
