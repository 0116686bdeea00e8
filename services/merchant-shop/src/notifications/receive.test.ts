import { statementTexts, traceStatementTexts } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, openTestShop, type TestShop, testCustomer, testMerchantToken } from '../test-helpers.ts';

let test: TestShop;
beforeAll(async () => {
  test = await openTestShop({ limits: { notificationsPerSubjectMax: 2 } });
});
afterAll(async () => {
  await test?.close();
});

async function postClaim(claim: Record<string, unknown>) {
  const body = await test.fsp.signNotification({ event: 'trade.claimed', claim }, String(claim.id));
  return call(test.url, 'POST', '/webhooks/mpay', { raw: body, contentType: 'application/jose' });
}

async function storedFor(subject: string): Promise<number> {
  const listed = await call(
    test.url,
    'GET',
    `/merchant/notifications?event=trade.claimed&subject=${subject}`,
    {
      token: testMerchantToken,
    },
  );
  return (listed.body.notifications as unknown[]).length;
}

describe('notifications kept per subject', () => {
  it('stores at most notificationsPerSubjectMax for one subject, acknowledges the rest, and keeps others apart', async () => {
    const subject = crypto.randomUUID();
    const answers = [];
    // Three different JWSs about one claim (each a new status): the third is over the bound.
    for (const status of ['claimed', 'paid', 'closed'])
      answers.push((await postClaim({ id: subject, status, qr: 'till-1' })).body);
    expect(answers).toEqual([
      { received: true, duplicate: false },
      { received: true, duplicate: false },
      { received: true, duplicate: true },
    ]);
    expect(await storedFor(subject)).toBe(2);
    // Another subject has its own bound.
    const other = crypto.randomUUID();
    expect((await postClaim({ id: other, status: 'claimed', qr: 'till-1' })).body).toEqual({
      received: true,
      duplicate: false,
    });
    expect(await storedFor(other)).toBe(1);
  });

  it("kicks the outbox only when the notification queued work: a payment's queues none", async () => {
    const claims = () =>
      Object.entries(statementTexts()[test.database.schema] ?? {})
        .filter(([text]) => text.startsWith('UPDATE outbox SET next_attempt_at'))
        .reduce((sum, [, count]) => sum + count, 0);
    traceStatementTexts(true);
    try {
      const paymentId = crypto.randomUUID();
      const body = await test.fsp.signNotification(
        {
          event: 'payment.updated',
          payment: {
            id: paymentId,
            status: 'completed',
            amount: { currency: 'EUR', minor: '100' },
            payer: testCustomer.id,
          },
        },
        paymentId,
      );
      const answer = await call(test.url, 'POST', '/webhooks/mpay', {
        raw: body,
        contentType: 'application/jose',
      });
      expect(answer.body).toEqual({ received: true, duplicate: false });
      // The background's own round, after any the notification kicked: only its claim.
      await test.shop.runBackgroundOnce();
      expect(claims()).toBe(1);
      // A trade claim queues the till's hook: its round claims it, then the background's.
      const claimId = crypto.randomUUID();
      expect((await postClaim({ id: claimId, status: 'claimed', qr: 'till-2' })).body).toEqual({
        received: true,
        duplicate: false,
      });
      await test.shop.runBackgroundOnce();
      expect(claims()).toBe(3);
    } finally {
      traceStatementTexts(false);
    }
  });
});
