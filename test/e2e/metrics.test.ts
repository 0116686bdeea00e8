import { randomUUID } from 'node:crypto';
import { bankOperator, demoParties } from '@mpay/cli';
import { type PrometheusSample, parsePrometheusText, prometheusContentType } from '@mpay/http-server';
import { type CustodyPaymentRequestView, CustodyWallet, fetchCustodyTrust, type InboxEvent } from '@mpay/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backgroundWorkDeadlineMs, paymentSettledDeadlineMs, waitFor } from '../support/deadlines.ts';
import { evidenceOf, expectCode, startTestPlatform, type TestPlatform } from './harness.ts';

/**
 * GET /metrics on every service of a running platform (gateway, both banks,
 * custody, the log and its witness): refused without the operator's bearer
 * token, and after one real payment (a custody customer: a wrong PIN, then
 * the right one, signed in the HSM, paid from xbank to ybank, logged and
 * cosigned) each service's figures moved by what that payment did.
 */
let test: TestPlatform;
let services: Record<string, string>;

beforeAll(async () => {
  test = await startTestPlatform();
  const { urls } = test.platform;
  services = {
    gateway: urls.gateway,
    xbank: urls.xbank,
    ybank: urls.ybank,
    custody: urls.custody,
    log: urls.log,
    witness: urls.witness,
  };
});
afterAll(async () => {
  await test?.close();
});

type Scrape = readonly PrometheusSample[];

async function scrape(url: string, authorization?: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/metrics`, {
    headers: authorization === undefined ? {} : { authorization },
  });
  return { status: response.status, text: await response.text() };
}

async function samplesOf(service: string): Promise<Scrape> {
  const answer = await scrape(services[service]!, `Bearer ${test.platform.operatorToken}`);
  if (answer.status !== 200) throw new Error(`${service} /metrics: HTTP ${answer.status} ${answer.text}`);
  return parsePrometheusText(answer.text);
}

async function scrapeAll(): Promise<Record<string, Scrape>> {
  const entries = await Promise.all(
    Object.keys(services).map(async (service) => [service, await samplesOf(service)] as const),
  );
  return Object.fromEntries(entries);
}

/** The sum of the samples named `name` whose labels include `labels`; a metric that is missing fails the test. */
function sampleValue(samples: Scrape, name: string, labels: Record<string, string> = {}): number {
  const matching = samples.filter(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (matching.length === 0) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`);
  return matching.reduce((sum, sample) => sum + sample.value, 0);
}

/** How much `name` moved between two scrapes. */
function moved(before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}): number {
  return sampleValue(after, name, labels) - sampleValue(before, name, labels);
}

async function requestOf(wallet: CustodyWallet, paymentId: string): Promise<CustodyPaymentRequestView> {
  const event = await waitFor(
    async () =>
      (await wallet.events('0', 1_000)).find(
        (candidate: InboxEvent) => candidate.event === 'payment-request' && candidate.paymentId === paymentId,
      ),
    { deadlineMs: paymentSettledDeadlineMs, what: `custody to forward payment ${paymentId} to the phone` },
  );
  const opened = await wallet.openForward(event.forward);
  if (opened.event !== 'payment-request') throw new Error('assertion failed: a payment request');
  return opened.request;
}

