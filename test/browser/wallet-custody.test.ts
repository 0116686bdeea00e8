import { randomUUID } from 'node:crypto';
import { bankOperator, demoParties, type RunningBank } from '@mpay/cli';
import { verifyReceipt } from '@mpay/merkle';
import { createAmount, isMpayError } from '@mpay/protocol';
import {
  CustodyWallet,
  enrolWithCustody,
  fetchCustodyTrust,
  type InboxEvent,
  type PaymentRequestAccepted,
} from '@mpay/sdk';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backgroundWorkDeadlineMs,
  paymentSettledDeadlineMs,
  requestDeadlineMs,
  waitFor,
} from '../support/deadlines.ts';
import { type BrowserPlatform, screenshot, startBrowserPlatform } from './harness.ts';

/**
 * The wallet's custody section (iMS §5) in Chromium at a phone's size: a
 * customer enrols through the page with the code their bank issued, the
 * Node merchant asks for payments, the page shows each verified request
 * live, and the customer confirms or declines with the PIN only; wrong PINs
 * are refused and then blocked. A merchant's refund reaches the page through
 * custody's inbox, verified, with its own log mark. Money is checked at the bank.
 */
let test: BrowserPlatform;
let xbank: RunningBank;

beforeAll(async () => {
  test = await startBrowserPlatform();
  xbank = test.platform.banks.find((bank) => bank.id === 'xbank') as RunningBank;
});
afterAll(() => test?.close());

interface NewCustomer {
  readonly partyId: string;
  readonly account: string;
  readonly code: string;
  readonly name: string;
}

/** A new xbank customer with 100.00 EUR and a one-time enrolment code, as the bank's operator issues them. */
async function openAccount(name: string): Promise<NewCustomer> {
  const partyId = `${name.toLowerCase()}.${randomUUID().slice(0, 8)}@person.xbank`;
  const account = randomUUID();
  const operator = bankOperator(xbank, xbank.operatorKey);
  await operator.post('/accounts', { id: account, owner: partyId, currency: 'EUR', kind: 'customer' });
  await operator.post('/transfers', {
    id: randomUUID(),
    debitAccountId: demoParties.bank.fundingAccount,
    creditAccountId: account,
    amount: '10000',
    currency: 'EUR',
    reference: 'opening balance',
  });
  const { code } = await operator.post<{ code: string }>('/enrolment-codes', {
    partyId,
    accountIds: [account],
  });
  return { partyId, account, code, name };
}

async function balanceOf(account: string): Promise<bigint> {
  const { balance } = await bankOperator(xbank, xbank.operatorKey).get<{ balance: string }>(
    `/accounts/${account}`,
  );
  return BigInt(balance);
}

/** The customer enrols on their phone: the custody section's form, filled in as a person would. */
async function enrolThroughPage(page: Page, customer: NewCustomer, pin: string, shot?: string) {
  await page.goto('/wallet/#custody');
  await page.getByLabel('Your bank').selectOption('xbank');
  await page.getByLabel('Party id').fill(customer.partyId);
  await page.getByLabel('Enrolment code').fill(customer.code);
  await page.getByLabel('Your name').fill(customer.name);
  await page.getByLabel('Choose a PIN').fill(pin);
  await page.getByLabel('PIN again').fill(pin);
  if (shot !== undefined) await screenshot(page, shot);
  await page.getByRole('button', { name: 'Enrol with custody' }).click();
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: backgroundWorkDeadlineMs });
}

/** The Node merchant asks; custody registers a new customer with the FSP from its outbox, so the first ask may find none yet. */
function requestPayment(
  partyId: string,
  minor: bigint,
  description: string,
): Promise<PaymentRequestAccepted> {
  return waitFor(
    async () => {
      try {
        return await test.merchant.requestPayment({
          customer: partyId,
          amount: { currency: 'EUR', minor },
          description,
        });
      } catch (error) {
        if (isMpayError(error, 'PARTY_UNKNOWN')) return undefined;
        throw error;
      }
    },
    { deadlineMs: backgroundWorkDeadlineMs, what: `the FSP to know ${partyId} and take the request` },
  );
}

