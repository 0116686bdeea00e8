import { randomUUID } from 'node:crypto';
import { bankOperator, demoParties, type RunningBank } from '@mpay/cli';
import {
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  type SigningKey,
  signPayload,
} from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import { verifyReceipt } from '@mpay/merkle';
import { createAmount, isMpayError, merchantRefundContent } from '@mpay/protocol';
import {
  type DeviceEventView,
  MerchantClient,
  type RefundAnswer,
  readServerSentEvents,
  unlockKeystore,
  type Wallet,
} from '@mpay/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileBanks } from '../../cli/src/commands/banks-report.ts';
import { backgroundWorkDeadlineMs, paymentSettledDeadlineMs, waitFor } from '../support/deadlines.ts';
import { expectCode, postRaw, startTestPlatform, type TestPlatform } from './harness.ts';

/**
 * Refunds through the payment chain, end to end over real HTTP: the merchant
 * signs a refund, the FSP orders the merchant's bank (ybank), which checks the
 * merchant's signature under the key it bound to the merchant's account and
 * pays the customer's bank (xbank) back; the customer gets a signed receipt,
 * the merchant a signed webhook, and the refund is logged. Every bad input is
 * checked by its stable code AND by the balances.
 */
let test: TestPlatform;
let xbank: RunningBank;
let ybank: RunningBank;
let customerKey: SigningKey;
const { customer, merchant } = demoParties;

beforeAll(async () => {
  test = await startTestPlatform();
  xbank = test.platform.banks.find((bank) => bank.id === 'xbank') as RunningBank;
  ybank = test.platform.banks.find((bank) => bank.id === 'ybank') as RunningBank;
  customerKey = (await unlockKeystore(test.platform.credentials.customerKeystore, customer.pin)).signing;
});
afterAll(async () => {
  await test?.close();
});

/** A payment the customer confirmed with the PIN, completed: its id. */
async function completedPayment(amountMinor: bigint): Promise<{ paymentId: string; wallet: Wallet }> {
  const { wallet, paymentId, view } = await requestedPayment(amountMinor);
  await wallet.confirm(view, customer.pin);
  expect((await test.merchant.paymentStatus(paymentId)).status).toBe('completed');
  return { paymentId, wallet };
}

/** A payment request the customer's device received and has not answered. */
async function requestedPayment(amountMinor: bigint) {
  const wallet = test.wallet();
  const abort = new AbortController();
  const requests = wallet.paymentRequests(customer.pin, abort.signal);
  const first = requests.next();
  const accepted = await test.merchant.requestPayment({
    customer: customer.msisdn,
    amount: { currency: 'EUR', minor: amountMinor },
  });
  let view = (await first).value!;
  while (view.paymentId !== accepted.paymentId) view = (await requests.next()).value!;
  abort.abort();
  return { wallet, paymentId: accepted.paymentId, view };
}

const eur = (minor: bigint) => createAmount('EUR', minor);

/** What each bank's books say it owes the other (positive: owes), from GET /settlement/positions. */
async function positions(): Promise<{ xbank: bigint; ybank: bigint }> {
  const net = async (bank: RunningBank) => {
    const answer = await bankOperator(bank, bank.operatorKey).get<{
      positions: { peer: string; currency: string; net: string }[];
    }>('/settlement/positions');
    return BigInt(answer.positions.find((position) => position.currency === 'EUR')?.net ?? '0');
  };
  return { xbank: await net(xbank), ybank: await net(ybank) };
}

/** `mpay audit`, in process: every bank's ledger invariants, then the banks' positions pair by pair. */
async function expectAudited(): Promise<void> {
  const clients = test.platform.banks.map((bank) => bankOperator(bank, bank.operatorKey));
  for (const client of clients) {
    const report = await client.get<{ ok: boolean; violations: unknown[]; mismatches: unknown[] }>('/audit');
    expect(report, `${client.id} audit`).toMatchObject({ ok: true, violations: [], mismatches: [] });
  }
  const pairs = await waitFor(
    async () => {
      const reconciled = await reconcileBanks(clients);
      return reconciled.every((pair) => pair.agree) && reconciled;
    },
    { deadlineMs: backgroundWorkDeadlineMs, what: 'the banks to agree on what they owe each other' },
  );
  for (const pair of pairs) expect(pair.consistent).toBe(true);
}

/** The refund once its banks have answered (the POST usually has it already). */
async function settled(answer: RefundAnswer): Promise<RefundAnswer> {
  if (answer.status !== 'requested' && answer.status !== 'ordered') return answer;
  return waitFor(
    async () => {
      const now = await test.merchant.refundStatus(answer.paymentId, answer.refundId);
      return now.status !== 'requested' && now.status !== 'ordered' && now;
    },
    { deadlineMs: paymentSettledDeadlineMs, what: `refund ${answer.refundId} to settle` },
  );
}

