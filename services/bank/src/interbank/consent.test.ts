import { randomUUID } from 'node:crypto';
import { generateSigningKeyPair, keyResolverFromJwkSet, verifyPayload } from '@mpay/envelope';
import { httpStatusOf } from '@mpay/http-server';
import { type ErrorCode, errorMessageOf } from '@mpay/protocol';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serviceStartDeadlineMs, within } from '../../../../test/support/deadlines.ts';
import {
  type DebitToAuthorise,
  type EnrolledKey,
  enrolTestCustomer,
  signTestAuthorisation,
  testBearerToken,
  testCaller,
  uniquePartyId,
} from '../test-helpers.ts';
import { startBankPair, type TestBankPair } from './test-banks.ts';

// The customer's consent at the customer's own bank (DESIGN.md, "Who must see
// the customer's consent"): every refusal below is checked for its stable
// code, for nothing having moved, and for its record at the bank.

let banks: TestBankPair;
let payer: string;
let customer: string;
/** The payer's second account, not bound to `key`. */
let savings: string;
let key: EnrolledKey;
let remotePayee: string;
let remoteMerchant: string;
let localPayee: string;
let localMerchant: string;

beforeAll(async () => {
  banks = await within(startBankPair(), {
    deadlineMs: serviceStartDeadlineMs,
    what: 'the two test banks (startBankPair) to start',
  });
});

afterAll(async () => {
  await banks.close();
});

async function fund(account: string, amount: bigint) {
  const funding = await banks.x.openAccount('funding');
  const answer = await banks.x.call('POST', '/transfers', {
    id: randomUUID(),
    debitAccountId: funding,
    creditAccountId: account,
    amount: amount.toString(),
    currency: 'EUR',
  });
  expect(answer.status).toBe(201);
}

beforeEach(async () => {
  payer = uniquePartyId('person', 'xbank', 'john');
  customer = await banks.x.openAccount('customer', payer);
  savings = await banks.x.openAccount('customer', payer);
  remotePayee = uniquePartyId('merchant', 'ybank', 'shop');
  remoteMerchant = await banks.y.openAccount('merchant', remotePayee);
  localPayee = uniquePartyId('merchant', 'xbank', 'kiosk');
  localMerchant = await banks.x.openAccount('merchant', localPayee);
  await fund(customer, 10_000n);
  await fund(savings, 10_000n);
  key = await enrolTestCustomer(banks.x, payer, [customer]);
});

afterEach(async () => {
  banks.x.offsetMs = 0;
  banks.y.offsetMs = 0;
  await banks.x.service.worker.runOnce();
});

function debit(overrides: Partial<DebitToAuthorise> = {}): DebitToAuthorise {
  return {
    id: randomUUID(),
    payerId: payer,
    debitAccountId: customer,
    payeeId: remotePayee,
    creditBankId: 'ybank',
    amount: '1250',
    currency: 'EUR',
    ...overrides,
  };
}

function place(fields: DebitToAuthorise, authorisation?: string) {
  return banks.x.call('POST', '/payment-orders', {
    ...fields,
    reference: 'iMS payment',
    ...(authorisation === undefined ? {} : { authorisation }),
  });
}

/** Every balance a payment of these tests could move, at both banks. */
async function balances() {
  const accounts = [
    [banks.x, customer],
    [banks.x, savings],
    [banks.x, localMerchant],
    [banks.y, remoteMerchant],
  ] as const;
  return Promise.all(accounts.map(([node, account]) => node.balance(account)));
}

async function refusalsOf(orderId: string) {
  const { rows } = await banks.x.database.query<{ code: string; reason: string; ordered_by: string }>(
    'SELECT code, reason, ordered_by FROM payment_order_refusals WHERE order_id = $1 ORDER BY seq',
    [orderId],
  );
  return rows;
}

/** The bank's signed answer, verified under its key as GET /bank publishes it: the signed `paymentOrder`. */
async function verifiedBankAnswer(bankAnswer: unknown, orderId: string, audience = testCaller) {
  const bank = await fetch(`${banks.x.url}/bank`).then((response) => response.json());
  expect(bank.id).toBe('xbank');
  const verified = await verifyPayload(
    bankAnswer,
    keyResolverFromJwkSet(bank.keys),
    { audience, issuer: 'xbank', transactionId: orderId },
    { maxAgeSeconds: 86_400 },
  );
  return verified.payload.paymentOrder;
}

