import { randomUUID } from 'node:crypto';
import { bankOperator, demoParties, type RunningBank } from '@mpay/cli';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsOf, registrationMail, uniqueMsisdn } from '../e2e/macro-support.ts';
import { backgroundWorkDeadlineMs, paymentSettledDeadlineMs, waitFor } from '../support/deadlines.ts';
import { type BrowserPlatform, screenshot, startBrowserPlatform } from './harness.ts';

/**
 * The wallet's macro section (seed 002) in Chromium at a phone's size: a new
 * customer of xbank enrols the phone at the bank with the bank's one-time
 * code, registers at the MPASP, reads the client id and mPIN from the mail
 * the platform's embedded mail server received and types them in; then pays
 * the demo merchant at ybank: the merchant's certified name, step 1, the
 * mPIN that opens the MPASP's secret question, the answer, and the approval
 * on the client bank's own screen, to the bank's Pay_Confirm. Failure paths
 * end on their stable code with no money moved.
 */
let test: BrowserPlatform;
let xbank: RunningBank;

beforeAll(async () => {
  test = await startBrowserPlatform();
  xbank = test.platform.banks.find((bank) => bank.id === 'xbank') as RunningBank;
});
afterAll(() => test?.close());

const secretQuestion = 'Name of your first teacher?';
const secretAnswer = 'Marija Petrovska';

interface MacroCustomer {
  readonly partyId: string;
  readonly account: string;
  readonly code: string;
  readonly email: string;
  readonly msisdn: string;
}

/** A new xbank customer holding `balanceMinor`, with the one-time enrolment code the bank's operator issues. */
async function openAccount(name: string, balanceMinor: bigint): Promise<MacroCustomer> {
  const local = `${name}-${randomUUID().slice(0, 8)}`;
  const partyId = `${local}@person.xbank`;
  const account = randomUUID();
  const operator = bankOperator(xbank, xbank.operatorKey);
  await operator.post('/accounts', { id: account, owner: partyId, currency: 'EUR', kind: 'customer' });
  await operator.post('/transfers', {
    id: randomUUID(),
    debitAccountId: demoParties.bank.fundingAccount,
    creditAccountId: account,
    amount: balanceMinor.toString(),
    currency: 'EUR',
    reference: 'opening balance',
  });
  const { code } = await operator.post<{ code: string }>('/enrolment-codes', {
    partyId,
    accountIds: [account],
  });
  return { partyId, account, code, email: `${local}@mail.example`, msisdn: uniqueMsisdn() };
}

async function balanceOf(account: string): Promise<bigint> {
  const { balance } = await bankOperator(xbank, xbank.operatorKey).get<{ balance: string }>(
    `/accounts/${account}`,
  );
  return BigInt(balance);
}

/** Setup through the page, as the person does it; the mail read where it landed. Returns the mailed mPIN. */
async function setUpThroughPage(page: Page, customer: MacroCustomer, shots: boolean): Promise<string> {
  await page.goto('/wallet/#macro');
  await page.getByLabel('Your bank', { exact: true }).selectOption('xbank');
  await page.getByLabel('Party id', { exact: true }).fill(customer.partyId);
  await page.getByLabel('Enrolment code', { exact: true }).fill(customer.code);
  if (shots) await screenshot(page, 'wallet-macro-bank');
  await page.getByRole('button', { name: 'Enrol this phone' }).click();

  await page.getByRole('heading', { name: 'Register for macro-payments' }).waitFor();
  await page.getByLabel('Your name', { exact: true }).fill('Ana Kovac');
  await page.getByLabel('Mobile number', { exact: true }).fill(customer.msisdn);
  await page.getByLabel('E-mail', { exact: true }).fill(customer.email);
  await page.getByLabel('Secret question', { exact: true }).fill(secretQuestion);
  await page.getByLabel('Secret answer', { exact: true }).fill(secretAnswer);
  if (shots) await screenshot(page, 'wallet-macro-register');
  await page.getByRole('button', { name: 'Register' }).click();

  await page.getByRole('heading', { name: 'Check your mail' }).waitFor();
  const { clientId, mPin } = credentialsOf(await registrationMail(test, customer.email));
  await page.getByLabel('Client id', { exact: true }).fill(clientId);
  await page.getByLabel('mPIN', { exact: true }).fill(mPin);
  if (shots) await screenshot(page, 'wallet-macro-mail');
  await page.getByRole('button', { name: 'Check and continue' }).click();
  await page.getByRole('heading', { name: 'New macro-payment' }).waitFor();
  await expect(page.getByText(clientId).isVisible()).resolves.toBe(true);
  return mPin;
}