/** The customer's device stream: collects every event until closed. */
async function customerEvents() {
  const path = '/devices/events';
  const abort = new AbortController();
  const response = await fetch(`${test.platform.urls.gateway}${path}`, {
    headers: {
      authorization: await signRequest(
        { method: 'GET', path, body: '' },
        { issuer: customer.id, audience: test.fsp.id, key: customerKey },
      ),
    },
    signal: abort.signal,
  });
  expect(response.status).toBe(200);
  const events: { event: string; id: string; data: string }[] = [];
  const reading = (async () => {
    for await (const event of readServerSentEvents(response.body!)) events.push(event);
  })().catch(() => undefined);
  return {
    events,
    close: async () => {
      abort.abort();
      await reading;
    },
  };
}

/** The signed webhooks the FSP queued for a refund (delivered or not), verified as the merchant verifies them. */
async function refundWebhooks(refundId: string) {
  const { rows } = await test.platform.gateway.context.database.query<{ payload: string }>(
    `SELECT payload FROM outbox WHERE kind = 'webhook' AND payload::json->>'refundId' = $1 ORDER BY id`,
    [refundId],
  );
  return Promise.all(
    rows.map(async (row) =>
      test.merchant.verifyNotification((JSON.parse(row.payload) as { body: string }).body),
    ),
  );
}

/** A GET at the gateway signed as the merchant: the answer's status and text. */
async function merchantGet(path: string): Promise<{ status: number; text: string }> {
  const authorization = await signRequest(
    { method: 'GET', path, body: '' },
    {
      issuer: merchant.id,
      audience: test.fsp.id,
      key: test.platform.credentials.merchantKeys.signing.privateJwk,
    },
  );
  const response = await fetch(`${test.platform.urls.gateway}${path}`, { headers: { authorization } });
  return { status: response.status, text: await response.text() };
}

/** GET /payments/:id/refunds as the merchant. */
async function merchantRefunds(paymentId: string): Promise<unknown> {
  const { status, text } = await merchantGet(`/payments/${paymentId}/refunds`);
  if (status !== 200) throw new Error(`refunds: HTTP ${status} ${text}`);
  return JSON.parse(text);
}

async function refundEvidence(paymentId: string, refundId: string): Promise<string> {
  return waitFor(
    async () => {
      const { status, text } = await merchantGet(`/payments/${paymentId}/refunds/${refundId}/evidence`);
      if (status !== 200 && status !== 202) throw new Error(`evidence: HTTP ${status} ${text}`);
      return status === 200 ? text : undefined;
    },
    { deadlineMs: backgroundWorkDeadlineMs, what: `the log's receipt of refund ${refundId}` },
  );
}

async function expectNothingMoved(run: () => Promise<void>): Promise<void> {
  const before = { balances: await test.balances(), positions: await positions() };
  await run();
  expect({ balances: await test.balances(), positions: await positions() }).toEqual(before);
}

