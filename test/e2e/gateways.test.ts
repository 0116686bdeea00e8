import { bankOperator, demoParties } from '@mpay/cli';
import { createAmount } from '@mpay/protocol';
import { type DeviceEventView, fetchBankTrust, MerchantClient, Wallet } from '@mpay/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentSettledDeadlineMs, requestDeadlineMs, waitFor, within } from '../support/deadlines.ts';
import { startTestPlatform, type TestPlatform } from './harness.ts';

/**
 * Two gateway instances on one PostgreSQL schema behind the platform's front
 * (docs/scaling.md): a push committed at one instance reaches a device whose
 * stream the other holds (LISTEN/NOTIFY), and the outbox's effects are
 * delivered once while both instances run their loops (FOR UPDATE SKIP
 * LOCKED). Only on PostgreSQL: the embedded PGlite is one process's database.
 */
const { customer } = demoParties;
const eur = (minor: bigint) => createAmount('EUR', minor);

describe.skipIf(!process.env.DATABASE_URL)('two gateway instances on one PostgreSQL', () => {
  let test: TestPlatform;
  beforeAll(async () => {
    test = await startTestPlatform({ gateways: 2 });
  });
  afterAll(async () => {
    await test?.close();
  });

  const walletAt = (gatewayUrl: string) =>
    new Wallet({
      gatewayUrl,
      keystore: structuredClone(test.platform.credentials.customerKeystore),
      fsp: test.fsp,
    });

  const merchantAt = async (gatewayUrl: string) =>
    new MerchantClient({
      gatewayUrl,
      merchantId: demoParties.merchant.id,
      signingKey: test.platform.credentials.merchantKeys.signing.privateJwk,
      fsp: test.fsp,
      banks: await Promise.all(test.platform.banks.map((bank) => fetchBankTrust(bank.url))),
    });

  /** The customer's device stream at one address, open (the gateway accepted it), its events collected. */
  async function deviceAt(gatewayUrl: string) {
    const wallet = walletAt(gatewayUrl);
    const abort = new AbortController();
    let opened = () => {};
    const open = new Promise<void>((resolve) => {
      opened = resolve;
    });
    const received: DeviceEventView[] = [];
    const reading = (async () => {
      for await (const event of wallet.events(customer.pin, abort.signal, undefined, () => opened()))
        received.push(event);
    })().catch((error: unknown) => {
      if (!abort.signal.aborted) throw error;
    });
    await within(Promise.race([open, reading]), {
      deadlineMs: requestDeadlineMs,
      what: `the device stream at ${gatewayUrl} to open`,
    });
    return {
      wallet,
      next<T extends DeviceEventView>(
        match: (event: DeviceEventView) => event is T,
        what: string,
      ): Promise<T> {
        return waitFor(() => received.find(match), { deadlineMs: paymentSettledDeadlineMs, what });
      },
      async close() {
        abort.abort();
        await reading;
      },
    };
  }

  const requestFor =
    (paymentId: string) =>
    (event: DeviceEventView): event is Extract<DeviceEventView, { kind: 'payment-request' }> =>
      event.kind === 'payment-request' && event.view.paymentId === paymentId;

  it('a device whose stream is at instance A hears what is asked, declined and refunded at instance B', async () => {
    const [urlA, urlB] = test.platform.urls.gatewayInstances as [string, string];
    const [instanceA] = test.platform.gateways;
    expect(test.platform.urls.gatewayInstances).toHaveLength(2);
    expect(test.platform.urls.gateway).not.toBe(urlA);
    const relayedBefore = instanceA!.relay!.handled;
    const device = await deviceAt(urlA);
    const merchantB = await merchantAt(urlB);
    const walletB = walletAt(urlB);
    try {
      // A request made at B reaches the stream at A; the customer confirms at B.
      const paid = await merchantB.requestPayment({ customer: customer.msisdn, amount: eur(4_00n) });
      const request = await device.next(requestFor(paid.paymentId), 'the request made at B, at A');
      const receipt = await walletB.confirm(request.view, customer.pin);
      expect((receipt.payload.receipt as { status: string }).status).toBe('completed');
      // The refund's receipt, made at B, reaches A.
      const refund = await merchantB.refund(paid.paymentId, { amount: eur(1_00n) });
      const refunded = await device.next(
        (event): event is Extract<DeviceEventView, { kind: 'refund-receipt' }> =>
          event.kind === 'refund-receipt' && event.receipt.refundId === refund.refundId,
        'the refund receipt made at B, at A',
      );
      expect(refunded.receipt.paymentId).toBe(paid.paymentId);
      // A request declined at B: its signed outcome reaches A.
      const declined = await merchantB.requestPayment({ customer: customer.msisdn, amount: eur(3_00n) });
      const second = await device.next(requestFor(declined.paymentId), 'the second request, at A');
      await walletB.decline(second.view, customer.pin);
      const closed = await device.next(
        (event): event is Extract<DeviceEventView, { kind: 'payment-closed' }> =>
          event.kind === 'payment-closed' && event.paymentId === declined.paymentId,
        'the declined outcome, at A',
      );
      expect(closed.status).toBe('declined');
      // B delivers what it commits at once (its outbox is kicked on commit), so these pushes crossed
      // from B to A through the relay; A's own loop could take one first, hardly all three.
      expect(instanceA!.relay!.handled).toBeGreaterThan(relayedBefore);
    } finally {
      await device.close();
    }
  });

  it('completes payments through the front exactly once each while both instances run the outbox', async () => {
    const device = await deviceAt(test.platform.urls.gateway);
    const before = await test.balances();
    const amounts = [1_01n, 1_02n, 1_03n, 1_04n];
    const paymentIds: string[] = [];
    try {
      for (const minor of amounts) {
        const accepted = await test.merchant.requestPayment({
          customer: customer.msisdn,
          amount: eur(minor),
        });
        const request = await device.next(requestFor(accepted.paymentId), `payment ${accepted.paymentId}`);
        await device.wallet.confirm(request.view, customer.pin);
        paymentIds.push(accepted.paymentId);
        // Both instances' rounds at once, besides their own loops: they race for the same outbox rows.
        await Promise.all(test.platform.gateways.map((gateway) => gateway.runBackgroundOnce()));
      }
    } finally {
      await device.close();
    }
    const total = amounts.reduce((sum, minor) => sum + minor, 0n);
    expect(await test.balances()).toEqual({
      customer: before.customer - total,
      merchant: before.merchant + total,
    });
    for (const paymentId of paymentIds) {
      const status = await test.merchant.paymentStatus(paymentId);
      expect((status.history as { status: string }[]).map((step) => step.status)).toEqual([
        'requested',
        'awaiting_customer',
        'authorised',
        'completed',
      ]);
      await test.platform.merchantShop.waitForNotification(paymentId, 'completed', paymentSettledDeadlineMs);
    }
    // Every webhook and bank order delivered, each webhook in one attempt: two instances that both
    // delivered a row would have counted two (the shop on loopback answers at once, so none is retried).
    const [gatewayDatabase] = test.platform.databases;
    const rows = await waitFor(
      async () => {
        const { rows } = await gatewayDatabase!.query<{ kind: string; attempts: number; delivered: boolean }>(
          `SELECT kind, attempts, delivered_at IS NOT NULL AS delivered FROM outbox
           WHERE payment_id = ANY($1) AND kind IN ('webhook', 'bank_order')`,
          [paymentIds],
        );
        return rows.length >= paymentIds.length * 2 && rows.every((row) => row.delivered) && rows;
      },
      { deadlineMs: paymentSettledDeadlineMs, what: 'every webhook and bank order to be delivered' },
    );
    expect(rows.filter((row) => row.kind === 'bank_order')).toHaveLength(paymentIds.length);
    const webhookAttempts = rows.filter((row) => row.kind === 'webhook').map((row) => row.attempts);
    expect(webhookAttempts.length).toBeGreaterThanOrEqual(paymentIds.length);
    expect(new Set(webhookAttempts)).toEqual(new Set([1]));
    // The banks' ledgers (mpay audit): every invariant holds.
    for (const bank of test.platform.banks) {
      const report = await bankOperator(bank, bank.operatorKey).get<{ ok: boolean; violations: unknown[] }>(
        '/audit',
      );
      expect(report, `${bank.id} audit`).toMatchObject({ ok: true, violations: [] });
    }
  });
});