/** The request card of the payment described so, once the inbox delivered and the page verified it. */
async function requestCard(page: Page, description: string): Promise<Locator> {
  const card = page.getByTestId('custody-request').filter({ hasText: description });
  await card.waitFor({ timeout: paymentSettledDeadlineMs });
  return card;
}

/**
 * Types the PIN and answers; resolves once the page has custody's answer: the
 * request is gone (answered), or it stays with its PIN field cleared (refused).
 */
async function answer(card: Locator, pin: string, button: 'Confirm' | 'Decline') {
  const pinField = card.getByLabel('PIN', { exact: true });
  await pinField.fill(pin);
  await card.getByRole('button', { name: button }).click();
  await expect
    .poll(
      async () =>
        (await card.count()) === 0 || (await pinField.inputValue({ timeout: 1_000 }).catch(() => '')) === '',
      { timeout: paymentSettledDeadlineMs },
    )
    .toBe(true);
}

/** The log mark in `scope`, once the page verified it; its text. */
async function verifiedLogMark(scope: Locator): Promise<string> {
  const mark = scope.locator('[data-testid="log-mark"][data-state="verified"]');
  await mark.waitFor({ timeout: paymentSettledDeadlineMs });
  return (await mark.textContent()) ?? '';
}

/** Payments the page's customer paid through custody (their evidence is theirs only). */
const paid: string[] = [];
/** Custody's evidence route, as the page reaches it through the web server's proxy. */
const evidenceRoute = '**/api/custody/payments/*/evidence';
/** Money the merchant gave back to the page's customer, for the balance checks. */
let refundedMinor = 0n;

/** Custody's inbox (the page's long poll), as the page reaches it through the web server's proxy. */
function isInbox(url: URL): boolean {
  return url.pathname.endsWith('/api/custody/inbox');
}

/** A compact JWS with one character of its signature changed: no key verifies it any more. */
function withBrokenSignature(compact: string): string {
  const [header, payload, signature] = compact.split('.') as [string, string, string];
  const middle = Math.floor(signature.length / 2);
  const other = signature[middle] === 'A' ? 'B' : 'A';
  return `${header}.${payload}.${signature.slice(0, middle)}${other}${signature.slice(middle + 1)}`;
}