describe('a refund across banks, in part and then the rest', () => {
  it('gives the money back through both banks, with a signed receipt, a signed webhook and a log entry', async () => {
    const start = { balances: await test.balances(), positions: await positions() };
    const { paymentId, wallet } = await completedPayment(20_00n);
    const paid = { balances: await test.balances(), positions: await positions() };
    expect(paid.balances).toEqual({
      customer: start.balances.customer - 20_00n,
      merchant: start.balances.merchant + 20_00n,
    });
    const stream = await customerEvents();
    try {
      // Part: 8.00 of 20.00.
      const part = await settled(
        await test.merchant.refund(paymentId, { amount: eur(8_00n), reason: 'one item returned' }),
      );
      expect(part).toMatchObject({
        paymentId,
        status: 'completed',
        amount: { currency: 'EUR', value: '8.00' },
      });
      expect(part.history.map((step) => step.status)).toContain('completed');
      expect((await test.merchant.paymentStatus(paymentId)).status).toBe('partially_refunded');
      expect(await test.balances()).toEqual({
        customer: paid.balances.customer + 8_00n,
        merchant: paid.balances.merchant - 8_00n,
      });
      // xbank owed ybank the payment; the refund, paid by ybank to xbank, takes 8.00 off on both books.
      expect(await positions()).toEqual({
        xbank: paid.positions.xbank - 8_00n,
        ybank: paid.positions.ybank + 8_00n,
      });

      // The receipt reaches the device, and the wallet verifies it as the FSP's, for this payment.
      const pushed = await waitFor(
        () => stream.events.find((event) => event.event === 'refund-receipt' && event.id === paymentId),
        { deadlineMs: backgroundWorkDeadlineMs, what: 'the refund receipt on the device stream' },
      );
      await wallet.unlock(customer.pin);
      const receipt = await wallet.openRefundReceipt(pushed.data, paymentId);
      expect(receipt).toMatchObject({
        refundId: part.refundId,
        paymentId,
        payer: merchant.id,
        amount: { currency: 'EUR', value: '8.00' },
      });
      // Not for another payment; and a payment's own receipt is not a refund receipt.
      expect(await expectCode(wallet.openRefundReceipt(pushed.data, randomUUID()))).toBe('CLAIMS_INVALID');

      // The rest: 12.00.
      const rest = await settled(await test.merchant.refund(paymentId, { amount: eur(12_00n) }));
      expect(rest.status).toBe('completed');
      expect((await test.merchant.paymentStatus(paymentId)).status).toBe('refunded');
      expect(await test.balances()).toEqual(start.balances);
      expect(await positions()).toEqual(start.positions);

      // The merchant's signed webhook, as verifyNotification reads it.
      const [notification] = await refundWebhooks(rest.refundId);
      expect(notification).toEqual({
        event: 'refund.updated',
        refund: {
          id: rest.refundId,
          paymentId,
          status: 'completed',
          amount: { currency: 'EUR', minor: '1200' },
        },
      });

      // The log: the merchant's signed refund, its bank's signed answer, the FSP's receipt, under a cosigned checkpoint.
      const evidence = await verifyReceipt(await refundEvidence(paymentId, part.refundId), {
        logVerifierKey: test.platform.log.logVerifierKey,
        witnessVerifierKeys: [test.platform.log.witnessVerifierKey],
        witnessesRequired: 1,
      });
      expect(evidence.receipt.transactionId).toBe(part.refundId);
      expect(evidence.receipt.messages).toHaveLength(3);
      expect(evidence.receipt.messages[2]).toBe(receipt.jws);

      // The customer may read the refund too, with the receipt encrypted to the device.
      const asCustomer = await fetch(
        `${test.platform.urls.gateway}/payments/${paymentId}/refunds/${part.refundId}`,
        {
          headers: {
            authorization: await signRequest(
              { method: 'GET', path: `/payments/${paymentId}/refunds/${part.refundId}`, body: '' },
              { issuer: customer.id, audience: test.fsp.id, key: customerKey },
            ),
          },
        },
      );
      const read = (await asCustomer.json()) as { receipt: string };
      expect((await wallet.openRefundReceipt(read.receipt, paymentId)).refundId).toBe(part.refundId);

      // A phone that was offline lists the payment's refunds: both receipts, newest first, verified on the phone.
      const listed = await wallet.refunds(paymentId);
      expect(listed.map((refund) => [refund.refundId, refund.amount.value])).toEqual([
        [rest.refundId, '12.00'],
        [part.refundId, '8.00'],
      ]);
      expect(listed[1]?.jws).toBe(receipt.jws);
      // The refund's evidence as the phone asks for it: the log entry holding the receipt it holds.
      const asked = await waitFor(() => wallet.refundEvidence(paymentId, part.refundId), {
        deadlineMs: backgroundWorkDeadlineMs,
        what: "the refund's evidence for the phone",
      });
      const proved = await verifyReceipt(asked, {
        logVerifierKey: test.platform.log.logVerifierKey,
        witnessVerifierKeys: [test.platform.log.witnessVerifierKey],
        witnessesRequired: 1,
      });
      expect(proved.receipt.messages).toContain(receipt.jws);
      // The merchant's list has no receipt (it is the customer's); anyone else does not see the payment.
      const asMerchant = (await merchantRefunds(paymentId)) as { refunds: Record<string, unknown>[] };
      expect(asMerchant.refunds.map((refund) => [refund.refundId, 'receipt' in refund])).toEqual([
        [rest.refundId, false],
        [part.refundId, false],
      ]);
      const stranger = await generateSigningKeyPair();
      const strangerList = await fetch(`${test.platform.urls.gateway}/payments/${paymentId}/refunds`, {
        headers: {
          authorization: await signRequest(
            { method: 'GET', path: `/payments/${paymentId}/refunds`, body: '' },
            { issuer: 'nobody', audience: test.fsp.id, key: stranger.privateJwk },
          ),
        },
      });
      expect(strangerList.status).toBe(401);
    } finally {
      await stream.close();
    }
    await expectAudited();
  });
});

