import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type HttpAnswer, startTestBank, type TestBank } from '../../test-helpers.ts';

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
  await bank.fund(customer, 100n);
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

/** Each result as `status code-or-kind`. */
function outcomes(answer: HttpAnswer): string[] {
  expect(answer.status).toBe(200);
  const results = answer.body.results as {
    status: number;
    error?: { code: string };
    transfer?: { kind: string };
  }[];
  return results.map((result) => `${result.status} ${result.error?.code ?? result.transfer?.kind}`);
}

async function balance(account: string): Promise<unknown> {
  return (await bank.call('GET', `/accounts/${account}`)).body.balance;
}

describe('POST /transfers/batch', () => {
  it('decides each transfer alone: one refusal takes nothing else down', async () => {
    const answer = await bank.call('POST', '/transfers/batch', {
      transfers: [payment('30'), payment('71'), payment('5', { creditAccountId: customer }), payment('70')],
    });
    expect(outcomes(answer)).toEqual([
      '201 posted',
      '422 INSUFFICIENT_FUNDS',
      '400 ACCOUNTS_MUST_BE_DIFFERENT',
      '201 posted',
    ]);
    expect([await balance(customer), await balance(merchant)]).toEqual(['0', '100']);
  });

  it('linked: all or none, the refused one with its code and the others LINKED_EVENT_FAILED', async () => {
    const first = payment('30');
    const refused = await bank.call('POST', '/transfers/batch', {
      transfers: [first, payment('71'), payment('1')],
      linked: true,
    });
    expect(outcomes(refused)).toEqual([
      '422 LINKED_EVENT_FAILED',
      '422 INSUFFICIENT_FUNDS',
      '422 LINKED_EVENT_FAILED',
    ]);
    expect(await balance(customer)).toBe('100');
    expect((await bank.call('GET', `/transfers/${first.id}`)).status).toBe(404);
    const invalid = await bank.call('POST', '/transfers/batch', {
      transfers: [first, payment('1', { currency: 'XXX' })],
      linked: true,
    });
    expect(outcomes(invalid)).toEqual(['422 LINKED_EVENT_FAILED', '400 CURRENCY_INVALID']);
    expect(await balance(customer)).toBe('100');
  });

  it('linked: a hold and its post in one chain, and a replay of the chain answers the originals', async () => {
    const hold = payment('60', { kind: 'pending', timeoutSeconds: 60 });
    const body = {
      transfers: [hold, { id: randomUUID(), kind: 'post_pending', pendingId: hold.id, amount: '45' }],
      linked: true,
    };
    const first = await bank.call('POST', '/transfers/batch', body);
    expect(outcomes(first)).toEqual(['201 pending', '201 post_pending']);
    expect((first.body.results as { transfer: { status?: string } }[])[0]?.transfer.status).toBe('posted');
    expect([await balance(customer), await balance(merchant)]).toEqual(['55', '45']);
    const again = await bank.call('POST', '/transfers/batch', body);
    expect(outcomes(again)).toEqual(['200 pending', '200 post_pending']);
    expect(await balance(customer)).toBe('55');
  });

  it('answers a repeated Idempotency-Key with the stored answer', async () => {
    const headers = { 'idempotency-key': randomUUID() };
    const body = { transfers: [payment('10'), payment('20')] };
    const first = await bank.call('POST', '/transfers/batch', body, headers);
    const again = await bank.call('POST', '/transfers/batch', body, headers);
    expect(again).toEqual(first);
    expect(outcomes(first)).toEqual(['201 posted', '201 posted']);
    expect(await balance(customer)).toBe('70');
  });

  it('takes 100 transfers with the longest references, beyond the body limit of single requests', async () => {
    const reference = '\u00e9'.repeat(128);
    const transfers = Array.from({ length: 100 }, () => payment('1', { reference }));
    const text = JSON.stringify({ transfers }).replaceAll('\u00e9', '\\u00e9');
    expect(text.length).toBeGreaterThan(bank.service.limits.bodyLimitBytes);
    const answer = await bank.call('POST', '/transfers/batch', text);
    expect(new Set(outcomes(answer))).toEqual(new Set(['201 posted']));
    expect(await balance(customer)).toBe('0');
  });

  it.each([
    ['101 transfers', { transfers: Array.from({ length: 101 }, () => ({ id: randomUUID() })) }],
    ['no transfers', { transfers: [] }],
    ['a linked flag that is not a boolean', { transfers: [{ id: randomUUID() }], linked: 'yes' }],
    ['an unknown field in a transfer', { transfers: [{ id: randomUUID(), extra: 1 }] }],
    ['transfers that are not a list', { transfers: { id: randomUUID() } }],
  ])('refuses %s (400)', async (_name, body) => {
    const answer = await bank.call('POST', '/transfers/batch', body);
    expect([answer.status, (answer.body.error as { code: string }).code]).toEqual([400, 'REQUEST_INVALID']);
  });

  it('refuses a body beyond its own limit (413)', async () => {
    const answer = await bank.call('POST', '/transfers/batch', {
      transfers: [],
      pad: 'x'.repeat(130 * 1024),
    });
    expect(answer.status).toBe(413);
  });
});