/** The refusal the FSP can keep: the order's parties, amount and currency, state refused, the code and nothing else. */
function signedRefusal(fields: DebitToAuthorise, code: string) {
  return {
    id: fields.id,
    state: 'refused',
    payerId: fields.payerId,
    payeeId: fields.payeeId,
    amount: fields.amount,
    currency: fields.currency,
    refusalCode: code,
  };
}

/**
 * Places the order, expects the refusal `code` (its usual status and error
 * member, plus the bank's signed answer of the refusal), no money moved, no
 * order kept, and the refusal recorded.
 */
async function expectRefused(fields: DebitToAuthorise, authorisation: string | undefined, code: string) {
  const before = await balances();
  const answer = await place(fields, authorisation);
  expect(answer.status).toBe(httpStatusOf(code as ErrorCode));
  expect(answer.body).toEqual({
    error: { code, message: errorMessageOf(code as ErrorCode) },
    bankAnswer: expect.any(String),
  });
  expect(await verifiedBankAnswer(answer.body.bankAnswer, fields.id)).toEqual(signedRefusal(fields, code));
  expect(await balances()).toEqual(before);
  expect((await banks.x.call('GET', `/payment-orders/${fields.id}`)).status).toBe(404);
  const refusals = await refusalsOf(fields.id);
  expect(refusals.at(-1)).toMatchObject({ code, ordered_by: testCaller });
  expect(refusals.at(-1)?.reason.length).toBeGreaterThan(0);
  return refusals.at(-1)!.reason;
}