describe("the customer's device events", () => {
  it('yields each event verified: a request, its end (cancelled, paid), then a refund receipt', async () => {
    const wallet = test.wallet();
    await wallet.unlock(customer.pin);
    const abort = new AbortController();
    const events = wallet.events(customer.pin, abort.signal);
    // The next event of a kind for a payment (others, e.g. of earlier tests' payments, are passed over).
    const next = async <K extends DeviceEventView['kind']>(kind: K, paymentId?: string) => {
      for (;;) {
        const { value, done } = await events.next();
        if (done === true) throw new Error('the stream ended');
        const id =
          value.kind === 'payment-request'
            ? value.view.paymentId
            : value.kind === 'refund-receipt'
              ? value.receipt.paymentId
              : value.paymentId;
        if (value.kind === kind && (paymentId === undefined || id === paymentId))
          return value as Extract<DeviceEventView, { kind: K }>;
      }
    };
    try {
      const requested = next('payment-request');
      const cancelled = await test.merchant.requestPayment({ customer: customer.msisdn, amount: eur(4_00n) });
      expect((await requested).view.paymentId).toBe(cancelled.paymentId);
      await test.merchant.cancel(cancelled.paymentId, 'out of stock');
      const closed = await next('payment-closed', cancelled.paymentId);
      expect(closed.status).toBe('cancelled');
      expect(closed.statement.payload.paymentOutcome).toMatchObject({ paymentId: cancelled.paymentId });

      const paid = await test.merchant.requestPayment({ customer: customer.msisdn, amount: eur(5_00n) });
      const view = (await next('payment-request', paid.paymentId)).view;
      const receipt = await wallet.confirm(view, customer.pin);
      expect(receipt.payload.receipt).toMatchObject({ paymentId: paid.paymentId, status: 'completed' });

      // One delivery of the receipt: the confirmation's answer carried it, so the stream does not repeat it.
      const refund = await settled(await test.merchant.refund(paid.paymentId, { amount: eur(1_50n) }));
      let refunded: Extract<DeviceEventView, { kind: 'refund-receipt' }> | undefined;
      while (refunded === undefined) {
        const { value, done } = await events.next();
        if (done === true) throw new Error('the stream ended');
        expect(value.kind === 'payment-closed' && value.paymentId === paid.paymentId).toBe(false);
        if (value.kind === 'refund-receipt' && value.receipt.paymentId === paid.paymentId) refunded = value;
      }
      const { rows } = await test.platform.gateway.context.database.query<{ delivered: boolean }>(
        `SELECT delivered_at IS NOT NULL AS delivered FROM outbox
         WHERE payment_id = $1 AND kind = 'device_push' AND payload = '{"event":"receipt"}'`,
        [paid.paymentId],
      );
      expect(rows).toEqual([{ delivered: true }]);
      expect(refunded.receipt).toMatchObject({
        refundId: refund.refundId,
        payer: merchant.id,
        amount: { currency: 'EUR', value: '1.50' },
      });
    } finally {
      abort.abort();
    }
  });
});

