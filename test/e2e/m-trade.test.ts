import { demoParties } from '@mpay/cli';
import { emvCrcOf, parseTillCode } from '@mpay/protocol';
import type { TillClaim } from '@mpay/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backgroundWorkDeadlineMs, paymentSettledDeadlineMs, waitFor } from '../support/deadlines.ts';
import { expectCode, startTestPlatform, type TestPlatform } from './harness.ts';

/**
 * m-trade at the till (iMS §2.2, Figure 2) on the whole platform over real
 * HTTP: the till shows a signed EMV QR code, the customer's wallet reads and
 * claims it, the FSP notifies the merchant, the till requests the payment
 * from that customer, the customer confirms, the banks move the money. A
 * forged or altered code is refused by the wallet before anything is sent.
 */
let test: TestPlatform;
const { customer, merchant } = demoParties;

beforeAll(async () => {
  test = await startTestPlatform();
});
afterAll(async () => {
  await test?.close();
});

/** The till polls the FSP until a customer has claimed its code (a till that takes no webhooks does so). */
async function claimOf(transactionId: string): Promise<TillClaim> {
  return waitFor(() => test.merchant.tillClaim(transactionId), {
    deadlineMs: backgroundWorkDeadlineMs,
    what: `the claim of till code ${transactionId}`,
  });
}

/** The webhook row of a claim, once the outbox delivered it to the merchant's endpoint. */
async function deliveredWebhook(transactionId: string): Promise<string> {
  return waitFor(
    async () => {
      const { rows } = await test.platform.gateway.context.database.query<{ payload: string }>(
        "SELECT payload FROM outbox WHERE payment_id = $1 AND kind = 'webhook' AND delivered_at IS NOT NULL",
        [transactionId],
      );
      return rows[0] === undefined ? undefined : (JSON.parse(rows[0].payload) as { body: string }).body;
    },
    { deadlineMs: backgroundWorkDeadlineMs, what: `the trade.claimed webhook of ${transactionId}` },
  );
}

/** The payload with its amount text replaced after signing and a correct CRC: what a forger can print. */
function withAmount(payload: string, from: string, to: string): string {
  const tlv = (text: string) => `54${String(text.length).padStart(2, '0')}${text}`;
  const body = payload.slice(0, -8).replace(tlv(from), tlv(to));
  return `${body}6304${emvCrcOf(`${body}6304`)}`;
}

