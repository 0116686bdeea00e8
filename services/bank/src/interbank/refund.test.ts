import { randomUUID } from 'node:crypto';
import { generateSigningKeyPair, type PrivateJwk, signPayload } from '@mpay/envelope';
import { createAmount, merchantRefundContent } from '@mpay/protocol';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serviceStartDeadlineMs, within } from '../../../../test/support/deadlines.ts';
import {
  type EnrolledKey,
  enrolTestCustomer,
  errorCodeOf,
  signTestAuthorisation,
  testCaller,
  uniquePartyId,
} from '../test-helpers.ts';
import { createInterbank } from './peers.ts';
import { signRefundTransfer } from './refund-messages.ts';
import { startBankPair, type TestBankNode, type TestBankPair } from './test-banks.ts';

/**
 * Refunds through the chain, on two real banks with their own databases: the
 * FSP (the test caller) orders the merchant's bank with the merchant's own
 * signature; the merchant's bank checks it under the key it bound to the
 * merchant's account, debits, and pays the customer's bank back, which
 * credits the account it debited for the original order. Every refusal is
 * checked by its stable code AND by the balances; every test ends audited.
 */
let banks: TestBankPair;
let customer: string;
let merchant: string;
let customerParty: string;
let merchantParty: string;
let customerKey: EnrolledKey;
let merchantKey: EnrolledKey;

async function fund(node: TestBankNode, account: string, amount: bigint) {
  const funding = await node.openAccount('funding');
  const answer = await node.call('POST', '/transfers', {
    id: randomUUID(),
    debitAccountId: funding,
    creditAccountId: account,
    amount: amount.toString(),
    currency: 'EUR',
    reference: 'opening',
  });
  expect(answer.status).toBe(201);
}

/** The customer pays the merchant `amount` through the customer's bank (the FSP's payment order); returns its id. */
async function pay(
  amount = '1250',
  to: { node: TestBankNode; payee: string } = { node: banks.y, payee: merchantParty },
): Promise<string> {
  const fields = {
    id: randomUUID(),
    payerId: customerParty,
    debitAccountId: customer,
    payeeId: to.payee,
    creditBankId: to.node.name,
    amount,
    currency: 'EUR',
  };
  const authorisation = await signTestAuthorisation(customerKey, fields);
  const placed = await banks.x.call('POST', '/payment-orders', {
    ...fields,
    reference: 'iMS',
    authorisation,
  });
  expect(placed.body).toMatchObject({ state: 'completed' });
  return fields.id;
}

interface Refund {
  id: string;
  originalOrderId: string;
  originalBank: string;
  payerId: string;
  payeeId: string;
  amount: string;
  currency: string;
}

function refund(paymentId: string, overrides: Partial<Refund> = {}): Refund {
  return {
    id: randomUUID(),
    originalOrderId: paymentId,
    originalBank: 'xbank',
    payerId: merchantParty,
    payeeId: customerParty,
    amount: '500',
    currency: 'EUR',
    ...overrides,
  };
}

/** The merchant's signature over exactly `signed` (merchantRefundContent), as the merchant SDK makes it. */
async function merchantSigns(
  signed: Refund,
  key: PrivateJwk = merchantKey.signing.privateJwk,
  issuer = signed.payerId,
): Promise<string> {
  return signPayload(
    merchantRefundContent({
      refundId: signed.id,
      paymentId: signed.originalOrderId,
      merchantId: signed.payerId,
      customerId: signed.payeeId,
      amount: createAmount(signed.currency, BigInt(signed.amount)),
    }),
    { issuer, audience: testCaller, transactionId: signed.id, expiresInSeconds: 300 },
    key,
  );
}

/** POST /refund-orders at `node` as the FSP, with `authorisation` (default: the merchant's over exactly `ordered`). */
async function order(ordered: Refund, authorisation?: string, node: TestBankNode = banks.y) {
  return node.call('POST', '/refund-orders', {
    ...ordered,
    reference: `refund ${ordered.id}`,
    authorisation: authorisation ?? (await merchantSigns(ordered)),
  });
}

async function balances() {
  return {
    customer: (await banks.x.balance(customer)).balance,
    merchant: (await banks.y.balance(merchant)).balance,
  };
}

async function positions() {
  const net = async (node: TestBankNode) => {
    const { body } = await node.call('GET', '/settlement/positions');
    const list = body.positions as { peer: string; net: string }[];
    return BigInt(list[0]?.net ?? '0');
  };
  return { x: await net(banks.x), y: await net(banks.y) };
}

