import { randomUUID } from 'node:crypto';
import { testBackend } from '@mpay/storage';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorCodeOf, type HttpAnswer, startTestBank, type TestBank } from '../../test-helpers.ts';

let bank: TestBank;
beforeAll(async () => {
  bank = await startTestBank({ limits: { correctionsPerTransferMax: 12 } });
});
afterAll(() => bank.close());

let customer: string;
let merchant: string;
beforeEach(async () => {
  customer = await bank.openAccount('customer');
  merchant = await bank.openAccount('merchant');
  await bank.fund(customer, 1_000n);
});

async function pay(amount: string, kind: 'posted' | 'pending' = 'posted'): Promise<string> {
  const id = randomUUID();
  const answer = await bank.call('POST', '/transfers', {
    id,
    kind,
    debitAccountId: customer,
    creditAccountId: merchant,
    amount,
    currency: 'EUR',
    ...(kind === 'pending' ? { timeoutSeconds: 60 } : {}),
  });
  expect(answer.status).toBe(201);
  return id;
}

function refund(original: string, fields: Record<string, unknown> = {}) {
  return bank.call('POST', `/transfers/${original}/refund`, {
    id: randomUUID(),
    reference: 'returned',
    ...fields,
  });
}

function reverse(original: string, fields: Record<string, unknown> = {}) {
  return bank.call('POST', `/transfers/${original}/reverse`, {
    id: randomUUID(),
    reference: 'operator fix',
    ...fields,
  });
}

async function balances(): Promise<[unknown, unknown]> {
  const [payer, payee] = await Promise.all([
    bank.call('GET', `/accounts/${customer}`),
    bank.call('GET', `/accounts/${merchant}`),
  ]);
  return [payer.body.balance, payee.body.balance];
}

function refusal(answer: HttpAnswer): [number, string | undefined] {
  return [answer.status, errorCodeOf(answer)];
}

describe('POST /transfers/:id/refund', () => {
  it('refunds the whole payment by default: a new posted transfer the other way, linked to the original', async () => {
    const original = await pay('300');
    const id = randomUUID();
    const answer = await refund(original, { id });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      id,
      kind: 'posted',
      debitAccountId: merchant,
      creditAccountId: customer,
      amount: '300',
      currency: 'EUR',
      reference: 'returned',
      correction: { kind: 'refund', originalId: original },
    });
    expect(await balances()).toEqual(['1000', '0']);
    expect((await bank.call('GET', `/transfers/${original}`)).body.amount).toBe('300');
    expect(refusal(await refund(original, { amount: '1' }))).toEqual([422, 'REFUND_EXCEEDS_ORIGINAL']);
    expect(await balances()).toEqual(['1000', '0']);
  });

  it('takes partial refunds up to the original amount, and lists them', async () => {
    const original = await pay('300');
    expect((await refund(original, { amount: '100' })).status).toBe(201);
    expect((await refund(original, { amount: '150' })).status).toBe(201);
    const over = await refund(original, { amount: '51' });
    expect(refusal(over)).toEqual([422, 'REFUND_EXCEEDS_ORIGINAL']);
    expect(over.body.error).toMatchObject({ detail: 'remaining 50' });
    expect(await balances()).toEqual(['950', '50']);
    expect((await refund(original)).body.amount).toBe('50');
    const listed = await bank.call('GET', `/transfers/${original}/corrections`);
    expect(listed.body).toMatchObject({ original: { id: original }, corrected: '300', remaining: '0' });
    expect((listed.body.corrections as { amount: string }[]).map((correction) => correction.amount)).toEqual([
      '100',
      '150',
      '50',
    ]);
  });

  it('refunds the post of a hold, but neither a hold nor its void (TRANSFER_NOT_POSTED)', async () => {
    const hold = await pay('200', 'pending');
    expect(refusal(await refund(hold))).toEqual([422, 'TRANSFER_NOT_POSTED']);
    const post = await bank.call('POST', `/transfers/${hold}/post`, { amount: '80' });
    expect((await refund(post.body.id as string)).body.amount).toBe('80');
    const other = await pay('10', 'pending');
    const voided = await bank.call('POST', `/transfers/${other}/void`);
    expect(refusal(await refund(voided.body.id as string))).toEqual([422, 'TRANSFER_NOT_POSTED']);
    expect(await balances()).toEqual(['1000', '0']);
  });

  it('needs the funds on the payee account (INSUFFICIENT_FUNDS) and an open payer account (ACCOUNT_CLOSED)', async () => {
    const original = await pay('1000');
    const supplier = await bank.openAccount('merchant');
    await bank.call('POST', '/transfers', {
      id: randomUUID(),
      debitAccountId: merchant,
      creditAccountId: supplier,
      amount: '990',
      currency: 'EUR',
    });
    expect(refusal(await refund(original, { amount: '11' }))).toEqual([422, 'INSUFFICIENT_FUNDS']);
    expect(await balances()).toEqual(['0', '10']);
    await bank.call('POST', `/accounts/${customer}/close`);
    expect(refusal(await refund(original, { amount: '10' }))).toEqual([422, 'ACCOUNT_CLOSED']);
    expect(await balances()).toEqual(['0', '10']);
  });

  it('answers a retry with the same id with the original (200), and refuses the id with other fields (409)', async () => {
    const original = await pay('300');
    const id = randomUUID();
    const first = await refund(original, { id, amount: '40' });
    const again = await refund(original, { id, amount: '40' });
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body).toEqual(first.body);
    const other = await pay('300');
    for (const [path, body, field] of [
      [`/transfers/${original}/refund`, { id, amount: '41', reference: 'returned' }, 'amount'],
      [`/transfers/${original}/refund`, { id, amount: '40', reference: 'other' }, 'reference'],
      [`/transfers/${other}/refund`, { id, amount: '40', reference: 'returned' }, 'originalId'],
      [`/transfers/${original}/reverse`, { id, reference: 'returned' }, 'kind'],
      [`/transfers/${original}/refund`, { id: other, amount: '40', reference: 'returned' }, 'kind'],
    ] as const) {
      const answer = await bank.call('POST', path, body);
      expect(refusal(answer)).toEqual([409, 'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS']);
      expect(answer.body.error).toMatchObject({ detail: field });
    }
    expect(await balances()).toEqual(['440', '560']);
  });

  it.each([
    ['no reference', { reference: undefined }],
    ['an empty reference', { reference: '' }],
    ['no id', { id: undefined }],
    ['a zero amount', { amount: '0' }],
    ['a negative amount', { amount: '-1' }],
    ['a fractional amount', { amount: '0.5' }],
    ['a JSON number', { amount: 5 }],
    ['an unknown field', { currency: 'EUR' }],
  ])('refuses %s (REQUEST_INVALID) and changes nothing', async (_name, fields) => {
    const original = await pay('300');
    expect(refusal(await refund(original, fields))).toEqual([400, 'REQUEST_INVALID']);
    expect(await balances()).toEqual(['700', '300']);
  });

  it('answers TRANSFER_UNKNOWN (404) for an unknown original', async () => {
    expect(refusal(await refund(randomUUID()))).toEqual([404, 'TRANSFER_UNKNOWN']);
    expect(refusal(await bank.call('GET', `/transfers/${randomUUID()}/corrections`))).toEqual([
      404,
      'TRANSFER_UNKNOWN',
    ]);
  });

  it('limits the number of corrections of one transfer (LIMIT_EXCEEDED)', async () => {
    const original = await pay('100');
    for (let count = 0; count < 12; count += 1)
      expect((await refund(original, { amount: '1' })).status).toBe(201);
    expect(refusal(await refund(original, { amount: '1' }))).toEqual([422, 'LIMIT_EXCEEDED']);
    expect(await balances()).toEqual(['912', '88']);
  });
});

