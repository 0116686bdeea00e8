import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  enrolTestCustomer,
  errorCodeOf,
  type HttpAnswer,
  startTestBank,
  type TestBank,
  uniquePartyId,
} from '../../test-helpers.ts';

/**
 * Every bank POST, table-driven: replays by Idempotency-Key, retries by id,
 * and the bad inputs each route must refuse with a stable code while the
 * books (every balance, transfer, correction and limit) stay exactly as they were.
 */
let bank: TestBank;
beforeAll(async () => {
  bank = await startTestBank();
});
afterAll(() => bank.close());

/** Everything a POST could change, except the idempotency keys themselves. */
async function books(): Promise<string> {
  const accounts = await bank.database.query(
    `SELECT id::text AS id, debits_pending::text AS dp, debits_posted::text AS dpo,
       credits_pending::text AS cp, credits_posted::text AS cpo, closed FROM accounts ORDER BY id`,
  );
  const counts = await bank.database.query(
    `SELECT (SELECT count(*) FROM transfers)::text AS transfers,
       (SELECT count(*) FROM corrections)::text AS corrections,
       (SELECT count(*) FROM account_limits)::text AS limits,
       (SELECT count(*) FROM key_binding_revocations)::text AS revocations`,
  );
  return JSON.stringify([accounts.rows, counts.rows]);
}

function refusal(answer: HttpAnswer): [number, string | undefined] {
  return [answer.status, errorCodeOf(answer)];
}

const post = (path: string, body?: unknown, key?: string) =>
  bank.call('POST', path, body, key === undefined ? {} : { 'idempotency-key': key });

async function created(path: string, body: Record<string, unknown>): Promise<string> {
  const answer = await post(path, body);
  if (answer.status !== 201) throw new Error(`${path}: ${JSON.stringify(answer.body)}`);
  return answer.body.id as string;
}

/** A funded customer, a merchant, and helpers that move money between them. */
async function parties(funds = 1_000n) {
  const customer = await bank.openAccount('customer');
  const merchant = await bank.openAccount('merchant');
  await bank.fund(customer, funds);
  const movement = { debitAccountId: customer, creditAccountId: merchant, currency: 'EUR' };
  return {
    customer,
    merchant,
    pay: (amount: string) => created('/transfers', { id: randomUUID(), ...movement, amount }),
    hold: (amount: string, timeoutSeconds = 600) =>
      created('/transfers', { id: randomUUID(), kind: 'pending', ...movement, amount, timeoutSeconds }),
    movement,
  };
}

interface Request {
  readonly path: string;
  readonly body?: unknown;
}

interface ReplayCase {
  /** The request, another request to send under the same key, and the same id with other fields. */
  readonly prepare: () => Promise<{
    request: Request;
    other: Request;
    changed?: { request: Request; status: number; code: string };
  }>;
  /** The answer to the same request under another key (default: 200 with the first body). */
  readonly retried?: (first: HttpAnswer) => unknown;
  /** The answer to the same id with other fields (default: the status and code of `changed`). */
  readonly refused?: (status: number, code: string) => unknown;
}

/** A batch answers 200 with one result per transfer; a retry answers each original with 200. */
function batchRetried(first: HttpAnswer): unknown {
  const results = first.body.results as { status: number }[];
  return { status: 200, body: { results: results.map((result) => ({ ...result, status: 200 })) } };
}

function batchRefused(status: number, code: string): unknown {
  return { status: 200, body: { results: [{ status, error: { code } }, { status: 200 }] } };
}

