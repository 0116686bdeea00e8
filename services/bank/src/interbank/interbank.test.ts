import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { decodeUnverified, generateSigningKeyPair } from '@mpay/envelope';
import { statementTexts, traceStatementTexts } from '@mpay/storage';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serviceStartDeadlineMs, within } from '../../../../test/support/deadlines.ts';
import {
  type EnrolledKey,
  enrolTestCustomer,
  sealTestSecondFactor,
  signTestAuthorisation,
  uniquePartyId,
} from '../test-helpers.ts';
import { holdResolutionId } from './ids.ts';
import { signFundsTransfer } from './messages.ts';
import { selectOrder } from './orders-store.ts';
import { createInterbank } from './peers.ts';
import { startBankPair, type TestBankPair } from './test-banks.ts';

let banks: TestBankPair;
let customer: string;
let merchant: string;
/** Each test's own payer and payee, so that the payee's bank resolves this test's merchant account. */
let customerParty: string;
let merchantParty: string;
/** The customer's device key, enrolled at xbank for `customer`. */
let key: EnrolledKey;

async function fund(account: string, amount: bigint) {
  const funding = await banks.x.openAccount('funding');
  const answer = await banks.x.call('POST', '/transfers', {
    id: randomUUID(),
    debitAccountId: funding,
    creditAccountId: account,
    amount: amount.toString(),
    currency: 'EUR',
    reference: 'opening',
  });
  expect(answer.status).toBe(201);
}

/** A payment order the FSP sends, with the customer's authorisation of exactly its fields. */
async function order(overrides: Record<string, string> = {}) {
  const fields = {
    id: randomUUID(),
    payerId: customerParty,
    debitAccountId: customer,
    payeeId: merchantParty,
    creditBankId: 'ybank',
    amount: '1250',
    currency: 'EUR',
    ...overrides,
  };
  // The code is checked only at the level that asks for one (a large amount); below, the bank ignores it.
  const secondFactor = await sealTestSecondFactor(key, fields, banks.x.now());
  return {
    ...fields,
    reference: 'iMS payment',
    authorisation: await signTestAuthorisation(key, fields, { secondFactor }),
  };
}

async function expectAudited() {
  for (const node of [banks.x, banks.y]) {
    const audit = await node.call('GET', '/audit');
    expect(audit.body.ok, `${node.name} audit`).toBe(true);
  }
}

async function positions() {
  const net = async (node: typeof banks.x) => {
    const { body } = await node.call('GET', '/settlement/positions');
    const list = body.positions as { peer: string; net: string }[];
    return BigInt(list[0]?.net ?? '0');
  };
  return { x: await net(banks.x), y: await net(banks.y) };
}

let before: { x: bigint; y: bigint };

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
  key = await enrolTestCustomer(banks.x, customerParty, [customer]);
  await fund(customer, 10_000n);
  before = await positions();
});

afterEach(async () => {
  banks.x.offsetMs = 0;
  banks.y.offsetMs = 0;
  // Nothing may stay in flight between tests: every order has a final state.
  await banks.x.service.worker.runOnce();
});

/** Positions moved since the test began. */
async function moved() {
  const now = await positions();
  return { x: now.x - before.x, y: now.y - before.y };
}

