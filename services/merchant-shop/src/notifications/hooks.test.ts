import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HookNotification, RefundHookNotification } from '../context.ts';
import { call, openTestShop, type TestShop, testCustomer, testMerchantToken } from '../test-helpers.ts';

const claims: { claim: Readonly<Record<string, unknown>>; notification: HookNotification }[] = [];
const refunds: { refund: Readonly<Record<string, unknown>>; notification: RefundHookNotification }[] = [];
let failRefundHookTimes = 0;

let test: TestShop;
beforeAll(async () => {
  test = await openTestShop({
    onTradeClaimed: (claim, notification) => {
      claims.push({ claim, notification });
    },
    onRefundUpdated: (refund, notification) => {
      if (failRefundHookTimes > 0) {
        failRefundHookTimes -= 1;
        throw new Error('refund desk unavailable');
      }
      refunds.push({ refund, notification });
    },
  });
});
afterAll(async () => {
  await test?.close();
});

async function post(event: string, name: string, object: Record<string, unknown>, transactionId: string) {
  const body = await test.fsp.signNotification({ event, [name]: object }, transactionId);
  return call(test.url, 'POST', '/webhooks/mpay', { raw: body, contentType: 'application/jose' });
}

async function paidOrder(): Promise<{ orderId: string; transactionId: string }> {
  const created = await call(test.url, 'POST', '/carts');
  const { cartId, cartToken } = created.body as { cartId: string; cartToken: string };
  await call(test.url, 'PUT', `/carts/${cartId}/lines/mug`, { token: cartToken, body: { quantity: 1 } });
  const checkout = await call(test.url, 'POST', `/carts/${cartId}/checkout`, {
    token: cartToken,
    body: { customer: testCustomer.id },
  });
  const order = (checkout.body as { order: { orderId: string; payment: { transactionId: string } } }).order;
  await post(
    'payment.updated',
    'payment',
    {
      id: order.payment.transactionId,
      status: 'completed',
      amount: { currency: 'EUR', minor: '650' },
      payer: testCustomer.id,
    },
    order.payment.transactionId,
  );
  return { orderId: order.orderId, transactionId: order.payment.transactionId };
}

describe('hooks for the till and for refunds', () => {
  it('hands a verified trade claim to onTradeClaimed after it is stored, once', async () => {
    const claimId = crypto.randomUUID();
    const claim = { id: claimId, status: 'claimed', qr: 'till-7' };
    const answer = await post('trade.claimed', 'claim', claim, claimId);
    expect(answer.body).toEqual({ received: true, duplicate: false });
    await test.shop.runBackgroundOnce();
    const handed = claims.filter((entry) => entry.claim.id === claimId);
    expect(handed).toHaveLength(1);
    expect(handed[0]?.claim).toEqual(claim);
    const listed = await call(
      test.url,
      'GET',
      `/merchant/notifications?event=trade.claimed&subject=${claimId}`,
      {
        token: testMerchantToken,
      },
    );
    const [stored] = listed.body.notifications as { id: string; jws: string; claim: unknown }[];
    expect(stored?.id).toBe(handed[0]?.notification.notificationId);
    expect(stored?.jws).toBe(handed[0]?.notification.jws);
    await test.shop.runBackgroundOnce();
    expect(claims.filter((entry) => entry.claim.id === claimId)).toHaveLength(1);
  });

  it("stores a refund's status on the order it refers to, and retries onRefundUpdated until it succeeds", async () => {
    const { orderId, transactionId } = await paidOrder();
    failRefundHookTimes = 1;
    const refund = { id: crypto.randomUUID(), paymentId: transactionId, status: 'partially_refunded' };
    expect((await post('refund.updated', 'refund', refund, transactionId)).status).toBe(200);
    const order = await call(test.url, 'GET', `/merchant/orders/${orderId}`, { token: testMerchantToken });
    expect((order.body.payment as { refund: unknown }).refund).toMatchObject({
      id: refund.id,
      status: 'partially_refunded',
    });
    await test.shop.runBackgroundOnce();
    expect(refunds.filter((entry) => entry.refund.id === refund.id)).toHaveLength(0);
    expect(test.warnings.length).toBeGreaterThan(0);
    test.advanceMs(60_000);
    await test.shop.runBackgroundOnce();
    const handed = refunds.filter((entry) => entry.refund.id === refund.id);
    expect(handed).toHaveLength(1);
    expect(handed[0]?.notification.orderId).toBe(orderId);
    // The order itself stays where its shipment is: refunds are the refund desk's to act on.
    expect(order.body.state).toBe('paid');
  });

  it('refuses a refund event without a status before storing anything', async () => {
    const answer = await post(
      'refund.updated',
      'refund',
      { id: 'r-1', paymentId: crypto.randomUUID() },
      crypto.randomUUID(),
    );
    expect([answer.status, answer.body.error?.code]).toEqual([400, 'MESSAGE_INVALID']);
  });
});