const replayCases: Record<string, ReplayCase> = {
  'POST /accounts': {
    prepare: async () => {
      const body = { id: randomUUID(), owner: 'ann@person.xbank', currency: 'EUR', kind: 'customer' };
      const changed = { path: '/accounts', body: { ...body, currency: 'USD' } };
      return {
        request: { path: '/accounts', body },
        other: { path: '/accounts', body: { ...body, id: randomUUID() } },
        changed: { request: changed, status: 409, code: 'ACCOUNT_EXISTS' },
      };
    },
  },
  'POST /transfers': {
    prepare: async () => {
      const { movement } = await parties();
      const body = { id: randomUUID(), ...movement, amount: '100' };
      return {
        request: { path: '/transfers', body },
        other: { path: '/transfers', body: { ...body, amount: '99' } },
        changed: {
          request: { path: '/transfers', body: { ...body, amount: '101' } },
          status: 409,
          code: 'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
        },
      };
    },
  },
  'POST /transfers/batch': {
    prepare: async () => {
      const { movement } = await parties();
      const transfers = [
        { id: randomUUID(), ...movement, amount: '100' },
        { id: randomUUID(), ...movement, amount: '5' },
      ];
      const [first, second] = transfers;
      const changed = {
        path: '/transfers/batch',
        body: { transfers: [{ ...first, amount: '101' }, second] },
      };
      return {
        request: { path: '/transfers/batch', body: { transfers } },
        other: { path: '/transfers/batch', body: { transfers: [first] } },
        changed: { request: changed, status: 409, code: 'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS' },
      };
    },
    retried: batchRetried,
    refused: batchRefused,
  },
  'POST /transfers/:id/post': {
    prepare: async () => {
      const path = `/transfers/${await (await parties()).hold('100')}/post`;
      const body = { id: randomUUID(), amount: '60' };
      return {
        request: { path, body },
        other: { path, body: { ...body, amount: '50' } },
        changed: {
          request: { path, body: { ...body, amount: '40' } },
          status: 409,
          code: 'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
        },
      };
    },
  },
  'POST /transfers/:id/void': {
    prepare: async () => {
      const path = `/transfers/${await (await parties()).hold('100')}/void`;
      const body = { id: randomUUID(), reference: 'cancelled' };
      return {
        request: { path, body },
        other: { path, body: { ...body, reference: 'other' } },
        changed: {
          request: { path, body: { ...body, reference: 'third' } },
          status: 409,
          code: 'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
        },
      };
    },
  },
  'POST /transfers/:id/refund': {
    prepare: async () => {
      const path = `/transfers/${await (await parties()).pay('100')}/refund`;
      const body = { id: randomUUID(), amount: '40', reference: 'returned' };
      return {
        request: { path, body },
        other: { path, body: { ...body, amount: '30' } },
        changed: {
          request: { path, body: { ...body, amount: '41' } },
          status: 409,
          code: 'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
        },
      };
    },
  },
  'POST /transfers/:id/reverse': {
    prepare: async () => {
      const path = `/transfers/${await (await parties()).pay('100')}/reverse`;
      const body = { id: randomUUID(), reference: 'operator fix' };
      return {
        request: { path, body },
        other: { path, body: { ...body, reference: 'other' } },
        changed: {
          request: { path, body: { ...body, reference: 'third' } },
          status: 409,
          code: 'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
        },
      };
    },
  },
  'POST /accounts/:id/close': {
    prepare: async () => ({
      request: { path: `/accounts/${await bank.openAccount('customer')}/close` },
      other: { path: `/accounts/${await bank.openAccount('customer')}/close` },
    }),
  },
  'POST /accounts/:id/limits': {
    prepare: async () => {
      const path = `/accounts/${await bank.openAccount('customer')}/limits`;
      return {
        request: { path, body: { dailyDebitMax: '100' } },
        other: { path, body: { dailyDebitMax: '200' } },
      };
    },
  },
  'POST /key-bindings/:serial/revocation': {
    prepare: async () => {
      const partyId = uniquePartyId('person', bank.name);
      const account = await bank.openAccount('customer', 'EUR', partyId);
      const { serial } = await enrolTestCustomer(bank, partyId, [account]);
      const path = `/key-bindings/${serial}/revocation`;
      return {
        request: { path, body: { reason: 'phone lost' } },
        other: { path, body: { reason: 'stolen' } },
      };
    },
  },
};