describe('custody in the browser: a customer whose key is in custody’s HSM', () => {
  let phone: { context: BrowserContext; page: Page };
  let customer: NewCustomer;
  const pin = '8642';

  beforeAll(async () => {
    phone = await test.phone();
    customer = await openAccount('Vesna');
  });
  afterAll(() => phone?.context.close());

  it('enrols through the page, shows the verified request live, and pays with the PIN only', async () => {
    const { page } = phone;
    await enrolThroughPage(page, customer, pin, 'wallet-custody-enrol');
    await page.getByText('No request waiting').waitFor();
    await screenshot(page, 'wallet-custody-waiting');
    const merchantBefore = (await test.balances()).merchant;

    const accepted = await requestPayment(customer.partyId, 7_25n, 'Two flat whites');
    const card = await requestCard(page, 'Two flat whites');
    await expect(card.textContent()).resolves.toContain(demoParties.merchant.displayName);
    await expect(card.textContent()).resolves.toContain('EUR 7.25');
    await expect(card.getByText('verified', { exact: true }).isVisible()).resolves.toBe(true);
    // The level and what it asks, as the FSP stated them: custody always asks the PIN.
    await expect(card.textContent()).resolves.toMatch(/Level.*(Small|Medium|Large)/);
    await expect(card.textContent()).resolves.toContain('your PIN');
    await screenshot(page, 'wallet-custody-request');

    // Someone between the page and custody changes a logged message: the page's own check must fail.
    await page.route(evidenceRoute, async (route) => {
      const response = await route.fetch();
      if (response.status() !== 200) return route.fulfill({ response });
      const file = JSON.parse(await response.text()) as { messages: string[] };
      file.messages[0] = `${file.messages[0]!.slice(0, -4)}${file.messages[0]!.endsWith('AAAA') ? 'AAAE' : 'AAAA'}`;
      return route.fulfill({ response, body: JSON.stringify(file) });
    });
    await answer(card, pin, 'Confirm');
    const result = page.getByTestId('custody-result');
    await result.getByRole('heading', { name: 'Paid' }).waitFor({ timeout: paymentSettledDeadlineMs });
    await expect(result.textContent()).resolves.toContain('Receipt signed by the FSP and verified');
    const failed = result.locator('[data-testid="log-mark"][data-state="failed"]');
    await failed.waitFor({ timeout: paymentSettledDeadlineMs });
    expect(await failed.getAttribute('data-code')).toBe('PROOF_INVALID');
    await screenshot(page, 'wallet-custody-log-failed');
    // The file as custody passed it on: custody fetched it with the key in its HSM, the page verifies it
    // under the config's log and witness keys, and that the entry holds this very receipt.
    await page.unroute(evidenceRoute);
    await result.getByRole('button', { name: 'Check again' }).click();
    expect(await verifiedLogMark(result)).toMatch(/Recorded in the public log \(entry \d+, tree size \d+\)/);
    paid.push(accepted.paymentId);
    expect(await balanceOf(customer.account)).toBe(100_00n - 7_25n);
    await waitFor(async () => (await test.balances()).merchant === merchantBefore + 7_25n, {
      deadlineMs: paymentSettledDeadlineMs,
      what: 'the merchant to be credited 7.25',
    });
    expect((await test.merchant.paymentStatus(accepted.paymentId)).status).toBe('completed');
    // The history keeps it, and custody lists the signature it made in the customer's name.
    const history = page.getByRole('list', { name: 'Custody payments' });
    await expect(history.getByText('Paid').isVisible()).resolves.toBe(true);
    await page.getByRole('button', { name: 'Show signatures' }).click();
    await page
      .getByRole('list', { name: 'Signatures custody made' })
      .getByText('Confirmed')
      .waitFor({ timeout: backgroundWorkDeadlineMs });
    await screenshot(page, 'wallet-custody-receipt');
  });

  it('shows a refund live: a notice, the payment’s receipt and the history list it, its screen has a verified log mark', async () => {
    const { page } = phone;
    expect(paid).toHaveLength(1);
    const paymentId = paid[0]!;
    const merchantName = demoParties.merchant.displayName;
    // Every inbox page from now on passes through here; a later refund receipt is broken on its way.
    let breakRefundReceipts = false;
    await page.route(isInbox, async (route) => {
      const response = await route.fetch({ timeout: requestDeadlineMs });
      if (!breakRefundReceipts || response.status() !== 200) return route.fulfill({ response });
      const body = (await response.json()) as { events: InboxEvent[] };
      for (const event of body.events)
        if (event.event === 'refund-receipt') event.forward = withBrokenSignature(event.forward);
      return route.fulfill({ response, json: body });
    });

    const before = await balanceOf(customer.account);
    const refund = await test.merchant.refund(paymentId, {
      amount: createAmount('EUR', 2_00n),
      reason: 'one cup spilt',
    });
    await page
      .getByTestId('custody-notice')
      .getByText(`${merchantName} refunded EUR 2.00 to you.`)
      .waitFor({ timeout: paymentSettledDeadlineMs });
    refundedMinor += 2_00n;
    expect(await balanceOf(customer.account)).toBe(before + 2_00n);
    // The payment's receipt, still on screen, lists it; the history has it first, above the payment.
    const result = page.getByTestId('custody-result');
    const refundsOfPayment = result.getByRole('list', { name: 'Refunds of this payment' });
    expect(await refundsOfPayment.getByRole('listitem').allTextContents()).toEqual([
      expect.stringContaining('+EUR 2.00'),
    ]);
    const history = page.getByRole('list', { name: 'Custody payments and refunds, newest first' });
    const entries = await history.getByRole('listitem').allTextContents();
    expect(entries).toHaveLength(2);
    expect(entries[0]).toContain(merchantName);
    expect(entries[0]).toContain('+EUR 2.00');
    expect(entries[0]).toContain('Refund');
    expect(entries[1]).toContain('EUR 7.25');
    expect(entries[1]).toContain('Paid');
    await screenshot(page, 'wallet-custody-refund-notice');

    // Its screen: the amount, the refund's id, and the refund's own log entry (asked of custody, which asks
    // the FSP with the key in its HSM), verified in the page and holding the receipt this phone verified.
    const evidenceAsked = page.waitForRequest((request) =>
      new URL(request.url()).pathname.endsWith(
        `/api/custody/payments/${paymentId}/refunds/${refund.refundId}/evidence`,
      ),
    );
    await history.getByTestId('history-refund').click();
    const receipt = page.getByTestId('refund-receipt');
    await receipt.waitFor();
    await evidenceAsked;
    expect(await receipt.textContent()).toContain('EUR 2.00');
    expect(await receipt.textContent()).toContain(`from ${merchantName}`);
    expect(await receipt.getByTestId('refund-facts').textContent()).toContain(refund.refundId.slice(0, 8));
    expect(await verifiedLogMark(receipt)).toMatch(/Recorded in the public log \(entry \d+, tree size \d+\)/);
    await screenshot(page, 'wallet-custody-refund');
    await receipt.getByRole('button', { name: 'Done' }).click();
    await result.waitFor();
    expect(await page.getByTestId('custody-notice').count()).toBe(0);

    // A second refund whose receipt is changed on its way: a warning with its code, never a refund shown or kept.
    breakRefundReceipts = true;
    await test.merchant.refund(paymentId, { amount: createAmount('EUR', 1_00n) });
    const warning = page.getByTestId('inbox-warning').filter({ hasText: 'refund receipt' });
    await warning.waitFor({ timeout: paymentSettledDeadlineMs });
    refundedMinor += 1_00n;
    await page.unrouteAll({ behavior: 'ignoreErrors' });
    expect(await warning.getByTestId('error').getAttribute('data-code')).toBe('CUSTODY_SOURCE_INVALID');
    expect(await warning.textContent()).toContain("bank's statement");
    expect(await page.getByTestId('custody-notice').count()).toBe(0);
    expect(await history.getByTestId('history-refund').count()).toBe(1);
    expect(await refundsOfPayment.getByRole('listitem').count()).toBe(1);
    // The bank paid it back all the same: the page refused only the message it could not verify.
    expect(await balanceOf(customer.account)).toBe(before + 3_00n);
    await screenshot(page, 'wallet-custody-refund-refused');
  });

  it('declines with the PIN: custody signs the decline and nothing moves', async () => {
    const { page } = phone;
    await page.getByTestId('custody-result').getByRole('button', { name: 'Done' }).click();
    const accepted = await requestPayment(customer.partyId, 5_00n, 'A bag of beans');
    const card = await requestCard(page, 'A bag of beans');
    await answer(card, pin, 'Decline');
    await page
      .getByTestId('custody-result')
      .getByRole('heading', { name: 'Declined' })
      .waitFor({ timeout: paymentSettledDeadlineMs });
    await screenshot(page, 'wallet-custody-declined');
    expect((await test.merchant.paymentStatus(accepted.paymentId)).status).toBe('declined');
    expect(await balanceOf(customer.account)).toBe(100_00n - 7_25n + refundedMinor);
    // After a reload the page rebuilds its history from what it stored, nothing asked again.
    await page.reload();
    const history = page.getByRole('list', { name: 'Custody payments' });
    await history.getByText('Declined').waitFor();
    await expect(history.getByText('Paid').isVisible()).resolves.toBe(true);
    // The refund the page verified is kept; the one it refused is not.
    await expect(history.getByTestId('history-refund').count()).resolves.toBe(1);
    await expect(page.getByTestId('custody-request').count()).resolves.toBe(0);
    await screenshot(page, 'wallet-custody-history');
  });

  it('opens every payment of the history again: the receipt with its log mark and refund, a decline with nothing paid', async () => {
    const { page } = phone;
    expect(paid).toHaveLength(1);
    const paymentId = paid[0]!;
    const merchantName = demoParties.merchant.displayName;
    const history = page.getByRole('list', { name: 'Custody payments and refunds, newest first' });
    // Each payment is a button named by its merchant, amount and status, reached with the keyboard.
    const paidEntry = history.getByRole('button', { name: `${merchantName}, EUR 7.25, Paid` });
    const declinedEntry = history.getByRole('button', { name: `${merchantName}, EUR 5.00, Declined` });
    const evidenceAsked = page.waitForRequest((request) =>
      new URL(request.url()).pathname.endsWith(`/api/custody/payments/${paymentId}/evidence`),
    );
    await paidEntry.focus();
    await page.keyboard.press('Enter');
    const receipt = page.getByTestId('custody-result');
    await receipt.getByRole('heading', { name: 'Paid' }).waitFor();
    await evidenceAsked;
    expect(await history.count()).toBe(0);
    const text = (await receipt.textContent()) ?? '';
    expect(text).toContain('EUR 7.25');
    expect(text).toContain('Two flat whites');
    expect(text).toContain('Receipt signed by the FSP and verified');
    const facts = (await receipt.getByTestId('custody-result-facts').textContent()) ?? '';
    expect(facts).toContain(`${merchantName} verified`);
    expect(facts).toMatch(/Level(Small|Medium|Large)/);
    expect(facts).toContain(paymentId.slice(0, 8));
    // The log mark is checked again in the page: the entry holds the receipt this phone kept.
    expect(await verifiedLogMark(receipt)).toMatch(/Recorded in the public log \(entry \d+, tree size \d+\)/);
    const refundsOfPayment = receipt.getByRole('list', { name: 'Refunds of this payment' });
    expect(await refundsOfPayment.getByRole('listitem').allTextContents()).toEqual([
      expect.stringContaining('+EUR 2.00'),
    ]);
    await screenshot(page, 'wallet-custody-history-receipt');

    // Its refund opens its own screen, and Done goes back to the payment, then to the history entry.
    await refundsOfPayment.getByRole('button').click();
    const refund = page.getByTestId('refund-receipt');
    expect(await refund.textContent()).toContain(`from ${merchantName}`);
    expect(await verifiedLogMark(refund)).toMatch(/Recorded in the public log/);
    await refund.getByRole('button', { name: 'Done' }).click();
    await receipt.getByRole('heading', { name: 'Paid' }).waitFor();
    await receipt.getByRole('button', { name: 'Done' }).click();
    await paidEntry.waitFor();
    await expect.poll(() => paidEntry.evaluate((element) => element === document.activeElement)).toBe(true);

    // A declined payment says what happened, and that nothing was paid: no receipt, no log mark, no refunds.
    await declinedEntry.click();
    const declined = page.getByTestId('custody-result');
    await declined.getByRole('heading', { name: 'Declined' }).waitFor();
    expect(await declined.textContent()).toContain('EUR 5.00');
    expect(await declined.getByTestId('nothing-paid').textContent()).toContain('Nothing was paid.');
    expect(await declined.getByTestId('log-mark').count()).toBe(0);
    expect(await declined.getByRole('heading', { name: 'Refunds' }).count()).toBe(0);
    await screenshot(page, 'wallet-custody-history-declined');
    await declined.getByRole('button', { name: 'Done' }).click();
    await declinedEntry.waitFor();

    // A phone that kept the payment without the receipt's text: the screen says so, no mark it cannot check.
    const key = `custody:payment:${paymentId}`;
    const kept = await page.evaluate(async (key) => {
      const database = await new Promise<IDBDatabase>((resolve, reject) => {
        const opening = indexedDB.open('mpay-wallet', 1);
        opening.onsuccess = () => resolve(opening.result);
        opening.onerror = () => reject(opening.error);
      });
      const values = () => database.transaction('values', 'readwrite').objectStore('values');
      const record = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const reading = values().get(key);
        reading.onsuccess = () => resolve(reading.result as Record<string, unknown>);
        reading.onerror = () => reject(reading.error);
      });
      const { statement, ...older } = record;
      await new Promise<void>((resolve, reject) => {
        const writing = values().put(older, key);
        writing.onsuccess = () => resolve();
        writing.onerror = () => reject(writing.error);
      });
      database.close();
      return typeof statement === 'string';
    }, key);
    expect(kept).toBe(true);
    await page.reload();
    await paidEntry.click();
    await receipt.getByRole('heading', { name: 'Paid' }).waitFor();
    expect(await receipt.getByTestId('receipt-missing').textContent()).toContain('not on this phone');
    expect(await receipt.getByTestId('log-mark').count()).toBe(0);
    expect(await refundsOfPayment.getByRole('listitem').count()).toBe(1);
  });
});

