import { connect, type Socket } from 'node:net';
import { demoParties } from '@mpay/cli';
import { signRequest } from '@mpay/http-client';
import { isMpayError } from '@mpay/protocol';
import { MerchantClient, type PaymentRequestView, unlockKeystore } from '@mpay/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePartyKeys } from '../../cli/src/platform/identities.ts';
import { paymentSettledDeadlineMs, waitFor } from '../support/deadlines.ts';
import { postRaw, startTestPlatform, type TestPlatform, verifiedEvidence } from './harness.ts';

/**
 * The gateway's delivery and abuse limits over real HTTP, on a platform with
 * small limits and a gateway clock the test moves (a rate window, an expiry).
 * Signatures keep the wall clock on every side: the moved clock is the
 * protocol's time only, as in the services.
 */
const limits = {
  rateWindowSeconds: 60,
  paymentRequestsPerMerchantMax: 15,
  paymentRequestsPerCustomerMax: 20,
  devicePageSize: 5,
  paymentExpirySeconds: 300,
  inFlightRequestsMax: 16,
};
let offsetMs = 0;
let test: TestPlatform;
const { customer } = demoParties;

beforeAll(async () => {
  test = await startTestPlatform({
    gatewayLimits: limits,
    gatewayClock: () => new Date(Date.now() + offsetMs),
  });
});
afterAll(async () => {
  await test?.close();
});

function request(merchant: MerchantClient = test.merchant, minor = 1_00n) {
  return merchant.requestPayment({ customer: customer.msisdn, amount: { currency: 'EUR', minor } });
}

/** Every request the device gets when it connects, in the order it gets them (until `count` arrived). */
async function connectAndCollect(count: number): Promise<PaymentRequestView[]> {
  const wallet = test.wallet();
  const abort = new AbortController();
  const seen: PaymentRequestView[] = [];
  for await (const view of wallet.paymentRequests(customer.pin, abort.signal)) {
    seen.push(view);
    if (seen.length === count) break;
  }
  abort.abort();
  return seen;
}

async function rateLimited(promise: Promise<unknown>): Promise<boolean> {
  try {
    await promise;
    return false;
  } catch (error) {
    if (isMpayError(error, 'REQUEST_RATE_LIMITED')) return true;
    throw error;
  }
}