describe('GET /metrics on every service', () => {
  it('refuses a scrape without the operator token, or with another one', async () => {
    for (const [service, url] of Object.entries(services)) {
      expect({ service, status: (await scrape(url)).status }).toEqual({ service, status: 401 });
      const other = `Bearer ${'x'.repeat(test.platform.operatorToken.length)}`;
      expect({ service, status: (await scrape(url, other)).status }).toEqual({ service, status: 401 });
      const response = await fetch(`${url}/metrics`, {
        headers: { authorization: `Bearer ${test.platform.operatorToken}` },
      });
      expect({ service, type: response.headers.get('content-type') }).toEqual({
        service,
        type: prometheusContentType,
      });
      expect(parsePrometheusText(await response.text()).length).toBeGreaterThan(0);
    }
  });

  it('moves every service by what one custody payment did', async () => {
    const before = await scrapeAll();
    // The operator's transfer goes through the ledger's batcher (payment orders post in their own transaction).
    const xbankAccess = test.platform.banks.find((bank) => bank.id === 'xbank')!;
    await bankOperator(xbankAccess, xbankAccess.operatorKey).post('/transfers', {
      id: randomUUID(),
      debitAccountId: demoParties.bank.fundingAccount,
      creditAccountId: demoParties.custodyCustomer.account,
      amount: '100',
      currency: 'EUR',
      reference: 'metrics test top-up',
    });
    const custody = await fetchCustodyTrust(test.platform.urls.custody);
    const wallet = new CustodyWallet({
      custodyUrl: test.platform.urls.custody,
      custody,
      fsp: test.fsp,
      partyId: demoParties.custodyCustomer.id,
      deviceToken: test.platform.credentials.custodyCustomer.deviceToken,
    });
    const accepted = await test.merchant.requestPayment({
      customer: demoParties.custodyCustomer.msisdn,
      amount: { currency: 'EUR', minor: 3_10n },
    });
    const view = await requestOf(wallet, accepted.paymentId);
    expect(await expectCode(wallet.confirm(view, `${demoParties.custodyCustomer.pin}0`))).toBe('PIN_REFUSED');
    expect((await wallet.confirm(view, demoParties.custodyCustomer.pin)).status).toBe('completed');
    // The outcome logged and cosigned: the evidence the gateway serves once the log proved it.
    await evidenceOf(test, accepted.paymentId);
    const log = await waitFor(
      async () => {
        const samples = await samplesOf('log');
        const lag = sampleValue(samples, 'mpay_log_witness_lag_entries');
        const grown =
          sampleValue(samples, 'mpay_log_tree_size') > sampleValue(before.log!, 'mpay_log_tree_size');
        return lag === 0 && grown ? samples : undefined;
      },
      { deadlineMs: backgroundWorkDeadlineMs, what: 'the log to grow and its witness to cosign all of it' },
    );
    const after = await scrapeAll();

    // The gateway: one payment through each step of the iMS protocol, counted as each step committed.
    const step = (from: string, to: string) =>
      moved(before.gateway!, after.gateway!, 'mpay_gateway_payment_step_duration_seconds_count', {
        from_state: from,
        to_state: to,
      });
    expect(step('merchant_request_verified', 'awaiting_customer_signature')).toBe(1);
    expect(step('awaiting_customer_signature', 'customer_signature_verified')).toBe(1);
    expect(step('customer_signature_verified', 'funds_transferred')).toBe(1);
    expect(step('awaiting_customer_signature', 'customer_declined')).toBe(0);
    expect(
      moved(before.gateway!, after.gateway!, 'mpay_gateway_outbox_delivery_duration_seconds_count', {
        outbox: 'outbox/bank_order',
      }),
    ).toBe(1);

    // The customer's bank: the top-up through a batch, the payment's hold then its posting; one order completed.
    const xbank = (name: string, labels: Record<string, string> = {}) =>
      moved(before.xbank!, after.xbank!, name, labels);
    expect(xbank('mpay_bank_ledger_transfers_total', { kind: 'pending' })).toBe(1);
    expect(xbank('mpay_bank_ledger_transfers_total', { kind: 'post_pending' })).toBe(1);
    expect(xbank('mpay_bank_ledger_transfers_total', { kind: 'posted' })).toBe(1);
    expect(xbank('mpay_bank_ledger_batch_transfers_count')).toBe(1);
    expect(xbank('mpay_bank_ledger_batch_transfers_sum')).toBe(1);
    expect(xbank('mpay_bank_ledger_batch_commit_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(xbank('mpay_bank_ledger_transfer_requests_total', { kind: 'posted', outcome: 'created' })).toBe(1);
    expect(xbank('mpay_bank_payment_orders_total', { state: 'sending' })).toBe(1);
    expect(xbank('mpay_bank_payment_orders_total', { state: 'completed' })).toBe(1);
    expect(sampleValue(after.xbank!, 'mpay_bank_payment_orders', { state: 'sending' })).toBe(0);
    expect(xbank('mpay_bank_payment_order_duration_seconds_count', { state: 'completed' })).toBe(1);
    expect(
      xbank('mpay_bank_payment_step_duration_seconds_count', { step: 'payment_order', outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sampleValue(after.xbank!, 'mpay_bank_outbox_pending', { outbox: 'payment_orders' })).toBe(0);

    // The merchant's bank: the peer's funds transfer verified and credited.
    const ybank = (name: string, labels: Record<string, string> = {}) =>
      moved(before.ybank!, after.ybank!, name, labels);
    expect(ybank('mpay_bank_interbank_credits_total', { outcome: 'credited' })).toBe(1);
    expect(ybank('mpay_bank_ledger_transfers_total', { kind: 'posted' })).toBeGreaterThanOrEqual(1);
    expect(
      ybank('mpay_bank_payment_step_duration_seconds_count', {
        step: 'funds_transfer_credit',
        outcome: 'ok',
      }),
    ).toBeGreaterThanOrEqual(1);

    // Custody: the wrong PIN counted, the consent signed in the HSM, the receipt forwarded.
    const custodyMoved = (name: string, labels: Record<string, string> = {}) =>
      moved(before.custody!, after.custody!, name, labels);
    expect(custodyMoved('mpay_custody_pin_failed_tries')).toBe(1);
    expect(custodyMoved('mpay_custody_delegate_signatures_total', { decision: 'confirm' })).toBe(1);
    expect(custodyMoved('mpay_custody_customer_answer_duration_seconds_count', { decision: 'confirm' })).toBe(
      1,
    );
    expect(
      custodyMoved('mpay_custody_hsm_sign_duration_seconds_count', { outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      custodyMoved('mpay_custody_step_duration_seconds_count', {
        step: 'delegation_authorisation',
        outcome: 'ok',
      }),
    ).toBeGreaterThanOrEqual(1);
    // The message's states as its steps committed: forwarded (2), signed (6), receipted (10); none open after.
    expect(custodyMoved('mpay_custody_messages_total', { state: 'sent_to_device' })).toBe(1);
    expect(custodyMoved('mpay_custody_messages_total', { state: 'signed' })).toBe(1);
    expect(custodyMoved('mpay_custody_messages_total', { state: 'receipted' })).toBe(1);
    expect(custodyMoved('mpay_custody_messages_total', { state: 'declined' })).toBe(0);
    expect(sampleValue(after.custody!, 'mpay_custody_messages', { state: 'signed' })).toBe(
      sampleValue(before.custody!, 'mpay_custody_messages', { state: 'signed' }),
    );

    // The log grew by what was submitted, and its witness cosigned all of it.
    expect(
      moved(before.log!, log, 'mpay_log_submissions_total', { outcome: 'appended' }),
    ).toBeGreaterThanOrEqual(1);
    expect(moved(before.log!, log, 'mpay_log_entries_total')).toBeGreaterThanOrEqual(
      moved(before.log!, log, 'mpay_log_submissions_total', { outcome: 'appended' }),
    );
    expect(sampleValue(log, 'mpay_log_checkpoint_tree_size')).toBe(sampleValue(log, 'mpay_log_tree_size'));
    expect(sampleValue(log, 'mpay_log_witness_last_cosignature_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(moved(before.witness!, after.witness!, 'mpay_witness_cosignatures_total')).toBeGreaterThanOrEqual(
      1,
    );
    expect(sampleValue(after.witness!, 'mpay_witness_cosigned_tree_size')).toBeGreaterThanOrEqual(
      sampleValue(log, 'mpay_log_tree_size'),
    );
  });
});