describe('a payment order without the customer’s consent moves nothing', () => {
  it('refuses an order the FSP signed alone (no authorisation): CUSTOMER_AUTHORISATION_REQUIRED', async () => {
    await expectRefused(debit(), undefined, 'CUSTOMER_AUTHORISATION_REQUIRED');
  });

  it('refuses an authorisation of another amount, payee, currency, transaction or account', async () => {
    const order = debit();
    const otherPayee = uniquePartyId('merchant', 'ybank', 'other');
    const signedOtherwise: Partial<DebitToAuthorise>[] = [
      { amount: '1249' },
      { amount: '125000' },
      { payeeId: otherPayee },
      { currency: 'USD' },
      { id: randomUUID() },
      { debitAccountId: savings },
    ];
    const reasons: string[] = [];
    for (const signed of signedOtherwise) {
      const authorisation = await signTestAuthorisation(key, { ...order, ...signed });
      reasons.push(await expectRefused(order, authorisation, 'CUSTOMER_AUTHORISATION_INVALID'));
    }
    expect(reasons[0]).toContain('data.amount.value');
    expect(reasons[2]).toContain('address.to.id');
    expect(reasons[3]).toContain('data.amount.currency');
  });

  it('refuses an authorisation addressed to another FSP than the one that orders', async () => {
    const order = debit();
    const authorisation = await signTestAuthorisation(key, order, { audience: 'fsp.other' });
    await expectRefused(order, authorisation, 'CUSTOMER_AUTHORISATION_INVALID');
  });

  it('refuses a debit of an account the key is not bound to, even the same customer’s', async () => {
    const order = debit({ debitAccountId: savings });
    const reason = await expectRefused(
      order,
      await signTestAuthorisation(key, order),
      'CUSTOMER_AUTHORISATION_INVALID',
    );
    expect(reason).toContain('does not name the debited account');
  });

  it('refuses a key of another party, and a key the bank never bound', async () => {
    const other = uniquePartyId('person', 'xbank', 'eve');
    const otherAccount = await banks.x.openAccount('customer', other);
    const otherKey = await enrolTestCustomer(banks.x, other, [otherAccount]);
    const order = debit();
    const byOther = await signTestAuthorisation(otherKey, order);
    expect(await expectRefused(order, byOther, 'CUSTOMER_AUTHORISATION_INVALID')).toContain('iss');
    // Even claiming to be the payer: the key is bound to the other party.
    const asPayer = await signTestAuthorisation({ ...otherKey, partyId: payer }, order);
    expect(await expectRefused(order, asPayer, 'CUSTOMER_AUTHORISATION_INVALID')).toContain('another party');
    const stranger = await generateSigningKeyPair();
    const unbound = await signTestAuthorisation(key, order, { signingKey: stranger });
    expect(await expectRefused(order, unbound, 'CUSTOMER_AUTHORISATION_INVALID')).toContain('not bound');
    const forged = await signTestAuthorisation(key, order, {
      signingKey: {
        ...stranger,
        kid: key.signing.kid,
        privateJwk: { ...stranger.privateJwk, kid: key.signing.kid },
      },
    });
    await expectRefused(order, forged, 'CUSTOMER_AUTHORISATION_INVALID');
  });

  it('refuses a revoked binding; the revocation is idempotent and published', async () => {
    const revoke = () =>
      banks.x.call('POST', `/key-bindings/${key.serial}/revocation`, { reason: 'phone lost' });
    const first = await revoke();
    expect(first).toMatchObject({ status: 201, body: { serial: key.serial, status: 'revoked' } });
    expect(await revoke()).toMatchObject({ status: 200, body: first.body });
    const order = debit();
    const reason = await expectRefused(
      order,
      await signTestAuthorisation(key, order),
      'CUSTOMER_AUTHORISATION_INVALID',
    );
    expect(reason).toContain('KEY_BINDING_REVOKED');
    const published = await fetch(`${banks.x.url}/key-bindings/${key.serial}`).then((response) =>
      response.json(),
    );
    expect(published).toEqual({
      serial: key.serial,
      binding: key.binding,
      status: 'revoked',
      revokedAt: first.body.revokedAt,
    });
  });

  it('refuses an expired binding', async () => {
    banks.x.offsetMs = 366 * 86_400_000;
    const order = debit();
    const authorisation = await signTestAuthorisation(key, order, { now: () => banks.x.now().getTime() });
    const reason = await expectRefused(order, authorisation, 'CUSTOMER_AUTHORISATION_INVALID');
    expect(reason).toContain('KEY_BINDING_EXPIRED');
    const published = await fetch(`${banks.x.url}/key-bindings/${key.serial}`).then((response) =>
      response.json(),
    );
    expect(published).toMatchObject({ status: 'expired' });
  });

  it('refuses an expired authorisation, and one that lives longer than the limit', async () => {
    const order = debit();
    const tenMinutesAgo = () => Date.now() - 600_000;
    const expired = await signTestAuthorisation(key, order, { now: tenMinutesAgo });
    expect(await expectRefused(order, expired, 'CUSTOMER_AUTHORISATION_INVALID')).toContain(
      'MESSAGE_EXPIRED',
    );
    const longLived = await signTestAuthorisation(key, order, { expiresInSeconds: 3_600 });
    await expectRefused(order, longLived, 'CUSTOMER_AUTHORISATION_INVALID');
  });

  it('refuses a payee that owns no account at this bank (local payee): PAYEE_UNKNOWN', async () => {
    const order = debit({ creditBankId: 'xbank', payeeId: uniquePartyId('merchant', 'xbank', 'nobody') });
    await expectRefused(order, await signTestAuthorisation(key, order), 'PAYEE_UNKNOWN');
    const wrongCurrency = debit({ creditBankId: 'xbank', payeeId: localPayee, currency: 'USD' });
    await expectRefused(wrongCurrency, await signTestAuthorisation(key, wrongCurrency), 'PAYEE_UNKNOWN');
  });
});