async function expectAudited() {
  for (const node of [banks.x, banks.y]) {
    const audit = await node.call('GET', '/audit');
    expect(audit.body.ok, `${node.name} audit`).toBe(true);
  }
}

/** A refusal before anything moved: its code, and the bank's signed word on it (state refused, same code). */
function expectSignedRefusal(answer: { status: number; body: Record<string, unknown> }, code: string) {
  expect(errorCodeOf(answer)).toBe(code);
  const signed = String(answer.body.bankAnswer).split('.');
  expect(signed).toHaveLength(3);
  const payload = JSON.parse(Buffer.from(signed[1]!, 'base64url').toString()) as {
    refundOrder: Record<string, unknown>;
  };
  expect(payload.refundOrder).toMatchObject({ state: 'refused', refusalCode: code });
}

async function expectNothingMoved(run: () => Promise<void>) {
  const before = { balances: await balances(), positions: await positions() };
  await run();
  expect({ balances: await balances(), positions: await positions() }).toEqual(before);
  expect(await banks.y.balance(merchant)).toMatchObject({ available: before.balances.merchant });
}

beforeAll(async () => {
  banks = await within(startBankPair({}, 50_000n), {
    deadlineMs: serviceStartDeadlineMs,
    what: 'the two test banks (startBankPair) to start',
  });
});

afterAll(async () => {
  await banks.close();
});

beforeEach(async () => {
  customerParty = uniquePartyId('person', 'xbank', 'ann');
  merchantParty = uniquePartyId('merchant', 'ybank', 'shop');
  customer = await banks.x.openAccount('customer', customerParty);
  merchant = await banks.y.openAccount('merchant', merchantParty);
  customerKey = await enrolTestCustomer(banks.x, customerParty, [customer]);
  // The merchant's key, bound by the merchant's bank to the merchant account (as a device key is to a customer's).
  merchantKey = await enrolTestCustomer(banks.y, merchantParty, [merchant]);
  await fund(banks.x, customer, 10_000n);
});

afterEach(async () => {
  banks.x.offsetMs = 0;
  banks.y.offsetMs = 0;
  await banks.y.service.worker.runOnce();
  await expectAudited();
});

describe('a merchant binds its key to its merchant account', () => {
  it("a merchant's code may name its merchant account; a person's code still names customer accounts only", async () => {
    expect(merchantKey.serial).toMatch(/\S/);
    const person = uniquePartyId('person', 'ybank', 'bob');
    const shopOfBob = await banks.y.openAccount('merchant', person);
    const refused = await banks.y.call('POST', '/enrolment-codes', {
      partyId: person,
      accountIds: [shopOfBob],
    });
    expect(errorCodeOf(refused)).toBe('ACCOUNT_UNKNOWN');
    // Nor another merchant's account.
    const other = uniquePartyId('merchant', 'ybank', 'other');
    const notTheirs = await banks.y.call('POST', '/enrolment-codes', {
      partyId: other,
      accountIds: [merchant],
    });
    expect(errorCodeOf(notTheirs)).toBe('ACCOUNT_UNKNOWN');
  });
});

