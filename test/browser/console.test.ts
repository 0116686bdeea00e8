import { bankOperator, demoParties } from '@mpay/cli';
import { generateEncryptionKeyPair, generateSigningKeyPair } from '@mpay/envelope';
import { enrolDevice } from '@mpay/sdk';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backgroundWorkDeadlineMs,
  paymentSettledDeadlineMs,
  requestDeadlineMs,
  waitFor,
} from '../support/deadlines.ts';
import { expectUsableScreen } from './accessibility.ts';
import { type BrowserPlatform, screenshot, startBrowserPlatform } from './harness.ts';

/**
 * The operator console in Chromium on the whole platform: nothing but the
 * sign-in form (and 401 from its API) without a session; with the operator
 * token, the payment this test made with its protocol steps, each bank's
 * audit and the positions, a settlement run, the log's checkpoint verified
 * in the page with its witness cosignature, the backlogs, the charts drawn
 * from the gateway's metrics, and a customer account opened with an
 * enrolment code a wallet then enrols with. At a desk's size, and a phone's.
 */
let test: BrowserPlatform;
let desk: { context: BrowserContext; page: Page };
let paymentId: string;
const ui = { timeout: requestDeadlineMs };

/** The demo customer pays the demo merchant (xbank → ybank) with the Node wallet, as test/e2e does. */
async function pay(amountMinor: bigint): Promise<string> {
  const wallet = test.wallet();
  const abort = new AbortController();
  const requests = wallet.paymentRequests(demoParties.customer.pin, abort.signal);
  const first = requests.next();
  const accepted = await test.merchant.requestPayment({
    customer: demoParties.customer.msisdn,
    amount: { currency: 'EUR', minor: amountMinor },
  });
  let view = (await first).value!;
  while (view.paymentId !== accepted.paymentId) view = (await requests.next()).value!;
  abort.abort();
  await wallet.confirm(view, demoParties.customer.pin);
  await waitFor(async () => (await test.merchant.paymentStatus(accepted.paymentId)).status === 'completed', {
    deadlineMs: paymentSettledDeadlineMs,
    what: `payment ${accepted.paymentId} to complete`,
  });
  return accepted.paymentId;
}

