import { decodeBase64url, publicPart, verifyRawSignature } from '@mpay/envelope';
import { parseTillCode } from '@mpay/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../test-helpers.ts';
import { createTillConfig } from './config.ts';
import { createTillLimits } from './limits.ts';
import { openTillTestShop, type TillTestShop, testCustomer, testMerchantToken } from './test-support.ts';

let test: TillTestShop;
beforeAll(async () => {
  test = await openTillTestShop({ saleAmountMinorMax: 500_00, refundsPerPaymentMax: 3 });
});
afterEach(() => {
  test.resetClock();
});
afterAll(async () => {
  await test?.close();
});

interface SaleAnswer {
  saleId: string;
  status: string;
  state: string;
  amount: { currency: string; minor: string; value: string };
  reference: string | null;
  qrPayload: string;
  codeExpiresAt: string;
  customer: string | null;
  failureCode: string | null;
  paidAt: string | null;
  history?: { event: string; actor: string }[];
}

interface RefundAnswer {
  refundId: string;
  paymentId: string;
  kind: string;
  amount: { currency: string; minor: string };
  status: string;
  failureCode: string | null;
}

const staff = { token: testMerchantToken };
const newKey = () => `till-test-key-${crypto.randomUUID()}`;

async function postSale(body: unknown, key: string | null = newKey()) {
  const response = await fetch(`${test.url}/till/sales`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${testMerchantToken}`,
      ...(key === null ? {} : { 'idempotency-key': key }),
    },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as SaleAnswer & { error?: { code: string } };
  return { status: response.status, body: json };
}

async function newSale(minor = '780', reference?: string): Promise<SaleAnswer> {
  const answer = await postSale({
    amount: { currency: 'EUR', minor },
    ...(reference === undefined ? {} : { reference }),
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.body;
}

async function sale(saleId: string): Promise<SaleAnswer> {
  const answer = await call(test.url, 'GET', `/till/sales/${saleId}`, staff);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as unknown as SaleAnswer;
}

/** The FSP's signed webhook, POSTed as the gateway posts it. */
async function webhook(payload: Record<string, unknown>, transactionId: string) {
  const body = await test.fsp.payments.signNotification(payload, transactionId);
  const answer = await call(test.url, 'POST', '/webhooks/mpay', {
    raw: body,
    contentType: 'application/jose',
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer;
}

/** A customer's claim of the sale's code, as the FSP signs it for the merchant; then the outbox hands it to the till. */
async function claim(saleId: string, minor = '780', customer: string = testCustomer.id) {
  await webhook(
    {
      event: 'trade.claimed',
      claim: {
        transactionId: saleId,
        customer,
        amount: { currency: 'EUR', minor },
        claimedAt: new Date().toISOString(),
      },
    },
    saleId,
  );
  await test.shop.runBackgroundOnce();
}

async function paymentUpdated(
  saleId: string,
  status: string,
  minor = '780',
  extra: Record<string, unknown> = {},
) {
  await webhook(
    {
      event: 'payment.updated',
      payment: { id: saleId, status, amount: { currency: 'EUR', minor }, payer: testCustomer.id, ...extra },
    },
    saleId,
  );
}

const requestsFor = (saleId: string) =>
  test.fsp.payments.accepted.filter((request) => request.message.transactionId === saleId);

async function paidSale(minor = '780'): Promise<SaleAnswer> {
  const created = await newSale(minor);
  await claim(created.saleId, minor);
  await paymentUpdated(created.saleId, 'completed', minor);
  const paid = await sale(created.saleId);
  expect(paid.status).toBe('paid');
  return paid;
}

async function refund(body: Record<string, unknown>) {
  const answer = await call(test.url, 'POST', '/till/refunds', { ...staff, body });
  return {
    status: answer.status,
    body: answer.body as unknown as RefundAnswer & { error?: { code: string } },
  };
}

describe('the till: staff only', () => {
  it('refuses every till route without the merchant token, or with another, before reading the request', async () => {
    const saleId = crypto.randomUUID();
    const routes: [Parameters<typeof call>[1], string][] = [
      ['POST', '/till/sales'],
      ['GET', '/till/sales'],
      ['GET', `/till/sales/${saleId}`],
      ['POST', `/till/sales/${saleId}/cancellation`],
      ['GET', '/till/payments'],
      ['POST', '/till/refunds'],
      ['GET', `/till/refunds/${saleId}`],
    ];
    for (const [method, path] of routes) {
      for (const token of [undefined, 'not-the-merchant-token-0123456789abcdefghij']) {
        const answer = await call(test.url, method, path, {
          ...(token === undefined ? {} : { token }),
          ...(method === 'POST' ? { body: { nonsense: true } } : {}),
        });
        expect([answer.status, answer.body.error?.code], `${method} ${path}`).toEqual([
          401,
          'AUTHENTICATION_FAILED',
        ]);
      }
    }
  });
});

describe('a sale and its signed QR code', () => {
  it("signs an EMV code for the sale's amount with the merchant's key; its transaction id is the sale's", async () => {
    const created = await newSale('780', 'Table 4: 2 coffees');
    expect(created).toMatchObject({
      status: 'waiting',
      amount: { currency: 'EUR', minor: '780', value: '7.80' },
      reference: 'Table 4: 2 coffees',
      customer: null,
    });
    const code = parseTillCode(created.qrPayload);
    expect(code.transactionId).toBe(created.saleId);
    expect(code.amount).toEqual({ currency: 'EUR', minor: 780n });
    expect(code.merchantId).toBe('merkur.trade@merchant.ybank');
    expect([code.merchantName, code.merchantCity]).toEqual(['Merkur Trade', 'Skopje']);
    expect(code.expiresAt.toISOString()).toBe(created.codeExpiresAt);
    const verified = await verifyRawSignature(
      'ES256',
      publicPart(test.merchantKey.privateJwk),
      code.signingInput,
      decodeBase64url(code.signature) ?? new Uint8Array(),
    );
    expect(verified).toBe(true);
    // Nothing is asked of anyone until a customer claims the code.
    expect(requestsFor(created.saleId)).toHaveLength(0);
  });

  it('answers a retried request with the same sale and code; another request under that key is refused', async () => {
    const key = newKey();
    const first = await postSale({ amount: { currency: 'EUR', minor: '1250' } }, key);
    const again = await postSale({ amount: { currency: 'EUR', minor: '1250' } }, key);
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.saleId).toBe(first.body.saleId);
    expect(again.body.qrPayload).toBe(first.body.qrPayload);
    const other = await postSale({ amount: { currency: 'EUR', minor: '1251' } }, key);
    expect([other.status, other.body.error?.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    const listed = await call(test.url, 'GET', '/till/sales?limit=200', staff);
    const sales = listed.body.sales as { saleId: string }[];
    expect(sales.filter((entry) => entry.saleId === first.body.saleId)).toHaveLength(1);
  });

  it('refuses a bad sale with its stable code, and signs nothing', async () => {
    const cases: [string, unknown, string | null, string][] = [
      ['no Idempotency-Key', { amount: { currency: 'EUR', minor: '100' } }, null, 'IDEMPOTENCY_KEY_INVALID'],
      [
        'a short Idempotency-Key',
        { amount: { currency: 'EUR', minor: '100' } },
        'short',
        'IDEMPOTENCY_KEY_INVALID',
      ],
      ['another currency', { amount: { currency: 'USD', minor: '100' } }, newKey(), 'CURRENCY_MISMATCH'],
      ['an unknown currency', { amount: { currency: 'XYZ', minor: '100' } }, newKey(), 'CURRENCY_INVALID'],
      [
        'above saleAmountMinorMax',
        { amount: { currency: 'EUR', minor: '50001' } },
        newKey(),
        'AMOUNT_TOO_LARGE',
      ],
      ['zero', { amount: { currency: 'EUR', minor: '0' } }, newKey(), 'REQUEST_INVALID'],
      ['a fraction', { amount: { currency: 'EUR', minor: '7.80' } }, newKey(), 'REQUEST_INVALID'],
      ['a number, not a string', { amount: { currency: 'EUR', minor: 780 } }, newKey(), 'REQUEST_INVALID'],
      [
        'a field the till does not know',
        { amount: { currency: 'EUR', minor: '1' }, tip: '5' },
        newKey(),
        'REQUEST_INVALID',
      ],
      [
        'a reference with a bidi override',
        { amount: { currency: 'EUR', minor: '1' }, reference: 'a\u202eb' },
        newKey(),
        'REQUEST_INVALID',
      ],
      [
        'a reference too long',
        { amount: { currency: 'EUR', minor: '1' }, reference: 'x'.repeat(65) },
        newKey(),
        'REQUEST_INVALID',
      ],
    ];
    const before = (await call(test.url, 'GET', '/till/sales?limit=200', staff)).body.sales as unknown[];
    for (const [what, body, key, code] of cases) {
      const answer = await postSale(body, key);
      expect([answer.status, answer.body.error?.code], what).toEqual([400, code]);
    }
    const after = (await call(test.url, 'GET', '/till/sales?limit=200', staff)).body.sales as unknown[];
    expect(after).toHaveLength(before.length);
  });
});

describe('the claim, the payment request and the outcome', () => {
  it('claimed → the till asks the claiming customer for the sale → the signed outcome makes it paid', async () => {
    const created = await newSale('780', 'Till 2');
    await claim(created.saleId);
    const requests = requestsFor(created.saleId);
    expect(requests).toHaveLength(1);
    const message = requests[0]?.message;
    expect(message?.procedure).toBe('m-trade');
    expect(message?.address.from.id).toBe(testCustomer.id);
    expect(message?.data.amount).toEqual({ currency: 'EUR', minor: 780n });
    expect(message?.data.description).toBe('At the till: Till 2');
    const claimed = await sale(created.saleId);
    expect(claimed).toMatchObject({ status: 'claimed', state: 'requested', customer: testCustomer.id });

    await paymentUpdated(created.saleId, 'awaiting_customer');
    await paymentUpdated(created.saleId, 'completed');
    const paid = await sale(created.saleId);
    expect(paid).toMatchObject({ status: 'paid', failureCode: null });
    expect(paid.paidAt).not.toBeNull();
    expect(paid.history?.map((step) => step.event)).toEqual([
      'claimed',
      'payment_requested',
      'payment_completed',
    ]);

    // The FSP redelivers the claim (a new signature, the same claim): nothing is asked again.
    await claim(created.saleId);
    expect(requestsFor(created.saleId)).toHaveLength(1);
    expect((await sale(created.saleId)).status).toBe('paid');
  });

  it('shows a declined payment as declined, with the code', async () => {
    const created = await newSale('420');
    await claim(created.saleId, '420');
    await paymentUpdated(created.saleId, 'declined', '420');
    expect(await sale(created.saleId)).toMatchObject({ status: 'declined', failureCode: 'PAYMENT_DECLINED' });
  });

  it('holds a completed payment for another amount, and never calls it paid', async () => {
    const created = await newSale('500');
    await claim(created.saleId, '500');
    await paymentUpdated(created.saleId, 'completed', '5');
    expect((await sale(created.saleId)).status).toBe('on_hold');
  });

  it('refuses a claim whose amount differs from the sale: nothing is requested', async () => {
    const created = await newSale('300');
    await claim(created.saleId, '30');
    expect(await sale(created.saleId)).toMatchObject({
      status: 'failed',
      failureCode: 'TRADE_CLAIM_MISMATCH',
    });
    expect(requestsFor(created.saleId)).toHaveLength(0);
  });

  it('asks again after the FSP was down, and never twice when only its answer was lost', async () => {
    const down = await newSale('110');
    test.fsp.payments.script.push('SERVICE_UNAVAILABLE');
    await claim(down.saleId, '110');
    expect(await sale(down.saleId)).toMatchObject({ status: 'claimed', state: 'claimed' });
    expect(requestsFor(down.saleId)).toHaveLength(0);
    test.advanceMs(120_000);
    await test.shop.runBackgroundOnce();
    expect((await sale(down.saleId)).state).toBe('requested');
    expect(requestsFor(down.saleId)).toHaveLength(1);

    const lost = await newSale('120');
    test.fsp.payments.script.push('lose-answer');
    await claim(lost.saleId, '120');
    expect(requestsFor(lost.saleId)).toHaveLength(1);
    expect((await sale(lost.saleId)).state).toBe('claimed');
    test.advanceMs(120_000);
    await test.shop.runBackgroundOnce();
    expect((await sale(lost.saleId)).state).toBe('requested');
    expect(requestsFor(lost.saleId)).toHaveLength(1);
  });

  it('expires a code nobody claimed once its lifetime and the grace for a late claim have passed', async () => {
    const created = await newSale('220');
    const lifetimeMs = new Date(created.codeExpiresAt).getTime() - test.shop.context.clock().getTime();
    test.advanceMs(lifetimeMs + 59_000);
    expect((await sale(created.saleId)).status).toBe('waiting');
    test.advanceMs(2_000);
    expect(await sale(created.saleId)).toMatchObject({ status: 'expired', failureCode: 'QR_EXPIRED' });
    await claim(created.saleId, '220');
    expect(requestsFor(created.saleId)).toHaveLength(0);
    expect((await sale(created.saleId)).status).toBe('expired');
  });
});

describe('withdrawing a sale', () => {
  it('cancels a sale nobody claimed; a later claim is not asked to pay', async () => {
    const created = await newSale('330');
    const cancelled = await call(test.url, 'POST', `/till/sales/${created.saleId}/cancellation`, staff);
    expect(cancelled.body).toMatchObject({ status: 'cancelled' });
    await claim(created.saleId, '330');
    expect(requestsFor(created.saleId)).toHaveLength(0);
  });

  it("withdraws a request the customer has not answered at the FSP; a paid sale can't be withdrawn", async () => {
    const created = await newSale('340');
    await claim(created.saleId, '340');
    const cancelled = await call(test.url, 'POST', `/till/sales/${created.saleId}/cancellation`, staff);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', failureCode: 'PAYMENT_CANCELLED' });
    expect(test.fsp.cancellations).toContain(created.saleId);

    const paid = await paidSale('350');
    const refused = await call(test.url, 'POST', `/till/sales/${paid.saleId}/cancellation`, staff);
    expect([refused.status, refused.body.error?.code]).toEqual([409, 'PAYMENT_STATE_INVALID']);
    const unknown = await call(test.url, 'POST', `/till/sales/${crypto.randomUUID()}/cancellation`, staff);
    expect([unknown.status, unknown.body.error?.code]).toEqual([404, 'PAYMENT_UNKNOWN']);
  });
});

describe('refunds at the till', () => {
  it('refunds part of a paid sale, then the rest, never more than was paid; the refund id is the idempotency key', async () => {
    const paid = await paidSale('1000');
    const first = {
      paymentId: paid.saleId,
      refundId: crypto.randomUUID(),
      amount: { currency: 'EUR', minor: '400' },
    };
    const created = await refund({ ...first, reason: 'one cup broken' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ kind: 'sale', status: 'ordered', amount: { minor: '400' } });
    expect(test.fsp.refunds.get(first.refundId)).toMatchObject({
      paymentId: paid.saleId,
      amount: { currency: 'EUR', value: '4.00' },
      reason: 'one cup broken',
    });
    const again = await refund({ ...first, reason: 'one cup broken' });
    expect([again.status, again.body.refundId]).toEqual([200, first.refundId]);
    const reused = await refund({ ...first, amount: { currency: 'EUR', minor: '401' } });
    expect([reused.status, reused.body.error?.code]).toEqual([409, 'REFUND_ID_REUSED']);
    const tooMuch = await refund({
      ...first,
      refundId: crypto.randomUUID(),
      amount: { currency: 'EUR', minor: '601' },
    });
    expect([tooMuch.status, tooMuch.body.error?.code]).toEqual([422, 'REFUND_EXCEEDS_ORIGINAL']);
    const rest = await refund({
      ...first,
      refundId: crypto.randomUUID(),
      amount: { currency: 'EUR', minor: '600' },
    });
    expect(rest.status).toBe(201);

    // The FSP's banks pay back in the background; the till reads the refund until it is final.
    const stored = test.fsp.refunds.get(first.refundId);
    if (stored !== undefined) stored.status = 'completed';
    const read = await call(test.url, 'GET', `/till/refunds/${first.refundId}`, staff);
    expect(read.body).toMatchObject({ refundId: first.refundId, status: 'completed' });

    const listed = await call(test.url, 'GET', '/till/payments', staff);
    const line = (
      listed.body.payments as { paymentId: string; refundable: { minor: string }; refunds: unknown[] }[]
    ).find((payment) => payment.paymentId === paid.saleId);
    expect(line?.refundable.minor).toBe('0');
    expect(line?.refunds).toHaveLength(2);
  });

  it('refuses a refund of a sale not paid, of a payment it does not know, in another currency, or beyond the limit', async () => {
    const waiting = await newSale('100');
    const notPaid = await refund({
      paymentId: waiting.saleId,
      refundId: crypto.randomUUID(),
      amount: { currency: 'EUR', minor: '1' },
    });
    expect([notPaid.status, notPaid.body.error?.code]).toEqual([409, 'REFUND_NOT_ALLOWED']);
    const unknown = await refund({
      paymentId: crypto.randomUUID(),
      refundId: crypto.randomUUID(),
      amount: { currency: 'EUR', minor: '1' },
    });
    expect([unknown.status, unknown.body.error?.code]).toEqual([404, 'PAYMENT_UNKNOWN']);
    const paid = await paidSale('900');
    const currency = await refund({
      paymentId: paid.saleId,
      refundId: crypto.randomUUID(),
      amount: { currency: 'USD', minor: '1' },
    });
    expect(currency.body.error?.code).toBe('CURRENCY_MISMATCH');
    for (let index = 0; index < 3; index += 1) {
      const small = await refund({
        paymentId: paid.saleId,
        refundId: crypto.randomUUID(),
        amount: { currency: 'EUR', minor: '1' },
      });
      expect(small.status).toBe(201);
    }
    const fourth = await refund({
      paymentId: paid.saleId,
      refundId: crypto.randomUUID(),
      amount: { currency: 'EUR', minor: '1' },
    });
    expect([fourth.status, fourth.body.error?.code]).toEqual([422, 'LIMIT_EXCEEDED']);
    const unknownRefund = await call(test.url, 'GET', `/till/refunds/${crypto.randomUUID()}`, staff);
    expect([unknownRefund.status, unknownRefund.body.error?.code]).toEqual([404, 'REFUND_UNKNOWN']);
  });

  it('keeps a refund the FSP did not answer, sends it again on the next read, and records a refusal as the outcome', async () => {
    const paid = await paidSale('800');
    const refundId = crypto.randomUUID();
    test.fsp.refundScript.push('SERVICE_UNAVAILABLE');
    const pending = await refund({
      paymentId: paid.saleId,
      refundId,
      amount: { currency: 'EUR', minor: '800' },
    });
    expect([pending.status, pending.body.status]).toEqual([201, 'requested']);
    expect(test.fsp.refunds.has(refundId)).toBe(false);
    const read = await call(test.url, 'GET', `/till/refunds/${refundId}`, staff);
    expect(read.body).toMatchObject({ status: 'ordered' });
    expect(test.fsp.refunds.has(refundId)).toBe(true);

    const refusedPaid = await paidSale('810');
    test.fsp.refundScript.push('REFUND_NOT_ALLOWED');
    const refused = await refund({
      paymentId: refusedPaid.saleId,
      refundId: crypto.randomUUID(),
      amount: { currency: 'EUR', minor: '810' },
    });
    expect(refused.body).toMatchObject({ status: 'refused', failureCode: 'REFUND_NOT_ALLOWED' });
    // A refused refund holds nothing back: the whole amount can still be refunded.
    const retried = await refund({
      paymentId: refusedPaid.saleId,
      refundId: crypto.randomUUID(),
      amount: { currency: 'EUR', minor: '810' },
    });
    expect(retried.body.status).toBe('ordered');
  });

  it("refunds a paid shop order too, and lists it with the till's sales", async () => {
    const cart = await call(test.url, 'POST', '/carts');
    const { cartId, cartToken } = cart.body as { cartId: string; cartToken: string };
    await call(test.url, 'PUT', `/carts/${cartId}/lines/mug`, { token: cartToken, body: { quantity: 2 } });
    const checkout = await call(test.url, 'POST', `/carts/${cartId}/checkout`, {
      token: cartToken,
      body: { customer: testCustomer.id },
    });
    const order = (checkout.body as { order: { orderId: string; payment: { transactionId: string } } }).order;
    const paymentId = order.payment.transactionId;
    const early = await refund({
      paymentId,
      refundId: crypto.randomUUID(),
      amount: { currency: 'EUR', minor: '650' },
    });
    expect(early.body.error?.code).toBe('REFUND_NOT_ALLOWED');
    await paymentUpdated(paymentId, 'completed', '1300');
    const answer = await refund({
      paymentId,
      refundId: crypto.randomUUID(),
      amount: { currency: 'EUR', minor: '650' },
    });
    expect(answer.body).toMatchObject({ kind: 'order', status: 'ordered' });
    const listed = await call(test.url, 'GET', '/till/payments', staff);
    const line = (
      listed.body.payments as { kind: string; orderId: string | null; refundable: { minor: string } }[]
    ).find((payment) => payment.orderId === order.orderId);
    expect(line).toMatchObject({ kind: 'order', refundable: { minor: '650' } });
  });
});

describe('till configuration', () => {
  it('refuses limits out of bounds and names a QR code cannot carry', () => {
    expect(() => createTillLimits({ tillCodeLifetimeSeconds: 901 })).toThrow(/tillCodeLifetimeSeconds/);
    expect(() => createTillLimits({ saleAmountMinorMax: 0 })).toThrow(/saleAmountMinorMax/);
    expect(() => createTillLimits({ unknown: 1 } as never)).toThrow(/unknown limit/);
    expect(() => createTillConfig({ merchantName: 'x'.repeat(26) }, 'EUR')).toThrow(/merchantName/);
    expect(() => createTillConfig({ city: 'Skopje\n' }, 'EUR')).toThrow(/city/);
    expect(() => createTillConfig({ currency: 'XYZ' }, 'EUR')).toThrow();
    expect(createTillConfig({}, 'EUR').currency).toBe('EUR');
  });
});