describe('custody’s evidence route, from a phone in Node', () => {
  /** The first event of `kind` for the payment in the phone's inbox, opened (custody's, then the FSP's signatures). */
  async function inboxEvent(wallet: CustodyWallet, kind: InboxEvent['event'], paymentId: string) {
    const event = await waitFor(
      async () =>
        (await wallet.events('0', 1_000)).find(
          (candidate) => candidate.event === kind && candidate.paymentId === paymentId,
        ),
      { deadlineMs: paymentSettledDeadlineMs, what: `the ${kind} of ${paymentId} in the phone's inbox` },
    );
    return wallet.openForward(event.forward);
  }

  it('gives a customer the evidence of what custody signed for them only; the file verifies under the log’s keys', async () => {
    expect(paid).toHaveLength(1);
    const customer = await openAccount('Ana');
    const custodyUrl = test.platform.urls.custody;
    const enrolment = await enrolWithCustody({
      custodyUrl,
      bankId: 'xbank',
      partyId: customer.partyId,
      code: customer.code,
      deviceId: 'phone-1',
      displayName: customer.name,
      pin: '9753',
    });
    const wallet = new CustodyWallet({
      custodyUrl,
      custody: await fetchCustodyTrust(custodyUrl),
      fsp: test.fsp,
      partyId: customer.partyId,
      deviceToken: enrolment.deviceToken,
    });
    // Vesna's payment, and one that does not exist: the same refusal.
    await expect(wallet.paymentEvidence(paid[0]!)).rejects.toMatchObject({ code: 'PAYMENT_UNKNOWN' });
    await expect(wallet.paymentEvidence(randomUUID())).rejects.toMatchObject({ code: 'PAYMENT_UNKNOWN' });

    const accepted = await requestPayment(customer.partyId, 2_50n, 'A croissant');
    const request = await inboxEvent(wallet, 'payment-request', accepted.paymentId);
    if (request.event !== 'payment-request') throw new Error('assertion failed: a payment request');
    await wallet.confirm(request.request, '9753');
    const receipt = await inboxEvent(wallet, 'receipt', accepted.paymentId);
    if (receipt.event !== 'receipt') throw new Error('assertion failed: a receipt');
    // Undefined (custody's 202) until the log proved the entry under a cosigned checkpoint.
    const evidence = await waitFor(() => wallet.paymentEvidence(accepted.paymentId), {
      deadlineMs: paymentSettledDeadlineMs,
      what: `the evidence of ${accepted.paymentId} through custody`,
    });
    const verified = await verifyReceipt(evidence, {
      logVerifierKey: test.platform.log.logVerifierKey,
      witnessVerifierKeys: [test.platform.log.witnessVerifierKey],
      witnessesRequired: 1,
    });
    expect(verified.receipt.transactionId).toBe(accepted.paymentId);
    expect(verified.receipt.messages).toContain(receipt.receipt.jws);
  });
});