async function apiStatus(path: string, init: RequestInit = {}): Promise<{ status: number; code?: string }> {
  const response = await fetch(`${test.web}/console/api${path}`, init);
  const body = (await response.json().catch(() => ({}))) as { error?: { code: string } };
  return { status: response.status, ...(body.error === undefined ? {} : { code: body.error.code }) };
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel('Operator token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function openView(page: Page, name: string): Promise<void> {
  await page
    .getByRole('navigation', { name: 'Console views' })
    .getByRole('button', { name, exact: true })
    .click();
}

beforeAll(async () => {
  test = await startBrowserPlatform();
  paymentId = await pay(3_25n);
  desk = await test.desk();
});
afterAll(() => test?.close());

describe('the operator console', () => {
  it('has no page and no data without a session: the API answers 401, a wrong token is refused', async () => {
    for (const path of [
      '/payments',
      `/payments/${paymentId}`,
      '/banks',
      '/settlements',
      '/log',
      '/metrics',
      '/backlogs',
    ])
      expect(await apiStatus(path), path).toEqual({ status: 401, code: 'AUTHENTICATION_FAILED' });
    const post = (path: string, body: unknown, cookie?: string) =>
      apiStatus(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(cookie === undefined ? {} : { cookie }) },
        body: JSON.stringify(body),
      });
    expect(await post('/settlements', {})).toEqual({ status: 401, code: 'AUTHENTICATION_FAILED' });
    expect(
      await post('/customers', {}, 'mpay_console=forged-session-id-that-was-never-issued-at-all'),
    ).toEqual({
      status: 401,
      code: 'AUTHENTICATION_FAILED',
    });
    expect(await post('/session', { token: 'not the operator token' })).toEqual({
      status: 401,
      code: 'AUTHENTICATION_FAILED',
    });

    const { page } = desk;
    await page.goto('/console/');
    await page.getByLabel('Operator token').waitFor(ui);
    expect(await page.getByRole('navigation', { name: 'Console views' }).count()).toBe(0);
    await screenshot(page, 'console-sign-in');
    await signIn(page, `${test.platform.operatorToken}x`);
    const error = page.getByTestId('error');
    await error.waitFor(ui);
    expect(await error.getAttribute('data-code')).toBe('AUTHENTICATION_FAILED');
    expect(await page.getByRole('navigation', { name: 'Console views' }).count()).toBe(0);
    expect(await desk.context.cookies()).toEqual([]);
    await expectUsableScreen(page, 'sign-in');
  });

  it('signs in with the operator token: an HttpOnly, SameSite=Strict session cookie', async () => {
    const { page, context } = desk;
    await signIn(page, test.platform.operatorToken);
    await page.getByRole('navigation', { name: 'Console views' }).waitFor(ui);
    const [cookie, ...others] = await context.cookies();
    expect(others).toEqual([]);
    expect(cookie).toMatchObject({
      name: 'mpay_console',
      path: '/console',
      httpOnly: true,
      sameSite: 'Strict',
    });
    // The cookie opens the API to this browser only: the same request from another origin is refused.
    const session = `mpay_console=${cookie?.value}`;
    expect(await apiStatus('/session', { headers: { cookie: session } })).toEqual({ status: 200 });
    expect(
      await apiStatus('/settlements', {
        method: 'POST',
        headers: { cookie: session, origin: 'https://elsewhere.example', 'content-type': 'application/json' },
        body: '{}',
      }),
    ).toEqual({ status: 403, code: 'FORBIDDEN' });
  });

  it('shows the payment made in this test, completed, with its protocol steps', async () => {
    const { page } = desk;
    const open = page.getByRole('button', { name: `Payment ${paymentId}` });
    await open.waitFor(ui);
    await screenshot(page, 'console-payments');
    await expectUsableScreen(page, 'payments');
    await open.click();
    const facts = page.getByTestId('payment-facts');
    await facts.waitFor(ui);
    expect(await facts.textContent()).toContain(paymentId);
    expect(await facts.textContent()).toContain('completed');
    expect(await facts.textContent()).toContain('EUR 3.25');
    const steps = page.getByRole('list', { name: 'Protocol steps' }).getByRole('listitem');
    expect(await steps.allTextContents()).toEqual([
      expect.stringContaining('iMS §5 step 1'),
      expect.stringContaining('iMS §5 steps 1–2'),
      expect.stringContaining('iMS §5 steps 4–7'),
      expect.stringContaining('iMS §5 steps 8–10'),
    ]);
    expect(await steps.last().textContent()).toContain('customer_signature_verified → funds_transferred');
    await screenshot(page, 'console-payment');
    // Filtered by status: the completed payment is there, and not among the declined ones.
    await page.getByRole('button', { name: 'Back to the list' }).click();
    await page.getByLabel('Status').selectOption('declined');
    await page.getByText('No payments with this status.').waitFor(ui);
    await page.getByLabel('Status').selectOption('completed');
    await open.waitFor(ui);
  });

  it("shows that each bank's audit holds, and the interbank positions", async () => {
    const { page } = desk;
    await openView(page, 'Banks');
    for (const bank of ['xbank', 'ybank']) {
      const panel = page.getByRole('region', { name: `${bank} ledger` });
      await panel.getByText('Audit holds').waitFor({ timeout: backgroundWorkDeadlineMs });
      expect(await panel.textContent()).not.toContain('FAILED');
    }
    const positions = page.getByRole('table', { name: 'Interbank positions' });
    await positions.waitFor(ui);
    expect(await positions.textContent()).toMatch(/xbank ⇄ ybank/);
    expect(await positions.textContent()).toMatch(/xbank owes ybank EUR \d/);
    await screenshot(page, 'console-banks');
    await expectUsableScreen(page, 'banks');
  });

  it('runs a settlement: both banks book the run, and the position is settled', async () => {
    const { page } = desk;
    // The run settles only books that agree: wait until no payment order is in flight between the banks.
    await waitFor(
      async () => {
        const xbank = test.platform.banks.find((bank) => bank.id === 'xbank')!;
        const { positions } = await bankOperator(xbank, xbank.operatorKey).get<{
          positions: { inFlight: { count: number } }[];
        }>('/settlement/positions');
        return positions.every((position) => position.inFlight.count === 0);
      },
      { deadlineMs: paymentSettledDeadlineMs, what: 'no payment order in flight from xbank' },
    );
    await openView(page, 'Settlement');
    await page.getByRole('table', { name: 'Interbank positions' }).waitFor(ui);
    await page.getByRole('button', { name: 'Run settlement' }).click();
    const outcome = page.getByTestId('settlement-outcome');
    await outcome.waitFor(ui);
    expect(await outcome.textContent()).toMatch(/Settled: xbank paid ybank EUR \d/);
    const runs = page.getByRole('table', { name: 'Settlement runs' });
    await runs.getByText('booked at both banks').first().waitFor(ui);
    await page.getByText('xbank and ybank owe each other nothing').waitFor(ui);
    await screenshot(page, 'console-settlement');
    // The books still hold after the run.
    await openView(page, 'Banks');
    for (const bank of ['xbank', 'ybank'])
      await page
        .getByRole('region', { name: `${bank} ledger` })
        .getByText('Audit holds')
        .waitFor({ timeout: backgroundWorkDeadlineMs });
  });

  it("shows the log's latest checkpoint, verified in the page with its witness cosignature, and no alarm", async () => {
    const { page } = desk;
    await openView(page, 'Log');
    await page.getByText('Verified in this page').waitFor({ timeout: backgroundWorkDeadlineMs });
    const facts = await page.getByTestId('checkpoint-facts').textContent();
    expect(facts).toContain(test.platform.log.origin);
    const cosignatures = page.getByRole('list', { name: 'Witness cosignatures' }).getByRole('listitem');
    expect(await cosignatures.count()).toBe(1);
    expect(await cosignatures.first().textContent()).toContain('witness.log.mpay.example');
    expect(await cosignatures.first().textContent()).toContain('cosignature verified');
    expect(await page.getByTestId('log-monitor').getAttribute('class')).toContain('notice-good');
    expect(await page.getByTestId('witness-alarms').textContent()).toContain('no alarm');
    await screenshot(page, 'console-log');
    await expectUsableScreen(page, 'log');
  });

  it('shows the outboxes of the gateway and of each bank', async () => {
    const { page } = desk;
    await openView(page, 'Backlogs');
    for (const service of ['gateway', 'xbank', 'ybank'])
      await page.getByRole('table', { name: `${service} outboxes` }).waitFor(ui);
    const gateway = await page.getByRole('table', { name: 'gateway outboxes' }).textContent();
    for (const outbox of ['webhook', 'bank order', 'log entry', 'device push'])
      expect(gateway).toContain(outbox);
    expect(await page.getByRole('table', { name: 'xbank outboxes' }).textContent()).toContain(
      'payment orders',
    );
    await screenshot(page, 'console-backlogs');
  });

  it("draws payments per second and latency percentiles from the gateway's metrics", async () => {
    const { page } = desk;
    await openView(page, 'Charts');
    const rates = page.getByRole('img', { name: /Payments per second/ });
    const latency = page.getByRole('img', { name: /Latency percentiles/ });
    await rates.waitFor(ui);
    // The backend scrapes every few seconds; the page redraws as points come.
    await waitFor(async () => (await rates.locator('circle').count()) >= 4, {
      deadlineMs: backgroundWorkDeadlineMs,
      what: 'points in the payments-per-second chart',
    });
    // One more payment, so that a completion falls between two scrapes of the page's history.
    await pay(1_10n);
    await waitFor(async () => (await latency.locator('circle').count()) >= 1, {
      deadlineMs: backgroundWorkDeadlineMs,
      what: 'a point in the latency chart',
    });
    // The percentiles are of the last 60 s of scrapes: wait for one that saw this payment complete
    // (on a busy machine the earlier completions may already be older than the window).
    await waitFor(
      async () =>
        /p50 [\d.]+ s, p90 [\d.]+ s, p99 [\d.]+ s/.test(
          (await page.getByTestId('metrics-latest').textContent()) ?? '',
        ),
      { deadlineMs: backgroundWorkDeadlineMs, what: 'the latest latency percentiles on the chart' },
    );
    expect(await rates.locator('polyline').count()).toBeGreaterThan(0);
    await screenshot(page, 'console-charts');
    await expectUsableScreen(page, 'charts');
  });

  it('opens a customer account with an opening balance and an enrolment code that a wallet enrols with', async () => {
    const { page } = desk;
    await openView(page, 'Customers');
    const partyId = `ana.k${Date.now().toString(36)}@person.xbank`;
    const form = page.getByRole('form', { name: 'Open a customer account' });
    await form.getByLabel('Bank').selectOption('xbank');
    await form.getByLabel("Customer's party id").fill(partyId);
    await form.getByLabel('Opening balance (EUR)').fill('25.00');
    await form.getByRole('button', { name: 'Open account and issue code' }).click();
    const issued = page.getByTestId('issued-code');
    await issued.waitFor(ui);
    const code = ((await issued.getByTestId('enrolment-code').textContent()) ?? '').trim();
    expect(code).not.toBe('');
    const accountId = /[0-9a-f]{8}-[0-9a-f-]{27}/.exec((await issued.textContent()) ?? '')?.[0];
    expect(accountId).toBeDefined();
    await screenshot(page, 'console-customers');
    await expectUsableScreen(page, 'customers');
    // The code works: a phone's keys enrol at xbank with it, bound to the new account, which holds EUR 25.00.
    const xbank = test.platform.banks.find((bank) => bank.id === 'xbank')!;
    const enrolment = await enrolDevice(
      { bankUrl: xbank.url, bankId: 'xbank', partyId, code },
      'ana-phone-1',
      {
        signing: await generateSigningKeyPair('ES256'),
        encryption: await generateEncryptionKeyPair(),
      },
    );
    expect(enrolment.serial).toBeTruthy();
    const account = await bankOperator(xbank, xbank.operatorKey).get<{ balance: string; owner: string }>(
      `/accounts/${accountId}`,
    );
    expect(account).toMatchObject({ balance: '2500', owner: partyId });
  });

  it('is usable at a phone’s size', async () => {
    const { page, context } = await test.phone();
    try {
      await page.goto('/console/');
      await signIn(page, test.platform.operatorToken);
      await page.getByRole('button', { name: `Payment ${paymentId}` }).waitFor(ui);
      await expectUsableScreen(page, 'payments at a phone size');
      await screenshot(page, 'console-phone-payments');
      await openView(page, 'Charts');
      await page.getByRole('img', { name: /Payments per second/ }).waitFor(ui);
      await expectUsableScreen(page, 'charts at a phone size');
      await screenshot(page, 'console-phone-charts');
    } finally {
      await context.close();
    }
  });

  it('signs out: the session ends on the server, and its cookie opens nothing any more', async () => {
    const { page, context } = desk;
    const [cookie] = await context.cookies();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Operator token').waitFor(ui);
    expect(await apiStatus('/payments', { headers: { cookie: `mpay_console=${cookie?.value}` } })).toEqual({
      status: 401,
      code: 'AUTHENTICATION_FAILED',
    });
    await context.close();
  });
});
