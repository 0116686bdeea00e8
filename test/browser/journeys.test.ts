import { bankOperator, demoParties, type OperatorClient } from '@mpay/cli';
import { requestJson } from '@mpay/http-client';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentSettledDeadlineMs, requestDeadlineMs } from '../support/deadlines.ts';
import { expectUsableScreen } from './accessibility.ts';
import { type BrowserPlatform, startBrowserPlatform } from './harness.ts';

/**
 * Whole journeys across the pages, each party on its own browser profile: a
 * customer's phone (the wallet), the shop's counter (the till), another phone
 * (the shop). The till's QR code reaches the wallet as a camera would see it:
 * a picture of the till's screen, decoded in the wallet page.
 */
let test: BrowserPlatform;
let wallet: Page;
let operator: OperatorClient;

const customer = {
  id: 'vera.petrova@person.xbank',
  displayName: 'Vera Petrova',
  msisdn: '+38970333444',
  account: crypto.randomUUID(),
  pin: '5791',
} as const;

async function customerBalance(): Promise<bigint> {
  const { balance } = await operator.get<{ balance: string }>(`/accounts/${customer.account}`);
  return BigInt(balance);
}

/** The customer's phone set up through the wallet page, unlocked and listening. */
async function setUpWallet(): Promise<void> {
  const invitation = await operator.post<{ code: string }>('/enrolment-codes', {
    partyId: customer.id,
    accountIds: [customer.account],
  });
  await wallet.goto('/wallet/#ims');
  await wallet.getByRole('heading', { name: 'Set up this phone' }).waitFor();
  await wallet.getByLabel('Your name').fill(customer.displayName);
  await wallet.getByLabel('Your party id').fill(customer.id);
  await wallet.getByLabel('Your bank').selectOption('xbank');
  await wallet.getByLabel('Enrolment code').fill(invitation.code);
  await wallet.getByLabel('New PIN', { exact: true }).fill(customer.pin);
  await wallet.getByLabel('New PIN again').fill(customer.pin);
  await expectUsableScreen(wallet, 'wallet set-up');
  await wallet.getByRole('button', { name: 'Set up wallet' }).click();
  // The bank's second factor is shown once, for an authenticator app, and not kept on the phone.
  await wallet.getByRole('button', { name: 'I have added it' }).click();
  await wallet.getByRole('heading', { name: 'Unlock your wallet' }).waitFor({ timeout: requestDeadlineMs });
  // The FSP's operator links the customer's phone number (the shop takes payments by number).
  await requestJson(`${test.platform.urls.gateway}/admin/aliases`, {
    body: JSON.stringify({ alias: customer.msisdn, partyId: customer.id }),
    contentType: 'application/json',
    headers: {
      authorization: `Bearer ${test.platform.operatorToken}`,
      'idempotency-key': `alias-${customer.msisdn}`,
    },
  });
  await wallet.getByLabel('PIN', { exact: true }).fill(customer.pin);
  await wallet.getByRole('button', { name: 'Unlock' }).click();
  await wallet.getByTestId('feed-status').waitFor({ timeout: requestDeadlineMs });
}

/** Pays the request on the wallet's screen with the PIN; the receipt's public-log mark must verify. */
async function payOnWallet(amount: string): Promise<void> {
  await wallet.getByTestId('payment-request').waitFor({ timeout: requestDeadlineMs });
  expect(await wallet.getByTestId('payment-request').textContent()).toContain(amount);
  await expectUsableScreen(wallet, 'wallet payment request');
  await wallet.getByLabel('PIN', { exact: true }).fill(customer.pin);
  await wallet.getByRole('button', { name: `Pay ${amount}` }).click();
  await wallet.getByRole('heading', { name: 'Paid' }).waitFor({ timeout: paymentSettledDeadlineMs });
  await wallet
    .locator('[data-testid="log-mark"][data-state="verified"]')
    .waitFor({ timeout: paymentSettledDeadlineMs });
  await wallet.getByRole('button', { name: 'Done' }).click();
}