describe.each(Object.entries(replayCases))('%s', (_route, { prepare, retried, refused }) => {
  it('replays the same request under the same Idempotency-Key: same answer, changed once', async () => {
    const { request } = await prepare();
    const key = randomUUID();
    const first = await post(request.path, request.body, key);
    expect([200, 201]).toContain(first.status);
    const after = await books();
    expect(await post(request.path, request.body, key)).toEqual(first);
    expect(await books()).toBe(after);
  });

  it('refuses the key with another request (IDEMPOTENCY_KEY_REUSED) and changes nothing', async () => {
    const { request, other } = await prepare();
    const key = randomUUID();
    await post(request.path, request.body, key);
    const after = await books();
    expect(refusal(await post(other.path, other.body, key))).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    expect(await books()).toBe(after);
  });

  it('answers the same request under another key (or none) with the original result (200)', async () => {
    const { request } = await prepare();
    const first = await post(request.path, request.body, randomUUID());
    const after = await books();
    for (const key of [randomUUID(), undefined]) {
      const again = await post(request.path, request.body, key);
      expect(again).toEqual(retried?.(first) ?? { status: 200, body: first.body });
    }
    expect(await books()).toBe(after);
  });

  it('refuses the same id with other fields and changes nothing', async () => {
    const { request, changed } = await prepare();
    if (changed === undefined) return;
    await post(request.path, request.body);
    const after = await books();
    const answer = await post(changed.request.path, changed.request.body, randomUUID());
    if (refused === undefined) expect(refusal(answer)).toEqual([changed.status, changed.code]);
    else expect(answer).toMatchObject(refused(changed.status, changed.code) as object);
    expect(await books()).toBe(after);
  });
});

type Parties = Awaited<ReturnType<typeof parties>>;
type BadInput = [string, (parties: Parties) => Promise<Request>, number, string];

