import { demoParties } from '@mpay/cli';
import { generateSigningKeyPair, signPayload } from '@mpay/envelope';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentSettledDeadlineMs, waitFor } from '../support/deadlines.ts';
import { startTestPlatform, type TestPlatform } from './harness.ts';

/**
 * iMS §2.1, mobile e-commerce, end to end over real HTTP: the customer fills
 * a cart at the merchant's shop and checks out with a phone number; the shop
 * signs the payment request to the FSP; the customer confirms on the wallet;
 * the banks move the money; the FSP's signed webhook tells the shop, which
 * marks the order paid and ("if the merchant receives a positive
 * confirmation, the supplier is authorized to initiate shipment") ships it;
 * the customer follows the shipment with the order's token.
 */
let test: TestPlatform;
let shopUrl: string;
let merchantToken: string;
const { customer } = demoParties;

beforeAll(async () => {
  test = await startTestPlatform();
  shopUrl = test.platform.urls.merchantShop;
  merchantToken = test.platform.merchantShopToken;
});
afterAll(async () => {
  await test?.close();
});

interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: { code: string } };
}

async function shop(
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  options: { token?: string; body?: unknown; jose?: string } = {},
): Promise<Answer> {
  const body = options.jose ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await fetch(`${shopUrl}${path}`, {
    method,
    headers: {
      ...(body === undefined
        ? {}
        : { 'content-type': options.jose ? 'application/jose' : 'application/json' }),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
    },
    ...(body === undefined ? {} : { body }),
  });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

interface CheckedOut {
  orderToken: string;
  order: { orderId: string; status: string; total: { minor: string }; payment: { transactionId: string } };
}

/** A cart with these lines, checked out with the demo customer's phone number. */
async function checkout(lines: Record<string, number>): Promise<CheckedOut> {
  const cart = await shop('POST', '/carts');
  const { cartId, cartToken } = cart.body as { cartId: string; cartToken: string };
  for (const [productId, quantity] of Object.entries(lines)) {
    const line = await shop('PUT', `/carts/${cartId}/lines/${productId}`, {
      token: cartToken,
      body: { quantity },
    });
    expect(line.status).toBe(200);
  }
  const answer = await shop('POST', `/carts/${cartId}/checkout`, {
    token: cartToken,
    body: { customer: customer.msisdn },
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.body as unknown as CheckedOut;
}

async function orderState(orderId: string): Promise<string> {
  const answer = await shop('GET', `/merchant/orders/${orderId}`, { token: merchantToken });
  return String(answer.body.state);
}

describe('m-commerce at the merchant shop (iMS §2.1)', () => {
  it('cart → checkout with the phone number → wallet confirms → webhook → paid → shipped → the customer follows it', async () => {
    const before = await test.balances();
    const wallet = test.wallet();
    const abort = new AbortController();
    const requests = wallet.paymentRequests(customer.pin, abort.signal);
    const first = requests.next();
    const { orderToken, order } = await checkout({ 'espresso-250g': 1, mug: 1 });
    expect(order.status).toBe('awaiting_payment');
    expect(order.total.minor).toBe('1900');
    const paymentId = order.payment.transactionId;
    // The wallet gets every request still waiting for the customer; this order's is the one to confirm.
    let view = (await first).value!;
    while (view.paymentId !== paymentId) view = (await requests.next()).value!;
    abort.abort();
    expect(view.amount.value).toBe('19.00');
    expect(view.description).toBe(
      `Order ${order.orderId.slice(0, 8)}: 1 × Espresso beans 250 g, 1 × Enamel mug`,
    );
    await wallet.confirm(view, customer.pin);

    const paid = await waitFor(
      async () => {
        const seen = await shop('GET', `/orders/${order.orderId}`, { token: orderToken });
        return seen.body.status === 'paid' ? seen.body : undefined;
      },
      { deadlineMs: paymentSettledDeadlineMs, what: `order ${order.orderId} to be paid` },
    );
    expect(paid.shipment).toMatchObject({ status: 'preparing' });
    const after = await test.balances();
    expect(after.customer).toBe(before.customer - 19_00n);
    expect(after.merchant).toBe(before.merchant + 19_00n);
    const [notification] = await test.platform.merchantShop.notifications(paymentId);
    expect(notification?.payment).toMatchObject({ status: 'completed', payer: customer.id });

    for (const step of [
      { action: 'pack' },
      { action: 'ship', carrier: 'Posta', trackingReference: 'RR123456789MK' },
      { action: 'deliver' },
    ]) {
      const moved = await shop('POST', `/merchant/orders/${order.orderId}/shipment`, {
        token: merchantToken,
        body: step,
      });
      expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    }
    const delivered = await shop('GET', `/orders/${order.orderId}`, { token: orderToken });
    expect(delivered.body.status).toBe('delivered');
    expect(delivered.body.shipment).toMatchObject({
      status: 'delivered',
      carrier: 'Posta',
      trackingReference: 'RR123456789MK',
      history: [
        { status: 'preparing' },
        { status: 'packed' },
        { status: 'shipped' },
        { status: 'delivered' },
      ],
    });
    // Without the order's own token the order does not exist.
    const otherToken = await shop('GET', `/orders/${order.orderId}`, { token: merchantToken });
    expect([otherToken.status, otherToken.body.error?.code]).toEqual([404, 'ORDER_UNKNOWN']);
  });

  it("refuses to show the merchant's notifications (payer, amount) without the merchant's token", async () => {
    const { order } = await checkout({ mug: 1 });
    const paths = [
      `/notifications/${order.payment.transactionId}`,
      '/merchant/notifications',
      '/merchant/orders',
    ];
    for (const path of paths) {
      for (const token of [undefined, 'x'.repeat(43)]) {
        const answer = await shop('GET', path, token === undefined ? {} : { token });
        expect([answer.status, answer.body.error?.code], path).toEqual([401, 'AUTHENTICATION_FAILED']);
      }
    }
    expect((await shop('GET', '/merchant/notifications', { token: merchantToken })).status).toBe(200);
  });

  it('refuses a forged webhook: not signed by the FSP, nothing changes', async () => {
    const { order } = await checkout({ mug: 1 });
    const transactionId = order.payment.transactionId;
    const forger = await generateSigningKeyPair();
    const forged = await signPayload(
      {
        event: 'payment.updated',
        payment: {
          id: transactionId,
          status: 'completed',
          amount: { currency: 'EUR', minor: '650' },
          payer: customer.id,
        },
      },
      { issuer: test.fsp.id, audience: demoParties.merchant.id, transactionId, expiresInSeconds: 300 },
      forger.privateJwk,
    );
    const answer = await shop('POST', '/webhooks/mpay', { jose: forged });
    expect([answer.status, answer.body.error?.code]).toEqual([400, 'CRYPTO_VERIFICATION_FAILED']);
    expect(await orderState(order.orderId)).toBe('payment_requested');
    expect(await test.platform.merchantShop.notifications(transactionId)).toEqual([]);
  });

  it('a completed payment whose amount differs from the order does not mark it paid', async () => {
    const { order } = await checkout({ mug: 2 });
    const transactionId = order.payment.transactionId;
    // Signed with the FSP's own key, as a faulty or compromised FSP could: it verifies, and still does not pay the order.
    const differing = await signPayload(
      {
        event: 'payment.updated',
        payment: {
          id: transactionId,
          status: 'completed',
          amount: { currency: 'EUR', minor: '650' },
          payer: customer.id,
        },
      },
      { issuer: test.fsp.id, audience: demoParties.merchant.id, transactionId, expiresInSeconds: 300 },
      test.platform.fsp.signing.privateJwk,
    );
    const answer = await shop('POST', '/webhooks/mpay', { jose: differing });
    expect(answer.status).toBe(200);
    expect(await orderState(order.orderId)).toBe('on_hold');
    const seen = await shop('GET', `/merchant/orders/${order.orderId}`, { token: merchantToken });
    expect(seen.body.shipment).toBeNull();
    expect((seen.body.history as { detail: string }[]).at(-1)?.detail).toBe('amount differs from the order');
    await test.merchant.cancel(transactionId, 'test over');
  });
});