describe('a payment order with the customer’s consent', () => {
  it('pays a local payee on the account the bank’s records bind to the payee id, and signs its answer', async () => {
    const order = debit({ creditBankId: 'xbank', payeeId: localPayee });
    const placed = await place(order, await signTestAuthorisation(key, order));
    expect(placed).toMatchObject({
      status: 201,
      body: { state: 'completed', payerId: payer, payeeId: localPayee },
    });
    expect(placed.body).not.toHaveProperty('creditAccountId');
    expect(await banks.x.balance(customer)).toEqual({ balance: 8_750n, available: 8_750n });
    expect(await banks.x.balance(localMerchant)).toMatchObject({ balance: 1_250n });
    expect(await verifiedBankAnswer(placed.body.bankAnswer, order.id)).toEqual({
      id: order.id,
      state: 'completed',
      payerId: payer,
      payeeId: localPayee,
      amount: '1250',
      currency: 'EUR',
    });
  });

  it('pays a remote payee through its bank, which resolves the account; a retry debits once', async () => {
    const order = debit();
    const authorisation = await signTestAuthorisation(key, order);
    const placed = await place(order, authorisation);
    expect(placed).toMatchObject({ status: 201, body: { state: 'completed' } });
    // Retried after the customer's signature expired: answered from the record, not verified again.
    banks.x.offsetMs = 3_600_000;
    const again = await place(order, authorisation);
    expect(again).toMatchObject({ status: 201, body: { id: order.id, state: 'completed' } });
    const read = await banks.x.call('GET', `/payment-orders/${order.id}`);
    expect(await verifiedBankAnswer(read.body.bankAnswer, order.id)).toMatchObject({ state: 'completed' });
    expect(await banks.x.balance(customer)).toEqual({ balance: 8_750n, available: 8_750n });
    expect(await banks.y.balance(remoteMerchant)).toMatchObject({ balance: 1_250n });
    const { rows } = await banks.y.database.query<{ payee_id: string; credit_account_id: string }>(
      'SELECT payee_id, credit_account_id::text AS credit_account_id FROM interbank_credits WHERE id = $1',
      [order.id],
    );
    expect(rows).toEqual([{ payee_id: remotePayee, credit_account_id: remoteMerchant }]);
  });

  it('is refused by the payee’s bank for a payee it does not know (signed PAYEE_UNKNOWN), and nothing moves', async () => {
    const order = debit({ payeeId: uniquePartyId('merchant', 'ybank', 'nobody') });
    const before = await balances();
    const placed = await place(order, await signTestAuthorisation(key, order));
    expect(placed).toMatchObject({ status: 201, body: { state: 'refused', refusalCode: 'PAYEE_UNKNOWN' } });
    expect(await balances()).toEqual(before);
    expect(await verifiedBankAnswer(placed.body.bankAnswer, order.id)).toMatchObject({
      state: 'refused',
      refusalCode: 'PAYEE_UNKNOWN',
    });
  });

  it('orders racing a revocation: each is paid or refused whole, and none is accepted after it', async () => {
    const orders = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const fields = debit({ amount: '100' });
        return { fields, authorisation: await signTestAuthorisation(key, fields) };
      }),
    );
    const revocation = banks.x.call('POST', `/key-bindings/${key.serial}/revocation`, { reason: 'stolen' });
    const answers = await Promise.all(
      orders.map(({ fields, authorisation }) => place(fields, authorisation)),
    );
    expect((await revocation).status).toBe(201);
    const paid = answers.filter((answer) => answer.body.state === 'completed').length;
    const refused = answers.filter(
      (answer) =>
        (answer.body.error as { code?: string } | undefined)?.code === 'CUSTOMER_AUTHORISATION_INVALID',
    ).length;
    expect(paid + refused).toBe(orders.length);
    expect(await banks.x.balance(customer)).toEqual({
      balance: 10_000n - 100n * BigInt(paid),
      available: 10_000n - 100n * BigInt(paid),
    });
    expect(await banks.y.balance(remoteMerchant)).toMatchObject({ balance: 100n * BigInt(paid) });
    const late = debit();
    await expectRefused(late, await signTestAuthorisation(key, late), 'CUSTOMER_AUTHORISATION_INVALID');
  });

  it('20 parallel copies of one authorised order debit once', async () => {
    const order = debit();
    const authorisation = await signTestAuthorisation(key, order);
    const answers = await Promise.all(Array.from({ length: 20 }, () => place(order, authorisation)));
    expect(new Set(answers.map((answer) => answer.body.state))).toEqual(new Set(['completed']));
    expect(await banks.x.balance(customer)).toEqual({ balance: 8_750n, available: 8_750n });
    expect(await banks.y.balance(remoteMerchant)).toMatchObject({ balance: 1_250n });
  });
});