describe('a refund across banks', () => {
  it('pays back in part, then the rest, and refuses a cent more; balances and positions follow', async () => {
    const paymentId = await pay('1250');
    const positionsPaid = await positions();
    expect(await balances()).toEqual({ customer: 8_750n, merchant: 1_250n });

    const first = refund(paymentId, { amount: '500' });
    const signed = await merchantSigns(first);
    const placed = await order(first, signed);
    expect(placed).toMatchObject({ status: 201, body: { id: first.id, state: 'completed' } });
    expect(String(placed.body.bankAnswer).split('.')).toHaveLength(3);
    expect(await balances()).toEqual({ customer: 9_250n, merchant: 750n });
    expect(await positions()).toEqual({ x: positionsPaid.x - 500n, y: positionsPaid.y + 500n });

    // The FSP asks again with what it stored (a lost answer): the same answer, nothing moves twice.
    const again = await order(first, signed);
    expect(again).toMatchObject({ status: 201, body: { id: first.id, state: 'completed' } });
    expect((await banks.y.call('GET', `/refund-orders/${first.id}`)).body).toMatchObject({
      state: 'completed',
    });
    // The same refund id with another amount, or signed again, is another request under the same id: refused.
    expect(errorCodeOf(await order({ ...first, amount: '501' }))).toBe(
      'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
    );
    expect(errorCodeOf(await order(first))).toBe('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS');
    expect(await balances()).toEqual({ customer: 9_250n, merchant: 750n });

    const rest = refund(paymentId, { amount: '750' });
    expect(await order(rest)).toMatchObject({ status: 201, body: { state: 'completed' } });
    expect(await balances()).toEqual({ customer: 10_000n, merchant: 0n });
    expect(await positions()).toEqual({ x: positionsPaid.x - 1_250n, y: positionsPaid.y + 1_250n });

    await fund(banks.y, merchant, 100n);
    await expectNothingMoved(async () => {
      const more = await order(refund(paymentId, { amount: '1' }));
      expect(more.status).toBe(422);
      expectSignedRefusal(more, 'REFUND_EXCEEDS_ORIGINAL');
    });
  });

  it('refuses a refund beyond what is left, and moves nothing', async () => {
    const paymentId = await pay('1250');
    await order(refund(paymentId, { amount: '1000' }));
    await fund(banks.y, merchant, 5_000n);
    await expectNothingMoved(async () => {
      expectSignedRefusal(await order(refund(paymentId, { amount: '251' })), 'REFUND_EXCEEDS_ORIGINAL');
      expectSignedRefusal(await order(refund(paymentId, { amount: '1251' })), 'REFUND_EXCEEDS_ORIGINAL');
    });
    expect(await order(refund(paymentId, { amount: '250' }))).toMatchObject({ body: { state: 'completed' } });
  });

  it('decides two concurrent refunds that together exceed the original one after the other: one pays, one is refused', async () => {
    const paymentId = await pay('1250');
    await fund(banks.y, merchant, 5_000n);
    const bodies = [refund(paymentId, { amount: '800' }), refund(paymentId, { amount: '800' })];
    const answers = await Promise.all(bodies.map((body) => order(body)));
    expect(answers.filter((answer) => answer.body.state === 'completed')).toHaveLength(1);
    expect(answers.filter((answer) => errorCodeOf(answer) === 'REFUND_EXCEEDS_ORIGINAL')).toHaveLength(1);
    expect(await balances()).toEqual({ customer: 8_750n + 800n, merchant: 6_250n - 800n });
  });

  it('refuses a refund not signed by the merchant under a key this bank bound to the credited account', async () => {
    const paymentId = await pay('1250');
    const stranger = await generateSigningKeyPair();
    const otherMerchant = uniquePartyId('merchant', 'ybank', 'other');
    const otherAccount = await banks.y.openAccount('merchant', otherMerchant);
    const otherKey = await enrolTestCustomer(banks.y, otherMerchant, [otherAccount]);
    // The merchant's key, bound to another account of the merchant only.
    const secondAccount = await banks.y.openAccount('merchant', merchantParty);
    const narrowKey = await enrolTestCustomer(banks.y, merchantParty, [secondAccount]);
    await expectNothingMoved(async () => {
      const wanted = refund(paymentId);
      for (const [what, authorisation] of [
        ['a key no bank bound', await merchantSigns(wanted, stranger.privateJwk)],
        [
          "the customer's key (bound at the customer's bank)",
          await merchantSigns(wanted, customerKey.signing.privateJwk),
        ],
        ["another merchant's bound key", await merchantSigns(wanted, otherKey.signing.privateJwk)],
        [
          "another merchant's key, signing as itself",
          await merchantSigns(wanted, otherKey.signing.privateJwk, otherMerchant),
        ],
        [
          'a key of the merchant bound to another account',
          await merchantSigns(wanted, narrowKey.signing.privateJwk),
        ],
        ['a signature over another amount', await merchantSigns({ ...wanted, amount: '501' })],
        ['a signature over another refund', await merchantSigns({ ...wanted, id: randomUUID() })],
        [
          'a signature over another payment',
          await merchantSigns({ ...wanted, originalOrderId: randomUUID() }),
        ],
        ['not a signature', 'eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl'],
      ] as const) {
        const refused = await order(wanted, authorisation);
        expect([refused.status, errorCodeOf(refused)], what).toEqual([403, 'REFUND_AUTHORISATION_INVALID']);
      }
      // Another merchant refunding a payment that was not made to it: its own key, its own name.
      const theirs = refund(paymentId, { payerId: otherMerchant });
      const notTheirs = await order(theirs, await merchantSigns(theirs, otherKey.signing.privateJwk));
      expectSignedRefusal(notTheirs, 'REFUND_ORIGINAL_UNKNOWN');
    });
  });

  it('refuses after the merchant binding is revoked', async () => {
    const paymentId = await pay('1250');
    const revoked = await banks.y.call('POST', `/key-bindings/${merchantKey.serial}/revocation`, {
      reason: 'lost',
    });
    expect(revoked.status).toBe(201);
    await expectNothingMoved(async () => {
      expectSignedRefusal(await order(refund(paymentId)), 'REFUND_AUTHORISATION_INVALID');
    });
  });

  it('refuses a refund of an order the bank never credited to this merchant', async () => {
    const paid = await pay('1250');
    // A payment of the same customer to another merchant of the same bank.
    const otherMerchant = uniquePartyId('merchant', 'ybank', 'other');
    await banks.y.openAccount('merchant', otherMerchant);
    const toOther = await pay('100', { node: banks.y, payee: otherMerchant });
    await fund(banks.y, merchant, 5_000n);
    await expectNothingMoved(async () => {
      expectSignedRefusal(await order(refund(randomUUID())), 'REFUND_ORIGINAL_UNKNOWN');
      expectSignedRefusal(await order(refund(toOther, { amount: '100' })), 'REFUND_ORIGINAL_UNKNOWN');
      // The right payment said to come from another bank, or in another currency.
      expectSignedRefusal(await order(refund(paid, { originalBank: 'ybank' })), 'REFUND_ORIGINAL_UNKNOWN');
      expectSignedRefusal(await order(refund(paid, { currency: 'USD' })), 'REFUND_ORIGINAL_UNKNOWN');
    });
    expect(await order(refund(paid))).toMatchObject({ body: { state: 'completed' } });
  });

  it('refuses when the merchant has spent what it was paid, and moves nothing', async () => {
    const paymentId = await pay('1250');
    const funding = await banks.y.openAccount('funding');
    const spent = await banks.y.call('POST', '/transfers', {
      id: randomUUID(),
      debitAccountId: merchant,
      creditAccountId: funding,
      amount: '1000',
      currency: 'EUR',
      reference: 'merchant pays its supplier',
    });
    expect(spent.status).toBe(201);
    await expectNothingMoved(async () => {
      expectSignedRefusal(await order(refund(paymentId, { amount: '500' })), 'INSUFFICIENT_FUNDS');
    });
  });

  it("keeps the hold while the customer's bank is down and completes when it is back", async () => {
    const paymentId = await pay('1250');
    await banks.x.stop();
    const wanted = refund(paymentId, { amount: '500' });
    try {
      expect(await order(wanted)).toMatchObject({ status: 202, body: { state: 'sending' } });
      expect(await banks.y.balance(merchant)).toEqual({ balance: 1_250n, available: 750n });
      // The operator may not resolve the hold: only the customer's bank's signed answer does.
      const voided = await banks.y.call('POST', `/transfers/${await holdOf(wanted.id)}/void`, {
        reference: 'op',
      });
      expect(errorCodeOf(voided)).toBe('TRANSFER_HELD_BY_PAYMENT_ORDER');
      // Nor does the expiry sweep, long after the hold's timeout.
      banks.y.offsetMs += 8 * 86_400_000;
      await banks.y.service.ledger.expirePendingTransfers(banks.y.now());
      expect(await banks.y.balance(merchant)).toEqual({ balance: 1_250n, available: 750n });
      banks.y.offsetMs = 0;
    } finally {
      await banks.x.start();
    }
    banks.y.offsetMs += 5_000;
    await banks.y.service.worker.runOnce();
    expect((await banks.y.call('GET', `/refund-orders/${wanted.id}`)).body).toMatchObject({
      state: 'completed',
    });
    expect(await balances()).toEqual({ customer: 9_250n, merchant: 750n });
  });
});