const badInputs: BadInput[] = [
  [
    'a transfer of zero',
    async (p) => ({ path: '/transfers', body: { id: randomUUID(), ...p.movement, amount: '0' } }),
    400,
    'REQUEST_INVALID',
  ],
  [
    'a negative transfer',
    async (p) => ({ path: '/transfers', body: { id: randomUUID(), ...p.movement, amount: '-5' } }),
    400,
    'REQUEST_INVALID',
  ],
  [
    'a fractional transfer',
    async (p) => ({ path: '/transfers', body: { id: randomUUID(), ...p.movement, amount: '2.5' } }),
    400,
    'REQUEST_INVALID',
  ],
  [
    'a transfer from an unknown account',
    async (p) => ({
      path: '/transfers',
      body: { id: randomUUID(), ...p.movement, debitAccountId: randomUUID(), amount: '5' },
    }),
    404,
    'ACCOUNT_UNKNOWN',
  ],
  [
    'a transfer between currencies',
    async (p) => ({
      path: '/transfers',
      body: {
        id: randomUUID(),
        ...p.movement,
        creditAccountId: await bank.openAccount('merchant', 'USD'),
        amount: '5',
      },
    }),
    400,
    'CURRENCY_MISMATCH',
  ],
  [
    'a transfer to the same account',
    async (p) => ({
      path: '/transfers',
      body: { id: randomUUID(), ...p.movement, creditAccountId: p.customer, amount: '5' },
    }),
    400,
    'ACCOUNTS_MUST_BE_DIFFERENT',
  ],
  [
    'a transfer beyond the funds',
    async (p) => ({ path: '/transfers', body: { id: randomUUID(), ...p.movement, amount: '1001' } }),
    422,
    'INSUFFICIENT_FUNDS',
  ],
  [
    'a transfer to a closed account',
    async (p) => {
      const closed = await bank.openAccount('merchant');
      await post(`/accounts/${closed}/close`);
      return {
        path: '/transfers',
        body: { id: randomUUID(), ...p.movement, creditAccountId: closed, amount: '5' },
      };
    },
    422,
    'ACCOUNT_CLOSED',
  ],
  [
    'posting a voided hold',
    async (p) => {
      const hold = await p.hold('100');
      await post(`/transfers/${hold}/void`);
      return { path: `/transfers/${hold}/post` };
    },
    409,
    'TRANSFER_ALREADY_VOIDED',
  ],
  [
    'posting an expired hold',
    async (p) => {
      const hold = await p.hold('100', 1);
      bank.advanceSeconds(2);
      return { path: `/transfers/${hold}/post` };
    },
    422,
    'TRANSFER_EXPIRED',
  ],
  [
    'posting more than held',
    async (p) => ({ path: `/transfers/${await p.hold('100')}/post`, body: { amount: '101' } }),
    422,
    'POST_AMOUNT_EXCEEDS_PENDING',
  ],
  [
    'posting zero',
    async (p) => ({ path: `/transfers/${await p.hold('100')}/post`, body: { amount: '0' } }),
    400,
    'REQUEST_INVALID',
  ],
  [
    'posting twice',
    async (p) => {
      const hold = await p.hold('100');
      await post(`/transfers/${hold}/post`);
      return { path: `/transfers/${hold}/post` };
    },
    409,
    'TRANSFER_ALREADY_POSTED',
  ],
  [
    'posting a posted transfer',
    async (p) => ({ path: `/transfers/${await p.pay('10')}/post` }),
    422,
    'TRANSFER_NOT_PENDING',
  ],
  [
    'posting an unknown transfer',
    async () => ({ path: `/transfers/${randomUUID()}/post` }),
    404,
    'TRANSFER_UNKNOWN',
  ],
  [
    'voiding twice',
    async (p) => {
      const hold = await p.hold('100');
      await post(`/transfers/${hold}/void`);
      return { path: `/transfers/${hold}/void` };
    },
    409,
    'TRANSFER_ALREADY_VOIDED',
  ],
  [
    'voiding an expired hold',
    async (p) => {
      const hold = await p.hold('100', 1);
      bank.advanceSeconds(2);
      return { path: `/transfers/${hold}/void` };
    },
    422,
    'TRANSFER_EXPIRED',
  ],
  [
    'voiding a posted hold',
    async (p) => {
      const hold = await p.hold('100');
      await post(`/transfers/${hold}/post`);
      return { path: `/transfers/${hold}/void` };
    },
    409,
    'TRANSFER_ALREADY_POSTED',
  ],
  [
    'voiding with an amount',
    async (p) => ({ path: `/transfers/${await p.hold('100')}/void`, body: { amount: '5' } }),
    400,
    'REQUEST_INVALID',
  ],
  [
    'refunding a hold',
    async (p) => ({
      path: `/transfers/${await p.hold('100')}/refund`,
      body: { id: randomUUID(), reference: 'r' },
    }),
    422,
    'TRANSFER_NOT_POSTED',
  ],
  [
    'refunding more than paid',
    async (p) => ({
      path: `/transfers/${await p.pay('100')}/refund`,
      body: { id: randomUUID(), amount: '101', reference: 'r' },
    }),
    422,
    'REFUND_EXCEEDS_ORIGINAL',
  ],
  [
    'refunding zero',
    async (p) => ({
      path: `/transfers/${await p.pay('100')}/refund`,
      body: { id: randomUUID(), amount: '0', reference: 'r' },
    }),
    400,
    'REQUEST_INVALID',
  ],
  [
    'refunding a fraction',
    async (p) => ({
      path: `/transfers/${await p.pay('100')}/refund`,
      body: { id: randomUUID(), amount: '0.5', reference: 'r' },
    }),
    400,
    'REQUEST_INVALID',
  ],
  [
    'refunding without the payee funds',
    async (p) => {
      const paid = await p.pay('100');
      await created('/transfers', {
        id: randomUUID(),
        debitAccountId: p.merchant,
        creditAccountId: p.customer,
        currency: 'EUR',
        amount: '100',
      });
      return { path: `/transfers/${paid}/refund`, body: { id: randomUUID(), reference: 'r' } };
    },
    422,
    'INSUFFICIENT_FUNDS',
  ],
  [
    'refunding an unknown transfer',
    async () => ({ path: `/transfers/${randomUUID()}/refund`, body: { id: randomUUID(), reference: 'r' } }),
    404,
    'TRANSFER_UNKNOWN',
  ],
  [
    'reversing a refunded transfer',
    async (p) => {
      const paid = await p.pay('100');
      await post(`/transfers/${paid}/refund`, { id: randomUUID(), reference: 'r' });
      return { path: `/transfers/${paid}/reverse`, body: { id: randomUUID(), reference: 'fix' } };
    },
    422,
    'REFUND_EXCEEDS_ORIGINAL',
  ],
  [
    'reversing a void',
    async (p) => {
      const voided = await post(`/transfers/${await p.hold('100')}/void`);
      return { path: `/transfers/${voided.body.id}/reverse`, body: { id: randomUUID(), reference: 'fix' } };
    },
    422,
    'TRANSFER_NOT_POSTED',
  ],
  [
    'closing an account with money',
    async (p) => ({ path: `/accounts/${p.customer}/close` }),
    409,
    'ACCOUNT_NOT_EMPTY',
  ],
  [
    'closing an unknown account',
    async () => ({ path: `/accounts/${randomUUID()}/close` }),
    404,
    'ACCOUNT_UNKNOWN',
  ],
  [
    'a limit of zero',
    async (p) => ({ path: `/accounts/${p.customer}/limits`, body: { dailyDebitMax: '0' } }),
    400,
    'REQUEST_INVALID',
  ],
  [
    'a fractional limit',
    async (p) => ({ path: `/accounts/${p.customer}/limits`, body: { perTransactionMax: '1.5' } }),
    400,
    'REQUEST_INVALID',
  ],
  [
    'limits of a closed account',
    async () => {
      const closed = await bank.openAccount('customer');
      await post(`/accounts/${closed}/close`);
      return { path: `/accounts/${closed}/limits`, body: { dailyDebitMax: '5' } };
    },
    422,
    'ACCOUNT_CLOSED',
  ],
  [
    'limits of an unknown account',
    async () => ({ path: `/accounts/${randomUUID()}/limits`, body: {} }),
    404,
    'ACCOUNT_UNKNOWN',
  ],
  [
    'an account in an unknown currency',
    async () => ({ path: '/accounts', body: { owner: 'xbank', currency: 'XTS', kind: 'funding' } }),
    400,
    'CURRENCY_INVALID',
  ],
  [
    'an account id taken with other fields',
    async (p) => ({
      path: '/accounts',
      body: { id: p.customer, owner: 'xbank', currency: 'EUR', kind: 'funding' },
    }),
    409,
    'ACCOUNT_EXISTS',
  ],
];