beforeAll(async () => {
  test = await startBrowserPlatform();
  const bank = test.platform.banks.find((candidate) => candidate.id === 'xbank');
  if (bank === undefined) throw new Error('assertion failed: xbank runs');
  operator = bankOperator(bank, bank.operatorKey);
  await operator.post('/accounts', {
    id: customer.account,
    owner: customer.id,
    currency: 'EUR',
    kind: 'customer',
  });
  await operator.post('/transfers', {
    id: crypto.randomUUID(),
    debitAccountId: demoParties.bank.fundingAccount,
    creditAccountId: customer.account,
    amount: '20000',
    currency: 'EUR',
    reference: 'opening balance',
  });
  ({ page: wallet } = await test.phone());
  wallet.setDefaultTimeout(requestDeadlineMs);
  await setUpWallet();
});
afterAll(() => test?.close());

describe('journeys across the pages', () => {
  it('pays at the till: the wallet reads the QR code on the till’s screen, the till sees it paid', async () => {
    const before = { customer: await customerBalance(), merchant: (await test.balances()).merchant };
    const { page: till } = await test.desk();
    till.setDefaultTimeout(requestDeadlineMs);
    await till.goto('/till/');
    await till.getByLabel('Merchant token').fill(test.platform.merchantShopToken);
    await till.getByRole('button', { name: 'Sign in' }).click();
    await till.getByRole('heading', { name: 'New sale' }).waitFor();
    await till.getByLabel('Amount (EUR)').fill('6.40');
    await till.getByRole('button', { name: 'Show QR code' }).click();
    const code = till.getByRole('img', { name: 'QR code to pay EUR 6.40 to Merkur Trade' });
    await code.waitFor();

    // The phone's camera: a picture of the till's screen.
    const picture = await code.screenshot();
    await wallet.getByRole('button', { name: 'Till QR' }).click();
    await wallet.getByLabel('Take a photo of the QR code').setInputFiles({
      name: 'till.png',
      mimeType: 'image/png',
      buffer: picture,
    });
    await wallet.getByTestId('till-offer').or(wallet.getByRole('alert')).first().waitFor();
    expect(await wallet.getByRole('alert').count(), await wallet.locator('main').innerText()).toBe(0);
    expect(await wallet.getByTestId('till-offer').textContent()).toContain('EUR 6.40');
    await wallet.getByRole('button', { name: 'Ask the till for EUR 6.40' }).click();
    await payOnWallet('EUR 6.40');

    await till.getByRole('region', { name: 'Receipt' }).waitFor({ timeout: paymentSettledDeadlineMs });
    expect(await till.getByTestId('receipt').textContent()).toContain(customer.id);
    expect(await customerBalance()).toBe(before.customer - 6_40n);
    expect((await test.balances()).merchant).toBe(before.merchant + 6_40n);
  });

  it('pays in the shop: checkout by phone number on one phone, the wallet on another confirms', async () => {
    const before = await customerBalance();
    const { page: shop } = await test.phone();
    shop.setDefaultTimeout(requestDeadlineMs);
    await shop.goto('/shop/');
    await shop.getByRole('button', { name: 'Add Enamel mug to the cart' }).click();
    await shop.getByRole('button', { name: 'Check out' }).click();
    await shop.getByLabel('Phone number').fill(customer.msisdn);
    const pay = shop.getByRole('button', { name: /^Pay EUR / });
    const amount = ((await pay.textContent()) ?? '').replace(/^Pay /, '').trim();
    await pay.click();
    await shop.getByRole('heading', { name: 'Waiting for your payment' }).waitFor();

    await wallet.getByRole('button', { name: 'Requests' }).click();
    const item = wallet.getByRole('button', { name: `Review ${amount} to Merkur Trade` });
    await item.waitFor();
    await item.click();
    await payOnWallet(amount);

    await shop
      .getByRole('heading', { name: 'Paid', exact: true })
      .waitFor({ timeout: paymentSettledDeadlineMs });
    const paidMinor = BigInt(amount.replace(/[^0-9]/g, ''));
    expect(await customerBalance()).toBe(before - paidMinor);
  });
});