describe('custody in the browser: wrong PINs', () => {
  it('refuses a wrong PIN (PIN_REFUSED), blocks at the fifth (PIN_BLOCKED), and then refuses the right one too', async () => {
    const { context, page } = await test.phone();
    try {
      const customer = await openAccount('Goran');
      await enrolThroughPage(page, customer, '5791');
      await requestPayment(customer.partyId, 3_00n, 'Parking, two hours');
      const card = await requestCard(page, 'Parking, two hours');
      const codes: (string | null)[] = [];
      for (let attempt = 0; attempt < 5; attempt += 1) {
        await answer(card, `000${attempt}`, 'Confirm');
        codes.push(await card.getByTestId('error').getAttribute('data-code'));
        if (attempt === 0) await screenshot(page, 'wallet-custody-pin-refused');
      }
      expect(codes).toEqual(['PIN_REFUSED', 'PIN_REFUSED', 'PIN_REFUSED', 'PIN_REFUSED', 'PIN_BLOCKED']);
      await expect(page.getByTestId('pin-blocked').isVisible()).resolves.toBe(true);
      // Custody's own alert reaches the phone through the inbox, verified as custody's.
      await page
        .getByTestId('pin-blocked')
        .getByText('Custody alerted this phone')
        .waitFor({ timeout: backgroundWorkDeadlineMs });
      await screenshot(page, 'wallet-custody-pin-blocked');
      await answer(card, '5791', 'Confirm');
      await expect(card.getByTestId('error').getAttribute('data-code')).resolves.toBe('PIN_BLOCKED');
      expect(await balanceOf(customer.account)).toBe(100_00n);
    } finally {
      await context.close();
    }
  });
});