/** Steps 1–3 through the page: the merchant, the amount, step 1 sent, the question opened with the mPIN. */
async function payUpToQuestion(page: Page, amount: string, mPin: string, shots: boolean) {
  await page.getByLabel('Merchant id', { exact: true }).fill(demoParties.merchant.id);
  await page.getByLabel('Amount (EUR)', { exact: true }).fill(amount);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Check the payment' }).waitFor();
  await expect(page.getByText(demoParties.merchant.displayName).first().isVisible()).resolves.toBe(true);
  if (shots) await screenshot(page, 'wallet-macro-review');
  await page.getByRole('button', { name: 'Send to the MPASP' }).click();
  await page.getByRole('heading', { name: /Open the MPASP/ }).waitFor();
  if (shots) await screenshot(page, 'wallet-macro-mpin');
  await page.getByLabel('mPIN', { exact: true }).fill(mPin);
  await page.getByRole('button', { name: 'Open the question' }).click();
  await expect(page.getByTestId('secret-question').textContent()).resolves.toBe(secretQuestion);
}

describe('a macro payment in the browser, the secret question and the approval at the client bank', () => {
  let phone: { context: BrowserContext; page: Page };
  let customer: MacroCustomer;
  let mPin: string;

  beforeAll(async () => {
    phone = await test.phone();
    customer = await openAccount('ana', 1_000_00n);
  });
  afterAll(() => phone?.context.close());

  it('registers (client id and mPIN by mail), pays with the secret question, and is approved at the bank', async () => {
    const { page } = phone;
    mPin = await setUpThroughPage(page, customer, true);
    await screenshot(page, 'wallet-macro-home');
    const merchantBefore = (await test.balances()).merchant;

    await payUpToQuestion(page, '129.90', mPin, true);
    await screenshot(page, 'wallet-macro-question');
    await page.getByLabel('Your answer', { exact: true }).fill(secretAnswer);
    await page.getByRole('button', { name: 'Send the answer' }).click();

    // Step 6: the client bank's own screen, with what it signed and sealed to this phone.
    const approval = page.getByTestId('bank-approval');
    await approval.waitFor({ timeout: backgroundWorkDeadlineMs });
    await expect(approval.textContent()).resolves.toContain('EUR 129.90');
    await expect(approval.textContent()).resolves.toContain(demoParties.merchant.displayName);
    // Asked, not approved: nothing moved.
    expect(await balanceOf(customer.account)).toBe(1_000_00n);
    await screenshot(page, 'wallet-macro-bank-approval');
    await approval.getByRole('button', { name: 'Approve payment' }).click();

    const result = page.getByTestId('macro-result');
    await result.getByRole('heading', { name: 'Paid' }).waitFor({ timeout: paymentSettledDeadlineMs });
    await expect(result.textContent()).resolves.toContain('Pay_Confirm signed by xbank');
    await screenshot(page, 'wallet-macro-paid');
    expect(await balanceOf(customer.account)).toBe(1_000_00n - 129_90n);
    await waitFor(async () => (await test.balances()).merchant === merchantBefore + 129_90n, {
      deadlineMs: paymentSettledDeadlineMs,
      what: 'the merchant at ybank to be credited 129.90',
    });
    const history = page.getByRole('list', { name: 'Macro payments' });
    await expect(history.getByText('Paid').isVisible()).resolves.toBe(true);
  });

  it('refuses a wrong mPIN and then a wrong secret answer (failure_msg1): the payment ends, nothing moves', async () => {
    const { page } = phone;
    await page.getByRole('button', { name: 'New payment' }).click();
    const wrongPin = mPin === '000000' ? '111111' : '000000';
    await page.getByLabel('Merchant id', { exact: true }).fill(demoParties.merchant.id);
    await page.getByLabel('Amount (EUR)', { exact: true }).fill('20.00');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Send to the MPASP' }).click();
    await page.getByLabel('mPIN', { exact: true }).fill(wrongPin);
    await page.getByRole('button', { name: 'Open the question' }).click();
    await expect
      .poll(() => page.getByTestId('error').getAttribute('data-code'), { timeout: backgroundWorkDeadlineMs })
      .toBe('MACRO_MPIN_REFUSED');
    await screenshot(page, 'wallet-macro-mpin-refused');
    await page.getByLabel('mPIN', { exact: true }).fill(mPin);
    await page.getByRole('button', { name: 'Open the question' }).click();
    await expect(page.getByTestId('secret-question').textContent()).resolves.toBe(secretQuestion);

    await page.getByLabel('Your answer', { exact: true }).fill('Elena Ilievska');
    await page.getByRole('button', { name: 'Send the answer' }).click();
    const result = page.getByTestId('macro-result');
    await result.getByRole('heading', { name: 'Not paid' }).waitFor({ timeout: backgroundWorkDeadlineMs });
    await expect(result.getByTestId('error').getAttribute('data-code')).resolves.toBe(
      'AUTHENTICATION_FAILED',
    );
    await screenshot(page, 'wallet-macro-wrong-answer');
    expect(await balanceOf(customer.account)).toBe(1_000_00n - 129_90n);
  });

  it('keeps a payment a reload cut off before the bank was asked as interrupted: nothing is paid', async () => {
    const { page } = phone;
    const before = await balanceOf(customer.account);
    await page.getByRole('button', { name: 'New payment' }).click();
    await payUpToQuestion(page, '12.00', mPin, false);
    await page.reload();
    await page.getByRole('heading', { name: 'New macro-payment' }).waitFor();
    const history = page.getByRole('list', { name: 'Macro payments' });
    const entry = history.getByRole('listitem').filter({ hasText: 'EUR 12.00' });
    await entry.getByTestId('macro-interrupted').waitFor();
    await expect(entry.textContent()).resolves.toContain('Interrupted');
    await expect(entry.textContent()).resolves.toContain('nothing was paid');
    // Not offered to continue, and no money moved.
    await expect(page.getByRole('list', { name: 'Payments to finish' }).count()).resolves.toBe(0);
    expect(await balanceOf(customer.account)).toBe(before);
    await screenshot(page, 'wallet-macro-interrupted');
  });
});

describe('a macro payment the client bank refuses for the balance', () => {
  it('shows failure_msg2 (INSUFFICIENT_FUNDS) from the MPASP, with no approval asked and nothing moved', async () => {
    const { context, page } = await test.phone();
    try {
      const customer = await openAccount('bora', 50_00n);
      const mPin = await setUpThroughPage(page, customer, false);
      await payUpToQuestion(page, '129.90', mPin, false);
      await page.getByLabel('Your answer', { exact: true }).fill(secretAnswer);
      await page.getByRole('button', { name: 'Send the answer' }).click();
      const result = page.getByTestId('macro-result');
      await result.getByRole('heading', { name: 'Not paid' }).waitFor({ timeout: paymentSettledDeadlineMs });
      await expect(result.getByTestId('error').getAttribute('data-code')).resolves.toBe('INSUFFICIENT_FUNDS');
      await expect(page.getByTestId('bank-approval').count()).resolves.toBe(0);
      await screenshot(page, 'wallet-macro-insufficient-funds');
      expect(await balanceOf(customer.account)).toBe(50_00n);
    } finally {
      await context.close();
    }
  });
});