describe('m-trade at the till with a signed QR code', () => {
  it('till shows the code, the wallet claims it, the till requests, the customer confirms: the money moves once', async () => {
    const before = await test.balances();
    const qr = await test.merchant.createTillQr({
      amount: { currency: 'EUR', minor: 7_80n },
      merchantName: 'Merkur Trade',
      city: 'Skopje',
    });
    const wallet = test.wallet();
    const offer = await wallet.readTillQr(qr.payload);
    expect(offer).toMatchObject({
      merchantId: merchant.id,
      merchantName: merchant.displayName,
      amount: { currency: 'EUR', minor: 7_80n },
      transactionId: qr.transactionId,
    });

    await wallet.unlock(customer.pin);
    const abort = new AbortController();
    const request = wallet.tillPaymentRequest(offer, customer.pin, abort.signal);
    try {
      expect(await wallet.claimTill(offer)).toMatchObject({
        transactionId: qr.transactionId,
        status: 'claimed',
      });

      // The merchant learns who claimed it: by its webhook (signed by the FSP) and by asking.
      const claim = await claimOf(qr.transactionId);
      expect(claim).toMatchObject({ customer: customer.id, amount: { currency: 'EUR', minor: 7_80n } });
      const webhook = await test.merchant.verifyNotification(await deliveredWebhook(qr.transactionId));
      expect(webhook).toMatchObject({ event: 'trade.claimed', claim: { customer: customer.id } });

      const accepted = await test.merchant.requestPayment({
        customer: claim.customer,
        amount: claim.amount,
        procedure: 'm-trade',
        transactionId: qr.transactionId,
      });
      expect(accepted.paymentId).toBe(qr.transactionId);

      const view = await request;
      expect(wallet.matchesOffer(view, offer)).toBe(true);
      expect(view.merchant).toEqual({ id: merchant.id, name: merchant.displayName });
      const receipt = await wallet.confirm(view, customer.pin);
      expect((receipt.payload.receipt as { status: string }).status).toBe('completed');
    } finally {
      abort.abort();
    }
    await test.platform.merchantShop.waitForNotification(
      qr.transactionId,
      'completed',
      paymentSettledDeadlineMs,
    );
    const after = await test.balances();
    expect(after.customer).toBe(before.customer - 7_80n);
    expect(after.merchant).toBe(before.merchant + 7_80n);
    expect((await test.merchant.paymentStatus(qr.transactionId)).status).toBe('completed');
  });

  it('refuses a code with a bad CRC, a bad signature, or an amount changed after signing: nothing is sent, no money moves', async () => {
    const before = await test.balances();
    const qr = await test.merchant.createTillQr({ amount: { currency: 'EUR', minor: 12_50n } });
    const wallet = test.wallet();
    const signature = parseTillCode(qr.payload).signature;
    const otherSignature = `${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    const reSigned = (() => {
      const body = qr.payload.slice(0, -8).replace(signature, otherSignature);
      return `${body}6304${emvCrcOf(`${body}6304`)}`;
    })();
    const last = qr.payload.at(-1)!;
    const cases: [string, string, string][] = [
      ['a bad CRC', `${qr.payload.slice(0, -1)}${last === '0' ? '1' : '0'}`, 'QR_CRC_INVALID'],
      ['a bad signature', reSigned, 'QR_SIGNATURE_INVALID'],
      ['an amount changed after signing', withAmount(qr.payload, '12.50', '1.25'), 'QR_SIGNATURE_INVALID'],
      ['a payload that is not an EMV code', 'https://pay.example/?amount=1.25', 'QR_INVALID'],
    ];
    for (const [what, payload, code] of cases) {
      expect(await expectCode(wallet.readTillQr(payload)), what).toBe(code);
    }
    // Nothing was claimed, so the till has no customer to ask; the balances did not move.
    expect(await test.merchant.tillClaim(qr.transactionId)).toBeUndefined();
    expect(await test.balances()).toEqual(before);
  });

  it('refuses a till request that is not what the customer claimed (TRADE_CLAIM_MISMATCH); a retried claim is answered the same', async () => {
    const before = await test.balances();
    const qr = await test.merchant.createTillQr({ amount: { currency: 'EUR', minor: 4_20n } });
    const wallet = test.wallet();
    await wallet.unlock(customer.pin);
    const offer = await wallet.readTillQr(qr.payload);
    await wallet.claimTill(offer);
    const claim = await claimOf(qr.transactionId);
    const refused = await expectCode(
      test.merchant.requestPayment({
        customer: claim.customer,
        amount: { currency: 'EUR', minor: 42_00n },
        procedure: 'm-trade',
        transactionId: qr.transactionId,
      }),
    );
    expect(refused).toBe('TRADE_CLAIM_MISMATCH');
    // The same customer again is a retry; the FSP answers the same.
    expect((await wallet.claimTill(offer)).transactionId).toBe(qr.transactionId);
    expect(await test.balances()).toEqual(before);
  });

  it('keeps the phone-number path: an m-trade request without a code still works', async () => {
    const wallet = test.wallet();
    const abort = new AbortController();
    const requests = wallet.paymentRequests(customer.pin, abort.signal);
    const first = requests.next();
    const accepted = await test.merchant.requestPayment({
      customer: customer.msisdn,
      amount: { currency: 'EUR', minor: 1_10n },
      procedure: 'm-trade',
    });
    let view = (await first).value!;
    while (view.paymentId !== accepted.paymentId) view = (await requests.next()).value!;
    abort.abort();
    expect(view.procedure).toBe('m-trade');
  });
});