describe('the bank’s signed word on a refusal', () => {
  /** POST /payment-orders as `fetch` sends it, with any headers (or none: no authentication). */
  async function post(body: unknown, headers: Record<string, string>) {
    const response = await fetch(`${banks.x.url}/payment-orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  const authenticated = { authorization: `Bearer ${testBearerToken}` };

  it('signs the ledger’s refusals too (insufficient funds, a debit limit), with the status and error as before', async () => {
    const limited = await banks.x.call('POST', `/accounts/${customer}/limits`, {
      perTransactionMax: '15000',
    });
    expect(limited.status).toBe(200);
    const before = await balances();
    const refusals = [
      { fields: debit({ amount: '12000' }), code: 'INSUFFICIENT_FUNDS' },
      { fields: debit({ amount: '16000' }), code: 'LIMIT_EXCEEDED', detail: 'perTransactionMax' },
    ] as const;
    for (const { fields, code, ...detail } of refusals) {
      const answer = await place(fields, await signTestAuthorisation(key, fields));
      expect(answer.status).toBe(422);
      expect(Object.keys(answer.body).sort()).toEqual(['bankAnswer', 'error']);
      // The error member as without the signature (its detail included); the signed answer names the code only.
      expect(answer.body.error).toEqual({ code, message: errorMessageOf(code), ...detail });
      expect(await verifiedBankAnswer(answer.body.bankAnswer, fields.id)).toEqual(
        signedRefusal(fields, code),
      );
    }
    expect(await balances()).toEqual(before);
  });

  it('addresses the signed refusal to the caller that ordered, not to whoever the body names', async () => {
    const order = debit();
    const answer = await post(
      { ...order, reference: 'iMS payment', authorisation: await signTestAuthorisation(key, order) },
      { ...authenticated, 'x-test-caller': 'fsp.other' },
    );
    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatchObject({ code: 'CUSTOMER_AUTHORISATION_INVALID' });
    expect(await verifiedBankAnswer(answer.body.bankAnswer, order.id, 'fsp.other')).toEqual(
      signedRefusal(order, 'CUSTOMER_AUTHORISATION_INVALID'),
    );
    await expect(verifiedBankAnswer(answer.body.bankAnswer, order.id)).rejects.toThrow();
  });

  it('signs nothing for a request that fails authentication', async () => {
    const order = { ...debit(), reference: 'iMS payment' };
    const unauthenticated: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }];
    for (const headers of unauthenticated) {
      const answer = await post(order, headers);
      expect(answer).toEqual({
        status: 401,
        body: { error: { code: 'AUTHENTICATION_FAILED', message: errorMessageOf('AUTHENTICATION_FAILED') } },
      });
    }
    expect(await refusalsOf(order.id)).toEqual([]);
  });

  it('signs nothing for a request that fails the schema or names a party in no canonical form', async () => {
    const order = { ...debit(), reference: 'iMS payment' };
    const { reference: _, ...noReference } = order;
    const invalid = [
      noReference,
      { ...order, amount: '0' },
      { ...order, amount: 1250 },
      { ...order, extra: 'field' },
      { ...order, authorisation: 'not a jws' },
      { ...order, payeeId: 'shop@merchant' },
    ];
    for (const body of invalid) {
      const answer = await post(body, authenticated);
      expect(answer.status).toBe(400);
      expect(Object.keys(answer.body)).toEqual(['error']);
      expect(answer.body.error).toMatchObject({ code: 'REQUEST_INVALID' });
    }
    expect(await refusalsOf(order.id)).toEqual([]);
  });

  it('signs nothing for the same order id with other fields (not a refusal of the payment)', async () => {
    const order = debit({ creditBankId: 'xbank', payeeId: localPayee });
    expect((await place(order, await signTestAuthorisation(key, order))).status).toBe(201);
    const changed = { ...order, amount: '1251' };
    const answer = await place(changed, await signTestAuthorisation(key, changed));
    expect(answer.status).toBe(409);
    expect(Object.keys(answer.body)).toEqual(['error']);
  });

  it('a refused order id, ordered again with the customer’s consent, completes with its own signed answer', async () => {
    const order = debit({ creditBankId: 'xbank', payeeId: localPayee });
    await expectRefused(order, undefined, 'CUSTOMER_AUTHORISATION_REQUIRED');
    const placed = await place(order, await signTestAuthorisation(key, order));
    expect(placed.status).toBe(201);
    expect(placed.body).not.toHaveProperty('error');
    expect(await verifiedBankAnswer(placed.body.bankAnswer, order.id)).toEqual({
      id: order.id,
      state: 'completed',
      payerId: payer,
      payeeId: localPayee,
      amount: '1250',
      currency: 'EUR',
    });
  });
});