describe('POST /transfers/:id/reverse', () => {
  it('moves back everything not yet refunded, once', async () => {
    const original = await pay('300');
    await refund(original, { amount: '120' });
    const reversal = await reverse(original);
    expect(reversal.status).toBe(201);
    expect(reversal.body).toMatchObject({
      amount: '180',
      correction: { kind: 'reversal', originalId: original },
    });
    expect(await balances()).toEqual(['1000', '0']);
    expect(refusal(await reverse(original))).toEqual([422, 'REFUND_EXCEEDS_ORIGINAL']);
    expect(refusal(await refund(original, { amount: '1' }))).toEqual([422, 'REFUND_EXCEEDS_ORIGINAL']);
  });

  it('refuses an amount and a hold', async () => {
    const original = await pay('300');
    expect(refusal(await reverse(original, { amount: '10' }))).toEqual([400, 'REQUEST_INVALID']);
    expect(refusal(await reverse(await pay('5', 'pending')))).toEqual([422, 'TRANSFER_NOT_POSTED']);
  });
});

describe(`concurrent corrections of one transfer (${testBackend()})`, () => {
  it('20 parallel refunds of 10 against 100: exactly 10 succeed and the refunds add up to 100', async () => {
    const original = await pay('100');
    const answers = await Promise.all(Array.from({ length: 20 }, () => refund(original, { amount: '10' })));
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(10);
    expect(answers.filter((answer) => errorCodeOf(answer) === 'REFUND_EXCEEDS_ORIGINAL')).toHaveLength(10);
    expect(await balances()).toEqual(['1000', '0']);
    expect((await bank.call('GET', `/transfers/${original}/corrections`)).body.remaining).toBe('0');
  });

  it('parallel refunds and reversals: never more than the original, whatever wins', async () => {
    const original = await pay('100');
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        index % 4 === 0 ? reverse(original) : refund(original, { amount: '15' }),
      ),
    );
    const moved = answers
      .filter((answer) => answer.status === 201)
      .reduce((sum, answer) => sum + BigInt(answer.body.amount as string), 0n);
    expect(moved).toBe(100n);
    expect(
      answers.every((answer) => answer.status === 201 || errorCodeOf(answer) === 'REFUND_EXCEEDS_ORIGINAL'),
    ).toBe(true);
    expect(await balances()).toEqual(['1000', '0']);
  });

  it('parallel copies of one refund create it once', async () => {
    const original = await pay('100');
    const id = randomUUID();
    const answers = await Promise.all(Array.from({ length: 10 }, () => refund(original, { id })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([
      200, 200, 200, 200, 200, 200, 200, 200, 200, 201,
    ]);
    expect(new Set(answers.map((answer) => JSON.stringify(answer.body))).size).toBe(1);
    expect(await balances()).toEqual(['1000', '0']);
  });

  it('leaves the books balanced', async () => {
    expect((await bank.call('GET', '/audit')).body).toMatchObject({
      ok: true,
      violations: [],
      mismatches: [],
    });
  });
});