/** The hold's id of refund `id` at the merchant's bank (derived; read back from the refund order's transfer). */
async function holdOf(id: string): Promise<string> {
  const { rows } = await banks.y.database.query<{ transfer_id: string }>(
    'SELECT transfer_id::text AS transfer_id FROM refund_orders WHERE id = $1',
    [id],
  );
  return rows[0]!.transfer_id;
}

describe("the customer's bank credits only the account of the original order", () => {
  async function sendAsMerchantBank(fields: Partial<Parameters<typeof signRefundTransfer>[1]>) {
    const interbank = createInterbank('ybank', {
      signingKey: banks.keys.y,
      peers: [
        { id: 'xbank', url: banks.x.url, signingJwk: { kty: 'EC', crv: 'P-256', x: '', y: '' } as never },
      ],
    });
    const message = await signRefundTransfer(interbank, {
      id: randomUUID(),
      debtorBank: 'ybank',
      creditorBank: 'xbank',
      originalOrderId: randomUUID(),
      payerId: merchantParty,
      payeeId: customerParty,
      amount: '100',
      currency: 'EUR',
      reference: 'refund',
      deadline: new Date(Date.now() + 60_000).toISOString(),
      ...fields,
    });
    const answer = await banks.x.call('POST', '/interbank/refund-transfers', { message });
    const payload = JSON.parse(
      Buffer.from(String(answer.body.answer).split('.')[1]!, 'base64url').toString(),
    ) as {
      refundTransferAnswer: { outcome: string; code?: string };
    };
    return payload.refundTransferAnswer;
  }

  it('refuses a refund of an order it never placed towards that bank, for that merchant and customer, or beyond it', async () => {
    const paymentId = await pay('1250');
    const before = await balances();
    expect(await sendAsMerchantBank({})).toEqual(
      expect.objectContaining({ code: 'REFUND_ORIGINAL_UNKNOWN' }),
    );
    const otherCustomer = uniquePartyId('person', 'xbank', 'eve');
    for (const fields of [
      { originalOrderId: paymentId, payeeId: otherCustomer },
      { originalOrderId: paymentId, payerId: uniquePartyId('merchant', 'ybank', 'other') },
      { originalOrderId: paymentId, currency: 'USD' },
    ])
      expect(await sendAsMerchantBank(fields)).toMatchObject({
        outcome: 'refused',
        code: 'REFUND_ORIGINAL_UNKNOWN',
      });
    expect(await sendAsMerchantBank({ originalOrderId: paymentId, amount: '1251' })).toMatchObject({
      outcome: 'refused',
      code: 'REFUND_EXCEEDS_ORIGINAL',
    });
    expect(await balances()).toEqual(before);
    // The exact original, within its amount: credited to the account debited for it.
    expect(await sendAsMerchantBank({ originalOrderId: paymentId, amount: '1250' })).toEqual({
      id: expect.any(String),
      outcome: 'credited',
    });
    expect(await balances()).toEqual({ ...before, customer: before.customer + 1_250n });
    // Settle the books: the merchant's bank never sent this one, so it pays the customer's bank by hand.
    const settled = await banks.x.call('GET', '/settlement/positions');
    expect((settled.body.positions as { net: string }[])[0]).toBeDefined();
  });
});

