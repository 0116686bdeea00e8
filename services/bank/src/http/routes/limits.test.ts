import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodeOf, startTestBank, type TestBank } from '../../test-helpers.ts';

let bank: TestBank;
beforeAll(async () => {
  bank = await startTestBank();
});
afterAll(() => bank.close());

async function historyOf(accountId: string): Promise<unknown[]> {
  const { rows } = await bank.database.query(
    `SELECT per_transaction_max::text AS per, daily_debit_max::text AS daily, set_by
     FROM account_limits WHERE account_id = $1 ORDER BY version`,
    [accountId],
  );
  return rows;
}

describe('POST /accounts/:id/limits', () => {
  it('sets the limits, shows them in GET /accounts/:id, and replaces them as a whole', async () => {
    const customer = await bank.openAccount('customer');
    const set = await bank.call(
      'POST',
      `/accounts/${customer}/limits`,
      { perTransactionMax: '100', dailyDebitMax: '250' },
      { 'x-test-caller': 'operator-1' },
    );
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      id: customer,
      limits: { perTransactionMax: '100', dailyDebitMax: '250' },
    });
    expect((await bank.call('GET', `/accounts/${customer}`)).body).toEqual(set.body);
    const replaced = await bank.call('POST', `/accounts/${customer}/limits`, { dailyDebitMax: '500' });
    expect(replaced.body.limits).toEqual({ dailyDebitMax: '500' });
    const removed = await bank.call('POST', `/accounts/${customer}/limits`, {});
    expect(removed.body.limits).toEqual({});
    expect(await historyOf(customer)).toEqual([
      { per: '100', daily: '250', set_by: 'operator-1' },
      { per: null, daily: '500', set_by: 'test-caller' },
      { per: null, daily: null, set_by: 'test-caller' },
    ]);
  });

  it('adds nothing to the history when the limits in force are set again', async () => {
    const customer = await bank.openAccount('customer');
    const body = { perTransactionMax: '7' };
    const first = await bank.call('POST', `/accounts/${customer}/limits`, body);
    const again = await bank.call('POST', `/accounts/${customer}/limits`, body);
    expect(again).toEqual(first);
    expect(await historyOf(customer)).toHaveLength(1);
  });

  it('leaves the operator path unlimited: POST /transfers is not checked', async () => {
    const customer = await bank.openAccount('customer');
    const merchant = await bank.openAccount('merchant');
    await bank.fund(customer, 100n);
    await bank.call('POST', `/accounts/${customer}/limits`, { perTransactionMax: '1', dailyDebitMax: '1' });
    const body = {
      id: randomUUID(),
      debitAccountId: customer,
      creditAccountId: merchant,
      amount: '50',
      currency: 'EUR',
    };
    expect((await bank.call('POST', '/transfers', body)).status).toBe(201);
  });

  it.each([
    ['a zero limit', { perTransactionMax: '0' }, 400, 'REQUEST_INVALID'],
    ['a negative limit', { dailyDebitMax: '-5' }, 400, 'REQUEST_INVALID'],
    ['a fractional limit', { dailyDebitMax: '2.5' }, 400, 'REQUEST_INVALID'],
    ['a JSON number', { perTransactionMax: 100 }, 400, 'REQUEST_INVALID'],
    ['19 digits', { perTransactionMax: '1000000000000000000' }, 400, 'REQUEST_INVALID'],
    ['an unknown field', { monthlyDebitMax: '5' }, 400, 'REQUEST_INVALID'],
    ['no body', undefined, 400, 'REQUEST_INVALID'],
  ])('refuses %s and changes nothing', async (_name, body, status, code) => {
    const customer = await bank.openAccount('customer');
    await bank.call('POST', `/accounts/${customer}/limits`, { perTransactionMax: '9' });
    const answer = await bank.call('POST', `/accounts/${customer}/limits`, body);
    expect([answer.status, errorCodeOf(answer)]).toEqual([status, code]);
    expect((await bank.call('GET', `/accounts/${customer}`)).body.limits).toEqual({ perTransactionMax: '9' });
  });

  it('answers ACCOUNT_UNKNOWN (404) and refuses a closed account (ACCOUNT_CLOSED)', async () => {
    const unknown = await bank.call('POST', `/accounts/${randomUUID()}/limits`, {});
    expect([unknown.status, errorCodeOf(unknown)]).toEqual([404, 'ACCOUNT_UNKNOWN']);
    const customer = await bank.openAccount('customer');
    await bank.call('POST', `/accounts/${customer}/close`);
    const closed = await bank.call('POST', `/accounts/${customer}/limits`, { dailyDebitMax: '5' });
    expect([closed.status, errorCodeOf(closed)]).toEqual([422, 'ACCOUNT_CLOSED']);
    expect(await historyOf(customer)).toEqual([]);
  });
});