describe('payment orders between two banks', () => {
  it('holds at the client bank, credits at the merchant bank on a signed message, posts on the signed answer', async () => {
    const placed = await banks.x.call('POST', '/payment-orders', await order());
    expect(placed).toMatchObject({ status: 201, body: { state: 'completed' } });
    expect(await banks.x.balance(customer)).toEqual({ balance: 8_750n, available: 8_750n });
    expect(await banks.y.balance(merchant)).toEqual({ balance: 1_250n, available: 1_250n });
    expect(await moved()).toEqual({ x: 1_250n, y: -1_250n });
    await expectAudited();
  });

  it('opens each settlement account once: later orders meet it without sending its insert again', async () => {
    // The first orders open (or find) the account at each bank; from then on it is known to exist.
    for (let index = 0; index < 2; index += 1)
      expect((await banks.x.call('POST', '/payment-orders', await order())).status).toBe(201);
    traceStatementTexts(true);
    try {
      for (let index = 0; index < 2; index += 1)
        expect((await banks.x.call('POST', '/payment-orders', await order())).body).toMatchObject({
          state: 'completed',
        });
      const inserts = Object.values(statementTexts())
        .flatMap((texts) => Object.entries(texts))
        .filter(([text]) => text.includes('INSERT INTO accounts'))
        .reduce((sum, [, count]) => sum + count, 0);
      expect(inserts).toBe(0);
    } finally {
      traceStatementTexts(false);
    }
    expect(await banks.y.balance(merchant)).toEqual({ balance: 5_000n, available: 5_000n });
    await expectAudited();
  });

  it('answers a repeated order with the stored result and refuses the same id with other fields', async () => {
    const body = await order();
    await banks.x.call('POST', '/payment-orders', body);
    const again = await banks.x.call('POST', '/payment-orders', body);
    expect(again).toMatchObject({ status: 201, body: { id: body.id, state: 'completed' } });
    const changed = await banks.x.call('POST', '/payment-orders', { ...body, amount: '1251' });
    expect(changed.status).toBe(409);
    expect(changed.body).toMatchObject({ error: { code: 'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS' } });
    expect(await banks.x.balance(customer)).toMatchObject({ balance: 8_750n });
    expect(await banks.y.balance(merchant)).toMatchObject({ balance: 1_250n });
  });

  it('releases the hold when the merchant bank refuses (unknown payee) and moves nothing there', async () => {
    const nobody = uniquePartyId('merchant', 'ybank', 'nobody');
    const placed = await banks.x.call('POST', '/payment-orders', await order({ payeeId: nobody }));
    expect(placed).toMatchObject({ status: 201, body: { state: 'refused', refusalCode: 'PAYEE_UNKNOWN' } });
    expect(await banks.x.balance(customer)).toEqual({ balance: 10_000n, available: 10_000n });
    expect(await moved()).toEqual({ x: 0n, y: 0n });
    await expectAudited();
  });

  it('refuses an order the customer cannot pay, leaving no order behind', async () => {
    const body = await order({ amount: '10001' });
    const placed = await banks.x.call('POST', '/payment-orders', body);
    expect(placed.body).toMatchObject({ error: { code: 'INSUFFICIENT_FUNDS' } });
    expect((await banks.x.call('GET', `/payment-orders/${body.id}`)).status).toBe(404);
  });

  it('applies the customer account’s debit limits to payment orders, under the account lock', async () => {
    const limited = await banks.x.call('POST', `/accounts/${customer}/limits`, {
      perTransactionMax: '1000',
      dailyDebitMax: '1500',
    });
    expect(limited.status).toBe(200);
    const tooBig = await banks.x.call('POST', '/payment-orders', await order());
    expect(tooBig.body).toMatchObject({ error: { code: 'LIMIT_EXCEEDED' } });
    const answers = await Promise.all(
      [1, 2, 3].map(async () => banks.x.call('POST', '/payment-orders', await order({ amount: '600' }))),
    );
    expect(answers.filter((answer) => answer.body.state === 'completed')).toHaveLength(2);
    expect(
      answers.filter((answer) => (answer.body.error as { code?: string })?.code === 'LIMIT_EXCEEDED'),
    ).toHaveLength(1);
    expect(await banks.x.balance(customer)).toEqual({ balance: 8_800n, available: 8_800n });
  });

  it('keeps the hold while the merchant bank is down and completes when it is back', async () => {
    await banks.y.stop();
    const body = await order();
    const placed = await banks.x.call('POST', '/payment-orders', body);
    expect(placed).toMatchObject({ status: 202, body: { state: 'sending' } });
    expect(await banks.x.balance(customer)).toEqual({ balance: 10_000n, available: 8_750n });
    await banks.y.start();
    banks.x.offsetMs += 5_000;
    await banks.x.service.worker.runOnce();
    expect((await banks.x.call('GET', `/payment-orders/${body.id}`)).body).toMatchObject({
      state: 'completed',
    });
    expect(await banks.x.balance(customer)).toEqual({ balance: 8_750n, available: 8_750n });
    expect(await banks.y.balance(merchant)).toMatchObject({ balance: 1_250n });
    await expectAudited();
  });

  it('takes a merchant bank that answers a success without an object as one that did not answer', async () => {
    await banks.y.stop();
    // In the merchant bank's place, on its address: 200 with an empty body, then the text null.
    const answers = ['', 'null'];
    const impostor = createServer((_request, response) => response.end(answers.shift() ?? 'null'));
    await new Promise<void>((listening) =>
      impostor.listen(Number(new URL(banks.y.url).port), '127.0.0.1', listening),
    );
    const body = await order();
    try {
      expect(await banks.x.call('POST', '/payment-orders', body)).toMatchObject({
        status: 202,
        body: { state: 'sending' },
      });
      banks.x.offsetMs += 5_000;
      await banks.x.service.worker.runOnce();
      const stored = await selectOrder(banks.x.database, body.id);
      // Retryable and said as the peer being unavailable: no INTERNAL, no alarm on a first failure.
      expect(stored).toMatchObject({ state: 'sending', attempts: 2, lastError: 'BANK_UNAVAILABLE' });
    } finally {
      impostor.closeAllConnections();
      await new Promise((closed) => impostor.close(closed));
      await banks.y.start();
    }
    // The merchant bank back: the order completes at its next attempt, as after any outage.
    banks.x.offsetMs += 60_000;
    await banks.x.service.worker.runOnce();
    expect(await selectOrder(banks.x.database, body.id)).toMatchObject({ state: 'completed' });
  });

  it('never lets the expiry sweep release a hold the merchant bank has not answered for', async () => {
    await banks.y.stop();
    const body = await order();
    await banks.x.call('POST', '/payment-orders', body);
    banks.x.offsetMs += 8 * 86_400_000;
    await banks.x.service.ledger.expirePendingTransfers(banks.x.now());
    expect(await banks.x.balance(customer)).toEqual({ balance: 10_000n, available: 8_750n });
    banks.x.offsetMs = 0;
    await banks.y.start();
    await banks.x.service.worker.runOnce();
  });

  it('after the deadline the merchant bank refuses for good and the client bank releases the hold', async () => {
    await banks.y.stop();
    const body = await order();
    await banks.x.call('POST', '/payment-orders', body);
    await banks.y.start();
    banks.y.offsetMs += 120_000;
    banks.x.offsetMs += 5_000;
    await banks.x.service.worker.runOnce();
    expect((await banks.x.call('GET', `/payment-orders/${body.id}`)).body).toMatchObject({
      state: 'refused',
      refusalCode: 'FUNDS_TRANSFER_EXPIRED',
    });
    expect(await banks.x.balance(customer)).toEqual({ balance: 10_000n, available: 10_000n });
    expect(await banks.y.balance(merchant)).toMatchObject({ balance: 0n });
    await expectAudited();
  });

  it('settles the net position at both banks with one run id, once', async () => {
    await banks.x.call('POST', '/payment-orders', await order());
    await banks.x.call('POST', '/payment-orders', await order({ amount: '250' }));
    expect(await moved()).toEqual({ x: 1_500n, y: -1_500n });
    const run = randomUUID();
    for (const [node, amount] of [
      [banks.x, '1500'],
      [banks.y, '-1500'],
    ] as const) {
      const peer = node === banks.x ? 'ybank' : 'xbank';
      expect(
        (await node.call('POST', '/settlements', { id: run, peer, currency: 'EUR', amount })).status,
      ).toBe(201);
      expect(
        (await node.call('POST', '/settlements', { id: run, peer, currency: 'EUR', amount })).status,
      ).toBe(200);
      const other = await node.call('POST', '/settlements', { id: run, peer, currency: 'EUR', amount: '1' });
      expect(other.body).toMatchObject({ error: { code: 'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS' } });
    }
    expect(await moved()).toEqual({ x: 0n, y: 0n });
    await expectAudited();
  });
});