describe('what a refund may not do', () => {
  it('is idempotent by its refund id: the same fields answer the same refund, other fields REFUND_ID_REUSED', async () => {
    const { paymentId } = await completedPayment(5_00n);
    const refundId = randomUUID();
    const first = await settled(await test.merchant.refund(paymentId, { amount: eur(2_00n), refundId }));
    await expectNothingMoved(async () => {
      const again = await test.merchant.refund(paymentId, { amount: eur(2_00n), refundId });
      expect({ ...again, history: undefined }).toEqual({ ...first, history: undefined });
      expect(await expectCode(test.merchant.refund(paymentId, { amount: eur(3_00n), refundId }))).toBe(
        'REFUND_ID_REUSED',
      );
      expect(
        await expectCode(test.merchant.refund(paymentId, { amount: eur(2_00n), refundId, reason: 'other' })),
      ).toBe('REFUND_ID_REUSED');
    });
    await expectAudited();
  });

  it('refuses a refund larger than what is left, and moves nothing', async () => {
    const { paymentId } = await completedPayment(10_00n);
    await settled(await test.merchant.refund(paymentId, { amount: eur(7_00n) }));
    await expectNothingMoved(async () => {
      expect(await expectCode(test.merchant.refund(paymentId, { amount: eur(3_01n) }))).toBe(
        'REFUND_EXCEEDS_ORIGINAL',
      );
      expect(await expectCode(test.merchant.refund(paymentId, { amount: eur(10_01n) }))).toBe(
        'REFUND_EXCEEDS_ORIGINAL',
      );
    });
    expect((await test.merchant.paymentStatus(paymentId)).status).toBe('partially_refunded');
    await expectAudited();
  });

  it('decides two refunds sent at once that together exceed the payment one after the other', async () => {
    const { paymentId } = await completedPayment(10_00n);
    const before = await test.balances();
    const answers = await Promise.allSettled([
      test.merchant.refund(paymentId, { amount: eur(6_00n) }),
      test.merchant.refund(paymentId, { amount: eur(6_00n) }),
    ]);
    const accepted = answers.filter((answer) => answer.status === 'fulfilled');
    const refused = answers.filter(
      (answer) => answer.status === 'rejected' && isMpayError(answer.reason, 'REFUND_EXCEEDS_ORIGINAL'),
    );
    expect([accepted.length, refused.length]).toEqual([1, 1]);
    await settled((accepted[0] as PromiseFulfilledResult<RefundAnswer>).value);
    expect(await test.balances()).toEqual({
      customer: before.customer + 6_00n,
      merchant: before.merchant - 6_00n,
    });
    await expectAudited();
  });

  it("refuses another merchant's refund as an unknown payment", async () => {
    const { paymentId } = await completedPayment(4_00n);
    const keys = {
      signing: await generateSigningKeyPair('ES256'),
      encryption: await generateEncryptionKeyPair(),
    };
    const otherId = 'eve.refunds@merchant.ybank';
    const registered = await postRaw(
      `${test.platform.urls.gateway}/admin/merchants`,
      JSON.stringify({
        id: otherId,
        displayName: 'Eve',
        signingJwk: keys.signing.publicJwk,
        encryptionJwk: keys.encryption.publicJwk,
      }),
      'application/json',
      { authorization: `Bearer ${test.platform.operatorToken}` },
    );
    expect(registered.status).toBe(201);
    const eve = new MerchantClient({
      gatewayUrl: test.platform.urls.gateway,
      merchantId: otherId,
      signingKey: keys.signing.privateJwk,
      fsp: test.fsp,
    });
    await expectNothingMoved(async () => {
      // Through the SDK: it cannot even read the payment it would name.
      expect(await expectCode(eve.refund(paymentId, { amount: eur(4_00n) }))).toBe('PAYMENT_UNKNOWN');
      // By hand: a refund content naming the real customer, signed by Eve, sent as Eve.
      const refundId = randomUUID();
      const refund = await signPayload(
        merchantRefundContent({
          refundId,
          paymentId,
          merchantId: otherId,
          customerId: customer.id,
          amount: eur(4_00n),
        }),
        { issuer: otherId, audience: test.fsp.id, transactionId: refundId, expiresInSeconds: 300 },
        keys.signing.privateJwk,
      );
      const path = `/payments/${paymentId}/refunds`;
      const body = JSON.stringify({ refund });
      const answer = await postRaw(`${test.platform.urls.gateway}${path}`, body, 'application/json', {
        authorization: await signRequest(
          { method: 'POST', path, body },
          { issuer: otherId, audience: test.fsp.id, key: keys.signing.privateJwk },
        ),
      });
      expect([answer.status, answer.code]).toEqual([404, 'PAYMENT_UNKNOWN']);
      // The real merchant's request with Eve's signature over its content: the signature does not verify.
      const forged = await signPayload(
        merchantRefundContent({
          refundId,
          paymentId,
          merchantId: merchant.id,
          customerId: customer.id,
          amount: eur(4_00n),
        }),
        { issuer: merchant.id, audience: test.fsp.id, transactionId: refundId, expiresInSeconds: 300 },
        keys.signing.privateJwk,
      );
      const forgedBody = JSON.stringify({ refund: forged });
      const asMerchant = await postRaw(
        `${test.platform.urls.gateway}${path}`,
        forgedBody,
        'application/json',
        {
          authorization: await signRequest(
            { method: 'POST', path, body: forgedBody },
            {
              issuer: merchant.id,
              audience: test.fsp.id,
              key: test.platform.credentials.merchantKeys.signing.privateJwk,
            },
          ),
        },
      );
      expect(asMerchant.code).toBe('CRYPTO_VERIFICATION_FAILED');
    });
    expect((await test.merchant.paymentStatus(paymentId)).status).toBe('completed');
    await expectAudited();
  });

  it('refuses a refund of an unfinished payment (not completed)', async () => {
    const { paymentId } = await requestedPayment(3_00n);
    await expectNothingMoved(async () => {
      expect(await expectCode(test.merchant.refund(paymentId, { amount: eur(3_00n) }))).toBe(
        'REFUND_NOT_ALLOWED',
      );
    });
    expect((await test.merchant.paymentStatus(paymentId)).status).toBe('awaiting_customer');
    await expectAudited();
  });
});
