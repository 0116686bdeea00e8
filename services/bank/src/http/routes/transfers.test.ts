import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorCodeOf, startTestBank, type TestBank } from '../../test-helpers.ts';

let bank: TestBank;
beforeAll(async () => {
  bank = await startTestBank();
});
afterAll(() => bank.close());

let customer: string;
let merchant: string;
beforeEach(async () => {
  customer = await bank.openAccount('customer');
  merchant = await bank.openAccount('merchant');
  await bank.fund(customer, 1_000n);
});

function payment(amount: string, overrides: Record<string, unknown> = {}) {
  return {
    id: randomUUID(),
    debitAccountId: customer,
    creditAccountId: merchant,
    amount,
    currency: 'EUR',
    ...overrides,
  };
}

async function balances(): Promise<[unknown, unknown]> {
  const [payer, payee] = await Promise.all([
    bank.call('GET', `/accounts/${customer}`),
    bank.call('GET', `/accounts/${merchant}`),
  ]);
  return [payer.body.balance, payee.body.balance];
}

describe('POST /transfers', () => {
  it('moves money from the payer to the payee and answers the transfer (201)', async () => {
    const body = payment('250', { reference: 'order 17' });
    const answer = await bank.call('POST', '/transfers', body);
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ ...body, kind: 'posted', amount: '250' });
    expect(answer.body.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await balances()).toEqual(['750', '250']);
    const read = await bank.call('GET', `/transfers/${body.id}`);
    expect(read.body).toEqual(answer.body);
  });

  it('refuses insufficient funds (422) and changes nothing', async () => {
    const answer = await bank.call('POST', '/transfers', payment('1001'));
    expect([answer.status, errorCodeOf(answer)]).toEqual([422, 'INSUFFICIENT_FUNDS']);
    expect(await balances()).toEqual(['1000', '0']);
    expect((await bank.call('GET', `/transfers/${answer.body.id ?? randomUUID()}`)).status).toBe(404);
    expect((await bank.call('POST', '/transfers', payment('1000'))).status).toBe(201);
  });

  it('answers a replay of the same transfer with the original (200) and debits once', async () => {
    const body = payment('100');
    const first = await bank.call('POST', '/transfers', body);
    const again = await bank.call('POST', '/transfers', body);
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body).toEqual(first.body);
    expect(await balances()).toEqual(['900', '100']);
  });

  it('refuses the same id with a different amount (409) and changes nothing', async () => {
    const body = payment('100');
    await bank.call('POST', '/transfers', body);
    const changed = await bank.call('POST', '/transfers', { ...body, amount: '101' });
    expect([changed.status, errorCodeOf(changed)]).toEqual([409, 'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS']);
    expect(changed.body.error).toMatchObject({ detail: 'amount' });
    expect(await balances()).toEqual(['900', '100']);
  });

  it('answers a replay with the original even once the funds are gone', async () => {
    const body = payment('1000');
    await bank.call('POST', '/transfers', body);
    expect((await bank.call('POST', '/transfers', body)).status).toBe(200);
  });

  it.each([
    ['an amount as a JSON number', { amount: 100 }, 400, 'REQUEST_INVALID'],
    ['a negative amount', { amount: '-5' }, 400, 'REQUEST_INVALID'],
    ['a zero amount', { amount: '0' }, 400, 'REQUEST_INVALID'],
    ['a fractional amount', { amount: '1.50' }, 400, 'REQUEST_INVALID'],
    ['a leading zero', { amount: '010' }, 400, 'REQUEST_INVALID'],
    ['an exponent', { amount: '1e3' }, 400, 'REQUEST_INVALID'],
    ['19 digits', { amount: '1000000000000000000' }, 400, 'REQUEST_INVALID'],
    ['more than the amount maximum', { amount: '1000000000000001' }, 400, 'AMOUNT_TOO_LARGE'],
    ['an unknown field', { memo: 'hi' }, 400, 'REQUEST_INVALID'],
    ['a missing id', { id: undefined }, 400, 'REQUEST_INVALID'],
    ['a missing amount', { amount: undefined }, 400, 'AMOUNT_INVALID'],
    ['an unsupported currency', { currency: 'XTS' }, 400, 'CURRENCY_INVALID'],
    ['a currency the accounts do not hold', { currency: 'USD' }, 400, 'CURRENCY_MISMATCH'],
    ['the same account twice', { creditAccountId: 'same' }, 400, 'ACCOUNTS_MUST_BE_DIFFERENT'],
    ['an unknown account', { creditAccountId: 'unknown' }, 404, 'ACCOUNT_UNKNOWN'],
    ['a posted transfer with a timeout', { timeoutSeconds: 30 }, 400, 'REQUEST_INVALID'],
    ['a reference of 129 characters', { reference: 'r'.repeat(129) }, 400, 'REQUEST_INVALID'],
  ] as [string, Record<string, unknown>, number, string][])(
    'refuses %s',
    async (_name, overrides, status, code) => {
      const body = { ...payment('10'), ...overrides };
      if (overrides.creditAccountId === 'same') body.creditAccountId = customer;
      if (overrides.creditAccountId === 'unknown') body.creditAccountId = randomUUID();
      const answer = await bank.call('POST', '/transfers', JSON.stringify(body));
      expect([answer.status, errorCodeOf(answer)]).toEqual([status, code]);
      expect(await balances()).toEqual(['1000', '0']);
    },
  );

  it('answers TRANSFER_UNKNOWN (404) for a transfer that does not exist', async () => {
    const answer = await bank.call('GET', `/transfers/${randomUUID()}`);
    expect([answer.status, errorCodeOf(answer)]).toEqual([404, 'TRANSFER_UNKNOWN']);
  });
});
