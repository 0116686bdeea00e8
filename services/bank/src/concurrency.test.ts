import { randomUUID } from 'node:crypto';
import { testBackend } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodeOf, type HttpAnswer, startTestBank, type TestBank } from './test-helpers.ts';

let bank: TestBank;
beforeAll(async () => {
  bank = await startTestBank();
});
afterAll(() => bank.close());

function tally(answers: readonly HttpAnswer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const key = errorCodeOf(answer) ?? String(answer.status);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

function pay(from: string, to: string, amount: string, id: string = randomUUID()) {
  return bank.call('POST', '/transfers', {
    id,
    debitAccountId: from,
    creditAccountId: to,
    amount,
    currency: 'EUR',
  });
}

describe(`concurrent requests over HTTP (${testBackend()})`, () => {
  it('50 parallel debits of 10 against 200: exactly 20 succeed, the balance ends at 0 and is never negative', async () => {
    const customer = await bank.openAccount('customer');
    const merchant = await bank.openAccount('merchant');
    await bank.fund(customer, 200n);
    let polling = true;
    const observed: bigint[] = [];
    const poller = (async () => {
      while (polling) {
        const { body } = await bank.call('GET', `/accounts/${customer}`);
        observed.push(BigInt(String(body.available)));
      }
    })();
    const answers = await Promise.all(Array.from({ length: 50 }, () => pay(customer, merchant, '10')));
    polling = false;
    await poller;
    expect(tally(answers)).toEqual({ 201: 20, INSUFFICIENT_FUNDS: 30 });
    // POST /transfers goes through the transfer batcher (how many per batch depends on timing).
    expect(bank.service.ledger.batchStatistics()?.transfers).toBeGreaterThanOrEqual(50);
    const [payer, payee] = await Promise.all([
      bank.call('GET', `/accounts/${customer}`),
      bank.call('GET', `/accounts/${merchant}`),
    ]);
    expect(payer.body).toMatchObject({ balance: '0', available: '0', debitsPosted: '200' });
    expect(payee.body).toMatchObject({ balance: '200' });
    expect(observed.length).toBeGreaterThan(0);
    expect(observed.every((available) => available >= 0n)).toBe(true);
  });

  it('transfers in both directions between the same accounts at once do not deadlock', async () => {
    const [a, b] = [await bank.openAccount('customer'), await bank.openAccount('merchant')];
    await bank.fund(a, 100n);
    await bank.fund(b, 100n);
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, index) => (index % 2 === 0 ? pay(a, b, '1') : pay(b, a, '1'))),
    );
    expect(tally(answers)).toEqual({ 201: 60 });
    expect((await bank.call('GET', `/accounts/${a}`)).body.balance).toBe('100');
    expect((await bank.call('GET', `/accounts/${b}`)).body.balance).toBe('100');
  });

  it('20 parallel copies of one transfer create it once and answer the rest with the original', async () => {
    const [customer, merchant] = [await bank.openAccount('customer'), await bank.openAccount('merchant')];
    await bank.fund(customer, 100n);
    const id = randomUUID();
    const answers = await Promise.all(Array.from({ length: 20 }, () => pay(customer, merchant, '30', id)));
    expect(tally(answers)).toEqual({ 200: 19, 201: 1 });
    expect(new Set(answers.map((answer) => JSON.stringify(answer.body))).size).toBe(1);
    expect((await bank.call('GET', `/accounts/${customer}`)).body.balance).toBe('70');
  });

  it('parallel posts and voids of one hold: exactly one resolves it', async () => {
    const [customer, merchant] = [await bank.openAccount('customer'), await bank.openAccount('merchant')];
    await bank.fund(customer, 100n);
    const hold = randomUUID();
    await bank.call('POST', '/transfers', {
      id: hold,
      kind: 'pending',
      debitAccountId: customer,
      creditAccountId: merchant,
      amount: '100',
      currency: 'EUR',
      timeoutSeconds: 60,
    });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        bank.call('POST', `/transfers/${hold}/${index % 2 === 0 ? 'post' : 'void'}`),
      ),
    );
    const counts = tally(answers);
    expect(counts[201]).toBe(1);
    expect((counts.TRANSFER_ALREADY_POSTED ?? 0) + (counts.TRANSFER_ALREADY_VOIDED ?? 0)).toBe(19);
    const { body } = await bank.call('GET', `/accounts/${customer}`);
    expect(body.debitsPending).toBe('0');
    expect(['0', '100']).toContain(body.balance);
  });

  it('leaves the books balanced', async () => {
    const audit = await bank.call('GET', '/audit');
    expect(audit.body).toMatchObject({ ok: true, violations: [], mismatches: [] });
  });
});
