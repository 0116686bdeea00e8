import { randomUUID } from 'node:crypto';
import { requestJson } from '@mpay/http-client';
import { isMpayError } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodeOf, startTestBank, type TestBank, testBearerToken } from '../../test-helpers.ts';

let bank: TestBank;
beforeAll(async () => {
  bank = await startTestBank();
});
afterAll(() => bank.close());

describe('POST /accounts', () => {
  it('opens a customer account with the spending limit, zero balances as strings', async () => {
    const id = randomUUID();
    const answer = await bank.call('POST', '/accounts', {
      id,
      owner: 'John.Bernard@person.xbank',
      currency: 'EUR',
      kind: 'customer',
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({
      id,
      owner: 'john.bernard@person.xbank',
      currency: 'EUR',
      kind: 'customer',
      flags: { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: false },
      debitsPending: '0',
      debitsPosted: '0',
      creditsPending: '0',
      creditsPosted: '0',
      balance: '0',
      available: '0',
      closed: false,
    });
  });

  it('gives the funding account no limit and generates an id when none is given', async () => {
    const answer = await bank.call('POST', '/accounts', { owner: 'xbank', currency: 'EUR', kind: 'funding' });
    expect(answer.status).toBe(201);
    expect(answer.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.body.flags).toEqual({
      debitsMustNotExceedCredits: false,
      creditsMustNotExceedDebits: false,
    });
  });

  it('answers a repeated open with the same account (200) and a different one with ACCOUNT_EXISTS (409)', async () => {
    const body = { id: randomUUID(), owner: 'shop@merchant.xbank', currency: 'EUR', kind: 'merchant' };
    expect((await bank.call('POST', '/accounts', body)).status).toBe(201);
    const again = await bank.call('POST', '/accounts', body);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(body.id);
    const different = await bank.call('POST', '/accounts', { ...body, currency: 'USD' });
    expect([different.status, errorCodeOf(different)]).toEqual([409, 'ACCOUNT_EXISTS']);
  });

  it.each([
    ['a customer of another bank', { owner: 'ann@person.ybank', kind: 'customer' }],
    ['a funding account owned by a person', { owner: 'ann@person.xbank', kind: 'funding' }],
    ['a funding account of another bank', { owner: 'ybank', kind: 'funding' }],
    ['a settlement account with this bank itself', { owner: 'xbank', kind: 'settlement' }],
  ])('refuses %s', async (_name, fields) => {
    const answer = await bank.call('POST', '/accounts', { currency: 'EUR', ...fields });
    expect([answer.status, errorCodeOf(answer)]).toEqual([400, 'REQUEST_INVALID']);
  });

  it.each([
    [
      'an unknown field',
      { owner: 'xbank', currency: 'EUR', kind: 'funding', overdraft: '100' },
      'REQUEST_INVALID',
    ],
    ['a lower-case currency', { owner: 'xbank', currency: 'eur', kind: 'funding' }, 'REQUEST_INVALID'],
    ['an unsupported currency', { owner: 'xbank', currency: 'XYZ', kind: 'funding' }, 'CURRENCY_INVALID'],
    ['an unknown kind', { owner: 'xbank', currency: 'EUR', kind: 'savings' }, 'REQUEST_INVALID'],
    ['a malformed owner', { owner: 'not a party', currency: 'EUR', kind: 'funding' }, 'PARTY_ID_INVALID'],
    ['a missing owner', { currency: 'EUR', kind: 'funding' }, 'REQUEST_INVALID'],
    [
      'an upper-case id',
      { id: randomUUID().toUpperCase(), owner: 'xbank', currency: 'EUR', kind: 'funding' },
      'REQUEST_INVALID',
    ],
    ['a number as currency', { owner: 'xbank', currency: 978, kind: 'funding' }, 'REQUEST_INVALID'],
    ['an array body', [], 'REQUEST_INVALID'],
    ['malformed JSON', '{"owner":', 'REQUEST_INVALID'],
  ])('refuses %s', async (_name, body, code) => {
    const answer = await bank.call('POST', '/accounts', body);
    expect(answer.status).toBe(400);
    expect(errorCodeOf(answer)).toBe(code);
  });
});

describe('GET /accounts/:id', () => {
  it('shows balance (credits posted − debits posted) and available (minus pending debits)', async () => {
    const customer = await bank.openAccount('customer');
    const merchant = await bank.openAccount('merchant');
    await bank.fund(customer, 500n);
    const hold = { id: randomUUID(), kind: 'pending', debitAccountId: customer, creditAccountId: merchant };
    await bank.call('POST', '/transfers', { ...hold, amount: '120', currency: 'EUR', timeoutSeconds: 60 });
    const { body } = await requestJson<Record<string, unknown>>(`${bank.url}/accounts/${customer}`, {
      headers: { authorization: `Bearer ${testBearerToken}` },
    });
    expect(body).toMatchObject({
      creditsPosted: '500',
      debitsPending: '120',
      balance: '500',
      available: '380',
    });
  });

  it('answers ACCOUNT_UNKNOWN (404) and refuses a malformed id (400)', async () => {
    const unknown = await bank.call('GET', `/accounts/${randomUUID()}`);
    expect([unknown.status, errorCodeOf(unknown)]).toEqual([404, 'ACCOUNT_UNKNOWN']);
    const malformed = await bank.call('GET', '/accounts/42');
    expect([malformed.status, errorCodeOf(malformed)]).toEqual([400, 'REQUEST_INVALID']);
  });

  it('is refused without authentication, through the client too', async () => {
    const error = await requestJson(`${bank.url}/accounts/${randomUUID()}`).catch(
      (caught: unknown) => caught,
    );
    expect(isMpayError(error, 'AUTHENTICATION_FAILED')).toBe(true);
  });
});

describe('POST /accounts/:id/close', () => {
  const payBody = (from: string, to: string, amount: string, kind = 'posted') => ({
    id: randomUUID(),
    kind,
    debitAccountId: from,
    creditAccountId: to,
    amount,
    currency: 'EUR',
    ...(kind === 'pending' ? { timeoutSeconds: 60 } : {}),
  });

  it('closes an empty account, shows it closed, and answers a second close with the same account', async () => {
    const customer = await bank.openAccount('customer');
    const merchant = await bank.openAccount('merchant');
    await bank.fund(customer, 100n);
    await bank.call('POST', '/transfers', payBody(customer, merchant, '100'));
    const closed = await bank.call('POST', `/accounts/${customer}/close`);
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({
      id: customer,
      closed: true,
      balance: '0',
      debitsPosted: '100',
      limits: {},
    });
    expect((await bank.call('GET', `/accounts/${customer}`)).body).toEqual(closed.body);
    expect(await bank.call('POST', `/accounts/${customer}/close`, {})).toEqual(closed);
  });

  it('refuses every new transfer into or out of a closed account (ACCOUNT_CLOSED) and changes nothing', async () => {
    const customer = await bank.openAccount('customer');
    const merchant = await bank.openAccount('merchant');
    await bank.fund(merchant, 50n);
    await bank.call('POST', `/accounts/${customer}/close`);
    const into = await bank.call('POST', '/transfers', payBody(merchant, customer, '10'));
    expect([into.status, errorCodeOf(into)]).toEqual([422, 'ACCOUNT_CLOSED']);
    const held = await bank.call('POST', '/transfers', payBody(merchant, customer, '10', 'pending'));
    expect(errorCodeOf(held)).toBe('ACCOUNT_CLOSED');
    const funding = await bank.call(
      'POST',
      '/transfers',
      payBody(await bank.openAccount('funding'), customer, '1'),
    );
    expect(errorCodeOf(funding)).toBe('ACCOUNT_CLOSED');
    expect((await bank.call('GET', `/accounts/${customer}`)).body).toMatchObject({
      creditsPosted: '0',
      closed: true,
    });
    expect((await bank.call('GET', `/accounts/${merchant}`)).body).toMatchObject({
      balance: '50',
      debitsPending: '0',
    });
  });

  it('refuses an account with a balance or an open hold (ACCOUNT_NOT_EMPTY) and leaves it open', async () => {
    const customer = await bank.openAccount('customer');
    const merchant = await bank.openAccount('merchant');
    await bank.fund(customer, 100n);
    const hold = payBody(customer, merchant, '100', 'pending');
    await bank.call('POST', '/transfers', hold);
    for (const id of [customer, merchant]) {
      const refused = await bank.call('POST', `/accounts/${id}/close`);
      expect([refused.status, errorCodeOf(refused)]).toEqual([409, 'ACCOUNT_NOT_EMPTY']);
      expect((await bank.call('GET', `/accounts/${id}`)).body.closed).toBe(false);
    }
    await bank.call('POST', `/transfers/${hold.id}/void`);
    expect((await bank.call('POST', `/accounts/${merchant}/close`)).body.closed).toBe(true);
  });

  it('answers ACCOUNT_UNKNOWN (404) and refuses a body with fields (400)', async () => {
    const unknown = await bank.call('POST', `/accounts/${randomUUID()}/close`);
    expect([unknown.status, errorCodeOf(unknown)]).toEqual([404, 'ACCOUNT_UNKNOWN']);
    const withField = await bank.call('POST', `/accounts/${await bank.openAccount('customer')}/close`, {
      force: true,
    });
    expect([withField.status, errorCodeOf(withField)]).toEqual([400, 'REQUEST_INVALID']);
  });

  it('against concurrent deposits: either the close wins and every deposit is refused, or it is refused', async () => {
    const funding = await bank.openAccount('funding');
    for (let round = 0; round < 5; round += 1) {
      const customer = await bank.openAccount('customer');
      const deposits = Array.from({ length: 8 }, () =>
        bank.call('POST', '/transfers', payBody(funding, customer, '1')),
      );
      const [close, ...answers] = await Promise.all([
        bank.call('POST', `/accounts/${customer}/close`),
        ...deposits,
      ]);
      const accepted = answers.filter((answer) => answer.status === 201).length;
      const { body } = await bank.call('GET', `/accounts/${customer}`);
      expect(body.balance).toBe(String(accepted));
      if (close.status === 200) {
        expect(accepted).toBe(0);
        expect(answers.every((answer) => errorCodeOf(answer) === 'ACCOUNT_CLOSED')).toBe(true);
      } else {
        expect(errorCodeOf(close)).toBe('ACCOUNT_NOT_EMPTY');
        expect(body.closed).toBe(false);
      }
    }
  });
});