describe('what nobody but the merchant bank’s answer may do', () => {
  it('refuses an operator’s void or post of a hold whose order is still being delivered', async () => {
    await banks.y.stop();
    const body = await order();
    await banks.x.call('POST', '/payment-orders', body);
    for (const action of ['void', 'post']) {
      const answer = await banks.x.call('POST', `/transfers/${body.id}/${action}`, { reference: 'operator' });
      expect(answer).toMatchObject({
        status: 409,
        body: { error: { code: 'TRANSFER_HELD_BY_PAYMENT_ORDER' } },
      });
    }
    expect(await banks.x.balance(customer)).toEqual({ balance: 10_000n, available: 8_750n });
    await banks.y.start();
    banks.x.offsetMs += 5_000;
    await banks.x.service.worker.runOnce();
    expect(await banks.x.balance(customer)).toEqual({ balance: 8_750n, available: 8_750n });
    const refund = await banks.x.call('POST', `/transfers/${holdResolutionId(body.id, 'post')}/refund`, {
      id: randomUUID(),
      reference: 'local refund',
    });
    expect(refund.body).toMatchObject({ error: { code: 'CORRECTION_CROSSES_BANKS' } });
  });

  it('lets the FSP debit only accounts bound to the customer’s key and pay only customers or merchants', async () => {
    const funding = await banks.x.openAccount('funding');
    await fund(funding, 1_000n);
    const fromFunding = await banks.x.call(
      'POST',
      '/payment-orders',
      await order({ debitAccountId: funding }),
    );
    expect(fromFunding.body).toMatchObject({ error: { code: 'CUSTOMER_AUTHORISATION_INVALID' } });
    const nobody = uniquePartyId('merchant', 'xbank', 'nobody');
    const toNobody = await banks.x.call(
      'POST',
      '/payment-orders',
      await order({ creditBankId: 'xbank', payeeId: nobody }),
    );
    expect(toNobody.body).toMatchObject({ error: { code: 'PAYEE_UNKNOWN' } });
    expect(await banks.x.balance(customer)).toMatchObject({ balance: 10_000n });
    expect(await banks.x.balance(funding)).toMatchObject({ balance: 1_000n });
  });

  it('answers concurrent identical orders with the one order, even near a daily limit', async () => {
    await banks.x.call('POST', `/accounts/${customer}/limits`, { dailyDebitMax: '1500' });
    const body = await order();
    const answers = await Promise.all([1, 2, 3, 4].map(() => banks.x.call('POST', '/payment-orders', body)));
    expect(answers.map((answer) => answer.body.state)).toEqual([
      'completed',
      'completed',
      'completed',
      'completed',
    ]);
    expect(await banks.x.balance(customer)).toMatchObject({ balance: 8_750n });
  });

  it('refuses credits beyond the net debit cap of the paying bank, and the hold is released', async () => {
    await fund(customer, 60_000n);
    const placed = await banks.x.call('POST', '/payment-orders', await order({ amount: '50001' }));
    expect(placed.body).toMatchObject({ state: 'refused', refusalCode: 'LIMIT_EXCEEDED' });
    expect(await banks.x.balance(customer)).toEqual({ balance: 70_000n, available: 70_000n });
  });

  it('honours a credit that arrives after the hold expired, in one transaction', async () => {
    await banks.y.stop();
    const body = await order();
    await banks.x.call('POST', '/payment-orders', body);
    await banks.y.start();
    banks.x.offsetMs += 8 * 86_400_000;
    await banks.x.service.worker.runOnce();
    expect((await banks.x.call('GET', `/payment-orders/${body.id}`)).body).toMatchObject({
      state: 'completed',
    });
    expect(await banks.x.balance(customer)).toEqual({ balance: 8_750n, available: 8_750n });
    expect(await moved()).toEqual({ x: 1_250n, y: -1_250n });
    await expectAudited();
  });

  it('never settles more than the position, so a second run for the same position is refused', async () => {
    await banks.x.call('POST', '/payment-orders', await order());
    const { body } = await banks.x.call('GET', '/settlement/positions');
    const net = (body.positions as { net: string }[])[0]!.net;
    const run = { peer: 'ybank', currency: 'EUR', amount: (BigInt(net) + 1n).toString() };
    const beyond = await banks.x.call('POST', '/settlements', { id: randomUUID(), ...run });
    expect(beyond.body).toMatchObject({ error: { code: 'SETTLEMENT_EXCEEDS_POSITION' } });
    const wrongWay = await banks.x.call('POST', '/settlements', { id: randomUUID(), ...run, amount: '-1' });
    expect(wrongWay.body).toMatchObject({ error: { code: 'SETTLEMENT_EXCEEDS_POSITION' } });
  });
});