describe('a refund within one bank', () => {
  it('is one posted transfer back to the account debited, and counts with the operator refunds of the original', async () => {
    const localMerchant = uniquePartyId('merchant', 'xbank', 'corner');
    const localAccount = await banks.x.openAccount('merchant', localMerchant);
    const localKey = await enrolTestCustomer(banks.x, localMerchant, [localAccount]);
    const paymentId = await pay('1000', { node: banks.x, payee: localMerchant });
    expect(await banks.x.balance(localAccount)).toMatchObject({ balance: 1_000n });
    const local = (overrides: Partial<Refund>) =>
      refund(paymentId, { originalBank: 'xbank', payerId: localMerchant, ...overrides });
    const first = local({ amount: '300' });
    const placed = await order(first, await merchantSigns(first, localKey.signing.privateJwk), banks.x);
    expect(placed).toMatchObject({ status: 201, body: { state: 'completed' } });
    expect(await banks.x.balance(customer)).toMatchObject({ balance: 9_300n });
    expect(await banks.x.balance(localAccount)).toMatchObject({ balance: 700n });
    const corrections = await banks.x.call('GET', `/transfers/${paymentId}/corrections`);
    expect(corrections.body).toMatchObject({ corrected: '300' });
    // The operator refunds 600 of the same payment: only 100 is left for the merchant.
    const operator = await banks.x.call('POST', `/transfers/${paymentId}/refund`, {
      id: randomUUID(),
      amount: '600',
      reference: 'operator',
    });
    expect(operator.status).toBe(201);
    const over = local({ amount: '101' });
    const refused = await order(over, await merchantSigns(over, localKey.signing.privateJwk), banks.x);
    expectSignedRefusal(refused, 'REFUND_EXCEEDS_ORIGINAL');
    expect(await banks.x.balance(customer)).toMatchObject({ balance: 9_900n });
    const rest = local({ amount: '100' });
    expect(await order(rest, await merchantSigns(rest, localKey.signing.privateJwk), banks.x)).toMatchObject({
      body: { state: 'completed' },
    });
    expect(await banks.x.balance(customer)).toMatchObject({ balance: 10_000n });
    expect(await banks.x.balance(localAccount)).toMatchObject({ balance: 0n });
  });
});
