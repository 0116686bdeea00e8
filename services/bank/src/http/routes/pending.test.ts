import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorCodeOf, type HttpAnswer, startTestBank, type TestBank } from '../../test-helpers.ts';

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

async function hold(amount: string, timeoutSeconds = 60): Promise<string> {
  const id = randomUUID();
  const body = {
    id,
    kind: 'pending',
    debitAccountId: customer,
    creditAccountId: merchant,
    amount,
    currency: 'EUR',
    timeoutSeconds,
  };
  const answer = await bank.call('POST', '/transfers', body);
  expect(answer.status).toBe(201);
  return id;
}

async function accountsNow() {
  const [payer, payee] = await Promise.all([
    bank.call('GET', `/accounts/${customer}`),
    bank.call('GET', `/accounts/${merchant}`),
  ]);
  return { payer: payer.body, payee: payee.body };
}

function refusal(answer: HttpAnswer): [number, string | undefined] {
  return [answer.status, errorCodeOf(answer)];
}

describe('pending transfers', () => {
  it('hold: reduces what the payer can spend, not its balance; answers status pending and expiry', async () => {
    const id = await hold('300', 90);
    const read = await bank.call('GET', `/transfers/${id}`);
    expect(read.body).toMatchObject({
      kind: 'pending',
      amount: '300',
      timeoutSeconds: 90,
      status: 'pending',
    });
    const expiresAtMs = Date.parse(String(read.body.expiresAt)) - Date.parse(String(read.body.createdAt));
    expect(expiresAtMs).toBe(90_000);
    const { payer, payee } = await accountsNow();
    expect(payer).toMatchObject({ balance: '1000', available: '700', debitsPending: '300' });
    expect(payee).toMatchObject({ balance: '0', creditsPending: '300' });
  });

  it('counts holds against the funds: a second hold beyond what is available is refused', async () => {
    await hold('800');
    const second = await bank.call('POST', '/transfers', {
      id: randomUUID(),
      kind: 'pending',
      debitAccountId: customer,
      creditAccountId: merchant,
      amount: '201',
      currency: 'EUR',
      timeoutSeconds: 60,
    });
    expect(refusal(second)).toEqual([422, 'INSUFFICIENT_FUNDS']);
  });

  it('post: moves the whole hold by default', async () => {
    const id = await hold('300');
    const post = await bank.call('POST', `/transfers/${id}/post`);
    expect(post.status).toBe(201);
    expect(post.body).toMatchObject({ kind: 'post_pending', pendingId: id, amount: '300' });
    expect((await bank.call('GET', `/transfers/${id}`)).body.status).toBe('posted');
    const { payer, payee } = await accountsNow();
    expect(payer).toMatchObject({ balance: '700', available: '700', debitsPending: '0' });
    expect(payee).toMatchObject({ balance: '300', creditsPending: '0' });
  });

  it('post: a partial amount is posted and the rest released', async () => {
    const id = await hold('300');
    const post = await bank.call('POST', `/transfers/${id}/post`, {
      amount: '120',
      reference: 'shipped 1 of 2',
    });
    expect(post.body).toMatchObject({ amount: '120', reference: 'shipped 1 of 2' });
    const { payer, payee } = await accountsNow();
    expect(payer).toMatchObject({ balance: '880', available: '880' });
    expect(payee).toMatchObject({ balance: '120', creditsPending: '0' });
  });

  it('void: releases the whole hold', async () => {
    const id = await hold('300');
    const voided = await bank.call('POST', `/transfers/${id}/void`, {});
    expect(voided.status).toBe(201);
    expect(voided.body).toMatchObject({ kind: 'void_pending', pendingId: id, amount: '300' });
    expect((await bank.call('GET', `/transfers/${id}`)).body.status).toBe('voided');
    const { payer, payee } = await accountsNow();
    expect(payer).toMatchObject({ balance: '1000', available: '1000' });
    expect(payee).toMatchObject({ balance: '0', creditsPending: '0' });
  });

  it('refuses to post twice, void twice, post after void and void after post (409)', async () => {
    const posted = await hold('100');
    await bank.call('POST', `/transfers/${posted}/post`);
    expect(refusal(await bank.call('POST', `/transfers/${posted}/post`))).toEqual([
      409,
      'TRANSFER_ALREADY_POSTED',
    ]);
    expect(refusal(await bank.call('POST', `/transfers/${posted}/void`))).toEqual([
      409,
      'TRANSFER_ALREADY_POSTED',
    ]);
    const voided = await hold('100');
    await bank.call('POST', `/transfers/${voided}/void`);
    expect(refusal(await bank.call('POST', `/transfers/${voided}/void`))).toEqual([
      409,
      'TRANSFER_ALREADY_VOIDED',
    ]);
    expect(refusal(await bank.call('POST', `/transfers/${voided}/post`))).toEqual([
      409,
      'TRANSFER_ALREADY_VOIDED',
    ]);
    const { payer } = await accountsNow();
    expect(payer).toMatchObject({ balance: '900', available: '900', debitsPending: '0' });
  });

  it('refuses to post more than held (422) and keeps the hold', async () => {
    const id = await hold('100');
    expect(refusal(await bank.call('POST', `/transfers/${id}/post`, { amount: '101' }))).toEqual([
      422,
      'POST_AMOUNT_EXCEEDS_PENDING',
    ]);
    expect((await bank.call('GET', `/transfers/${id}`)).body.status).toBe('pending');
    expect((await bank.call('POST', `/transfers/${id}/post`, { amount: '100' })).status).toBe(201);
  });

  it('refuses to post or void after expiry (422); the sweep then releases the hold', async () => {
    const id = await hold('100', 30);
    bank.advanceSeconds(30);
    expect(refusal(await bank.call('POST', `/transfers/${id}/post`))).toEqual([422, 'TRANSFER_EXPIRED']);
    expect(refusal(await bank.call('POST', `/transfers/${id}/void`))).toEqual([422, 'TRANSFER_EXPIRED']);
    expect((await bank.call('GET', `/transfers/${id}`)).body.status).toBe('expired');
    expect((await accountsNow()).payer).toMatchObject({ available: '900' });
    const swept = await bank.service.ledger.expirePendingTransfers(bank.now());
    expect(swept.filter((transfer) => transfer.pendingId === id)).toHaveLength(1);
    expect((await accountsNow()).payer).toMatchObject({
      balance: '1000',
      available: '1000',
      debitsPending: '0',
    });
    expect((await bank.call('GET', `/transfers/${id}`)).body.status).toBe('expired');
    expect(refusal(await bank.call('POST', `/transfers/${id}/post`))).toEqual([422, 'TRANSFER_EXPIRED']);
    const sweptAgain = await bank.service.ledger.expirePendingTransfers(bank.now());
    expect(sweptAgain.filter((transfer) => transfer.pendingId === id)).toHaveLength(0);
  });

  it('refuses to post a transfer that is not pending (422) or does not exist (404)', async () => {
    const posted = randomUUID();
    await bank.call('POST', '/transfers', {
      id: posted,
      debitAccountId: customer,
      creditAccountId: merchant,
      amount: '5',
      currency: 'EUR',
    });
    expect(refusal(await bank.call('POST', `/transfers/${posted}/post`))).toEqual([
      422,
      'TRANSFER_NOT_PENDING',
    ]);
    expect(refusal(await bank.call('POST', `/transfers/${randomUUID()}/void`))).toEqual([
      404,
      'TRANSFER_UNKNOWN',
    ]);
  });

  it('makes a post with an id idempotent, and refuses an unknown field or a void with an amount', async () => {
    const id = await hold('100');
    const postId = randomUUID();
    const first = await bank.call('POST', `/transfers/${id}/post`, { id: postId, amount: '60' });
    const again = await bank.call('POST', `/transfers/${id}/post`, { id: postId, amount: '60' });
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body).toEqual(first.body);
    const other = await hold('100');
    expect(refusal(await bank.call('POST', `/transfers/${other}/void`, { amount: '5' }))).toEqual([
      400,
      'REQUEST_INVALID',
    ]);
    expect(refusal(await bank.call('POST', `/transfers/${other}/post`, { amount: 5 }))).toEqual([
      400,
      'REQUEST_INVALID',
    ]);
  });

  it('also takes post and void through POST /transfers with pendingId', async () => {
    const id = await hold('100');
    const post = await bank.call('POST', '/transfers', {
      id: randomUUID(),
      kind: 'post_pending',
      pendingId: id,
      amount: '40',
    });
    expect(post.body).toMatchObject({ kind: 'post_pending', amount: '40', debitAccountId: customer });
    const named = await bank.call('POST', '/transfers', {
      id: randomUUID(),
      kind: 'void_pending',
      pendingId: await hold('10'),
      debitAccountId: customer,
    });
    expect(refusal(named)).toEqual([400, 'REQUEST_INVALID']);
  });
});