describe('funds-transfer messages at the merchant bank', () => {
  async function send(message: string) {
    return fetch(`${banks.y.url}/interbank/funds-transfers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message }),
    }).then(async (response) => ({
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
    }));
  }

  function content(id = randomUUID()) {
    return {
      id,
      debtorBank: 'xbank',
      creditorBank: 'ybank',
      payeeId: merchantParty,
      amount: '500',
      currency: 'EUR',
      reference: 'direct',
      deadline: new Date(Date.now() + 60_000).toISOString(),
    };
  }

  const xbank = () => createInterbank('xbank', { signingKey: banks.keys.x, peers: [] });

  it('credits once for a message, refuses its replay, and answers a fresh message with the same id as before', async () => {
    const transfer = content();
    const message = await signFundsTransfer(xbank(), transfer);
    expect((await send(message)).status).toBe(200);
    const replay = await send(message);
    expect(replay).toMatchObject({ status: 409, body: { error: { code: 'MESSAGE_REPLAYED' } } });
    const retry = await send(await signFundsTransfer(xbank(), transfer));
    expect(retry.status).toBe(200);
    const changed = await send(await signFundsTransfer(xbank(), { ...transfer, amount: '501' }));
    expect(changed.body).toMatchObject({ error: { code: 'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS' } });
    expect(await banks.y.balance(merchant)).toMatchObject({ balance: 500n });
  });

  it('refuses a message signed by an unknown bank or with a broken signature, and moves nothing', async () => {
    const stranger = await generateSigningKeyPair('ES256');
    const unknown = await signFundsTransfer(
      createInterbank('xbank', { signingKey: stranger.privateJwk, peers: [] }),
      content(),
    );
    expect((await send(unknown)).body).toMatchObject({ error: { code: 'BANK_UNKNOWN' } });
    const good = await signFundsTransfer(xbank(), content());
    const broken = `${good.slice(0, -4)}${good.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    expect((await send(broken)).body).toMatchObject({ error: { code: 'CRYPTO_VERIFICATION_FAILED' } });
    const wrongBank = await signFundsTransfer(xbank(), { ...content(), debtorBank: 'ybank' });
    expect((await send(wrongBank)).body).toMatchObject({ error: { code: 'CRYPTO_VERIFICATION_FAILED' } });
    expect(await banks.y.balance(merchant)).toMatchObject({ balance: 0n });
    await expectAudited();
  });

  it('credits only the account its own records bind to the payee id, never one of the bank’s own', async () => {
    const funding = await banks.y.openAccount('funding');
    for (const payeeId of ['ybank', uniquePartyId('merchant', 'ybank', 'nobody')]) {
      const { body } = await send(await signFundsTransfer(xbank(), { ...content(), payeeId }));
      const answer = decodeUnverified(body.answer as string)?.payload as Record<string, unknown>;
      expect(answer.fundsTransferAnswer).toMatchObject({ outcome: 'refused', code: 'PAYEE_UNKNOWN' });
    }
    expect(await banks.y.balance(funding)).toMatchObject({ balance: 0n });
    expect(await banks.y.balance(merchant)).toMatchObject({ balance: 0n });
    const second = await banks.y.openAccount('merchant', merchantParty);
    await send(await signFundsTransfer(xbank(), content()));
    expect(await banks.y.balance(merchant)).toMatchObject({ balance: 500n });
    expect(await banks.y.balance(second)).toMatchObject({ balance: 0n });
    await expectAudited();
  });

  it('refuses, signed, a transfer in a currency this bank keeps no accounts in, as it refuses an unknown payee', async () => {
    // A peer of another version may send one: the message's pattern takes it, this bank's currencies do not.
    const { status, body } = await send(await signFundsTransfer(xbank(), { ...content(), currency: 'XYZ' }));
    expect(status).toBe(200);
    const answer = decodeUnverified(body.answer as string)?.payload as Record<string, unknown>;
    expect(answer.fundsTransferAnswer).toMatchObject({ outcome: 'refused', code: 'PAYEE_UNKNOWN' });
    expect(await banks.y.balance(merchant)).toMatchObject({ balance: 0n });
    await expectAudited();
  });
});