describe('delivery and abuse limits at the gateway', () => {
  it('a flood of requests does not bury the genuine one: on reconnect every pending request arrives, newest first, in pages', async () => {
    const flood: string[] = [];
    for (let index = 0; index < 12; index += 1) flood.push((await request(test.merchant, 1n)).paymentId);
    const genuine = await request(test.merchant, 12_50n);
    const received = await connectAndCollect(13);
    expect(received[0]?.paymentId).toBe(genuine.paymentId);
    expect(received.map((view) => view.paymentId)).toEqual([genuine.paymentId, ...flood.reverse()]);
    // The same list, paged for a device that polls: newest first, `next` continues.
    const pages: string[][] = [];
    let after: string | undefined;
    const key = (await unlockKeystore(test.platform.credentials.customerKeystore, customer.pin)).signing;
    do {
      const path = `/devices/payment-requests${after === undefined ? '' : `?after=${encodeURIComponent(after)}`}`;
      const authorization = await signRequest(
        { method: 'GET', path, body: '' },
        { issuer: customer.id, audience: test.fsp.id, key },
      );
      const page = (await (
        await fetch(`${test.platform.urls.gateway}${path}`, { headers: { authorization } })
      ).json()) as {
        requests: { paymentId: string }[];
        next?: string;
      };
      pages.push(page.requests.map((pending) => pending.paymentId));
      after = page.next;
    } while (after !== undefined);
    expect(pages[0]).toHaveLength(limits.devicePageSize);
    expect(pages.flat()).toEqual(received.map((view) => view.paymentId));
  });

  it('an unanswered request expires: closed, the merchant told, logged, and a late confirmation is refused', async () => {
    const wallet = test.wallet();
    const abort = new AbortController();
    const stream = wallet.paymentRequests(customer.pin, abort.signal);
    const first = stream.next();
    const accepted = await request(test.merchant, 3_00n);
    let view = (await first).value;
    while (view !== undefined && view.paymentId !== accepted.paymentId) view = (await stream.next()).value;
    abort.abort();
    if (view === undefined) throw new Error('the request never reached the device');
    const before = await test.balances();
    offsetMs += (limits.paymentExpirySeconds + 1) * 1000;
    await test.platform.gateway.runBackgroundOnce();
    await waitFor(async () => (await test.merchant.paymentStatus(accepted.paymentId)).status === 'expired', {
      deadlineMs: paymentSettledDeadlineMs,
      what: 'the request to expire',
    });
    await test.platform.merchantShop.waitForNotification(
      accepted.paymentId,
      'expired',
      paymentSettledDeadlineMs,
    );
    await expect(wallet.confirm(view, customer.pin)).rejects.toMatchObject({ code: 'PAYMENT_EXPIRED' });
    expect(await test.balances()).toEqual(before);
    // Logged like every outcome: the merchant's and the FSP's signatures, then the FSP's signed outcome.
    const logged = await verifiedEvidence(test, accepted.paymentId);
    expect(logged.receipt.messages).toHaveLength(3);
    const outcome = JSON.parse(
      Buffer.from(logged.receipt.messages[2]?.split('.')[1] ?? '', 'base64url').toString(),
    );
    expect(outcome.paymentOutcome).toMatchObject({ paymentId: accepted.paymentId, status: 'expired' });
  });

  it('a merchant over its rate gets 429 with Retry-After, and may ask again after the window', async () => {
    offsetMs += limits.rateWindowSeconds * 1000 + 1_000;
    for (let index = 0; index < limits.paymentRequestsPerMerchantMax; index += 1)
      await request(test.merchant);
    const { jwe } = await test.merchant.buildPaymentRequest({
      customer: customer.id,
      amount: { currency: 'EUR', minor: 1n },
    });
    const refused = await fetch(`${test.platform.urls.gateway}/payments`, {
      method: 'POST',
      body: jwe,
      headers: { 'content-type': 'application/jose' },
    });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('REQUEST_RATE_LIMITED');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    // The window is counted in buckets of a 60th of it (one second here): at most one bucket longer.
    expect(retryAfter).toBeLessThanOrEqual(limits.rateWindowSeconds + 1);
    offsetMs += limits.rateWindowSeconds * 1000 + 1_000;
    expect(await rateLimited(request(test.merchant))).toBe(false);
  });

  it('concurrent requests never pass the rate limit: of a burst that crosses it, exactly the rest of the window is accepted', async () => {
    offsetMs += limits.rateWindowSeconds * 1000 + 1_000;
    const left = 4;
    for (let index = 0; index < limits.paymentRequestsPerMerchantMax - left; index += 1)
      await request(test.merchant);
    // Below the in-flight limit, so that every one of them reaches the rate check together.
    const burst = await Promise.all(
      Array.from({ length: limits.inFlightRequestsMax - 4 }, () => rateLimited(request(test.merchant))),
    );
    expect(burst.filter((refused) => !refused)).toHaveLength(left);
  });

  it('a customer asked too often by several merchants: the next request is refused, whoever sends it', async () => {
    offsetMs += limits.rateWindowSeconds * 1000 + 1_000;
    const keys = await generatePartyKeys();
    const other = 'other.till@merchant.ybank';
    const registered = await postRaw(
      `${test.platform.urls.gateway}/admin/merchants`,
      JSON.stringify({
        id: other,
        displayName: 'Other Till',
        signingJwk: keys.signing.publicJwk,
        encryptionJwk: keys.encryption.publicJwk,
      }),
      'application/json',
      { authorization: `Bearer ${test.platform.operatorToken}` },
    );
    expect(registered.status).toBe(201);
    const otherMerchant = new MerchantClient({
      gatewayUrl: test.platform.urls.gateway,
      merchantId: other,
      signingKey: keys.signing.privateJwk,
      fsp: test.fsp,
    });
    for (let index = 0; index < limits.paymentRequestsPerMerchantMax; index += 1)
      await request(test.merchant);
    for (
      let index = limits.paymentRequestsPerMerchantMax;
      index < limits.paymentRequestsPerCustomerMax;
      index += 1
    ) {
      await request(otherMerchant);
    }
    expect(await rateLimited(request(otherMerchant))).toBe(true);
  });

  it('overload answers 503 with Retry-After instead of queueing without limit, and recovers', async () => {
    // Requests that never finish sending their body hold their slots (a slow client, or a flood).
    const { hostname: host, port } = new URL(test.platform.urls.gateway);
    const held = Array.from({ length: limits.inFlightRequestsMax }, () =>
      connect({ host, port: Number(port) }, function send(this: Socket) {
        this.write(
          `POST /payments HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/jose\r\ncontent-length: 4096\r\n\r\nabc`,
        );
      }),
    );
    try {
      let answer: Response | undefined;
      await waitFor(
        async () => {
          answer = await fetch(`${test.platform.urls.gateway}/fsp`);
          await answer.arrayBuffer();
          return answer.status === 503;
        },
        { deadlineMs: paymentSettledDeadlineMs, what: 'the gateway to count the held requests' },
      );
      expect(Number(answer?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      for (const socket of held) socket.destroy();
    }
    await waitFor(async () => (await fetch(`${test.platform.urls.gateway}/fsp`)).status === 200, {
      deadlineMs: paymentSettledDeadlineMs,
      what: 'the slots to be released',
    });
  });
});
