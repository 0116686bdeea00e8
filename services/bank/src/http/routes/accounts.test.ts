import { randomUUID } from 'node:crypto';
import { requestJson } from '@mpay/http';
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