describe('bad input gets a stable code and changes nothing', () => {
  it.each(badInputs)('%s', async (_name, prepare, status, code) => {
    const request = await prepare(await parties());
    const before = await books();
    expect(refusal(await post(request.path, request.body))).toEqual([status, code]);
    expect(await books()).toBe(before);
  });
});

describe('bad input in a batch gets its code per transfer and changes nothing', () => {
  it.each([
    ['beyond the funds', { amount: '1001' }, 422, 'INSUFFICIENT_FUNDS'],
    ['to the same account', { creditAccountId: 'payer' }, 400, 'ACCOUNTS_MUST_BE_DIFFERENT'],
    ['from an unknown account', { debitAccountId: 'unknown' }, 404, 'ACCOUNT_UNKNOWN'],
    ['in another currency', { currency: 'USD' }, 400, 'CURRENCY_MISMATCH'],
  ] as [string, Record<string, string>, number, string][])(
    '%s, alone and in a linked chain',
    async (_name, fields, status, code) => {
      const p = await parties();
      const bad = {
        id: randomUUID(),
        ...p.movement,
        amount: '5',
        ...fields,
        ...(fields.creditAccountId === 'payer' ? { creditAccountId: p.customer } : {}),
        ...(fields.debitAccountId === 'unknown' ? { debitAccountId: randomUUID() } : {}),
      };
      const before = await books();
      const alone = await post('/transfers/batch', { transfers: [bad] });
      expect(alone).toMatchObject({ status: 200, body: { results: [{ status, error: { code } }] } });
      const good = { id: randomUUID(), ...p.movement, amount: '1' };
      const chain = await post('/transfers/batch', { transfers: [good, bad], linked: true });
      expect(chain).toMatchObject({
        status: 200,
        body: { results: [{ error: { code: 'LINKED_EVENT_FAILED' } }, { status, error: { code } }] },
      });
      expect(await books()).toBe(before);
    },
  );
});
