import { demoParties } from '@mpay/cli';
import { defaultGatewayLimits } from '@mpay/gateway';
import type { PaymentRequestView, Wallet } from '@mpay/sdk';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backgroundWorkDeadlineMs,
  paymentSettledDeadlineMs,
  requestDeadlineMs,
} from '../support/deadlines.ts';
import { type BrowserPlatform, screenshot, startBrowserPlatform } from './harness.ts';

/**
 * The shop page (iMS §2.1, mobile e-commerce) in Chromium at a phone's
 * size, against the whole platform: a customer fills a cart, checks out
 * with John's phone number, the customer's Node wallet confirms (or
 * declines) the request that reaches the phone, and the page follows the
 * order live to paid; the staff ship it from the till page, and the
 * customer's page shows it shipped.
 */
let test: BrowserPlatform;
const { customer, merchant } = demoParties;
/** The gateway's clock runs ahead by this much (the last test lets a request expire). */
let gatewayOffsetMs = 0;

beforeAll(async () => {
  test = await startBrowserPlatform({ gatewayClock: () => new Date(Date.now() + gatewayOffsetMs) });
});
afterAll(async () => {
  await test?.close();
});

/** The payment request the customer's phone receives for this amount (EUR value, e.g. '19.00'). */
async function requestOnPhone(
  wallet: Wallet,
  value: string,
  start: () => Promise<void>,
): Promise<PaymentRequestView> {
  const abort = new AbortController();
  const requests = wallet.paymentRequests(customer.pin, abort.signal);
  const first = requests.next();
  // Aborted when `start` fails: that failure is the one to report.
  first.catch(() => undefined);
  try {
    await start();
    let next = await first;
    while (!next.done && next.value.amount.value !== value) next = await requests.next();
    if (next.done) throw new Error(`no payment request of EUR ${value} reached the phone`);
    return next.value;
  } finally {
    abort.abort();
  }
}

async function fillCart(page: Page): Promise<void> {
  await page.goto('/shop/');
  await page.getByRole('button', { name: 'Add Espresso beans 250 g to the cart' }).click();
  await page
    .getByRole('button', { name: 'One more Espresso beans 250 g' })
    .waitFor({ timeout: requestDeadlineMs });
  await page.getByRole('button', { name: 'Add Enamel mug to the cart' }).click();
  await page.getByRole('button', { name: 'One more Enamel mug' }).click();
  await page.getByRole('button', { name: 'One more Enamel mug' }).waitFor({ timeout: requestDeadlineMs });
  await expectText(page, 'cart-total', 'EUR 25.50');
  await page.getByRole('button', { name: 'One Enamel mug less' }).click();
  await expectText(page, 'cart-total', 'EUR 19.00');
}

/** Waits until the element with this test id reads exactly `text` (the page updates after the shop answers). */
async function expectText(page: Page, testId: string, text: string): Promise<void> {
  await page
    .getByTestId(testId)
    .filter({ hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) })
    .waitFor({ timeout: requestDeadlineMs });
}

async function checkOut(page: Page, phone: string, total: string): Promise<void> {
  await page.getByRole('button', { name: 'Check out' }).click();
  await page.getByLabel('Phone number').fill(phone);
  await page.getByRole('button', { name: `Pay ${total}` }).click();
}

/** The staff's till page, Orders: ship the one paid order. */
async function shipFromTill(): Promise<void> {
  const { context, page } = await test.phone();
  await page.goto('/till/#orders');
  await page.getByLabel('Merchant token').fill(test.platform.merchantShopToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const order = page.getByTestId('order').filter({ hasText: 'Paid: to ship' });
  await order.waitFor({ timeout: requestDeadlineMs });
  await screenshot(page, 'till-orders');
  await order.getByRole('button', { name: /^Ship order / }).click();
  await page.getByTestId('order').filter({ hasText: 'Shipped' }).waitFor({ timeout: requestDeadlineMs });
  await screenshot(page, 'till-orders-shipped');
  await context.close();
}

describe('the shop page', () => {
  it("a customer shops on a phone, pays with John's number, and follows the order to paid and shipped", async () => {
    const before = await test.balances();
    const { context, page } = await test.phone();
    await fillCart(page);
    await page.getByRole('button', { name: 'Add Moka pot, 3 cups to the cart' }).click();
    await expectText(page, 'cart-total', 'EUR 48.00');
    await screenshot(page, 'shop-cart');
    await page.getByRole('button', { name: 'Remove Moka pot, 3 cups from the cart' }).click();
    await expectText(page, 'cart-total', 'EUR 19.00');

    const wallet = test.wallet();
    const view = await requestOnPhone(wallet, '19.00', async () => {
      await page.getByRole('button', { name: 'Check out' }).click();
      await page.getByLabel('Phone number').fill(customer.msisdn);
      await screenshot(page, 'shop-checkout');
      await page.getByRole('button', { name: 'Pay EUR 19.00' }).click();
      await page
        .getByRole('heading', { name: 'Waiting for your payment' })
        .waitFor({ timeout: requestDeadlineMs });
      await screenshot(page, 'shop-awaiting-payment');
    });
    expect(view.merchant).toEqual({ id: merchant.id, name: merchant.displayName });
    expect(view.description).toMatch(/^Order [0-9a-f]{8}: 1 × Espresso beans 250 g, 1 × Enamel mug$/);
    await wallet.confirm(view, customer.pin);

    // The page shows paid once the shop has the FSP's signed confirmation: no reload, no timer of its own.
    await page
      .getByRole('heading', { name: 'Paid', exact: true })
      .waitFor({ timeout: paymentSettledDeadlineMs });
    await screenshot(page, 'shop-paid');
    const after = await test.balances();
    expect(after.customer).toBe(before.customer - 19_00n);
    expect(after.merchant).toBe(before.merchant + 19_00n);

    await shipFromTill();
    await page
      .getByRole('heading', { name: 'Shipped', exact: true })
      .waitFor({ timeout: backgroundWorkDeadlineMs });
    await screenshot(page, 'shop-shipped');
    expect(await test.balances()).toEqual(after);
    await context.close();
  });

  it('shows a declined payment as declined, and nothing is paid', async () => {
    const before = await test.balances();
    const { context, page } = await test.phone();
    await fillCart(page);
    const wallet = test.wallet();
    const view = await requestOnPhone(wallet, '19.00', () => checkOut(page, customer.msisdn, 'EUR 19.00'));
    await wallet.decline(view, customer.pin);
    await page.getByRole('heading', { name: 'Not paid' }).waitFor({ timeout: paymentSettledDeadlineMs });
    expect(await page.getByTestId('error').getAttribute('data-code')).toBe('PAYMENT_DECLINED');
    await page.getByText('Payment declined').waitFor({ timeout: requestDeadlineMs });
    await screenshot(page, 'shop-declined');
    expect(await test.balances()).toEqual(before);
    await context.close();
  });

  it('says so when no wallet has the phone number, and refuses a number that is not one', async () => {
    const before = await test.balances();
    const { context, page } = await test.phone();
    await fillCart(page);
    await page.getByRole('button', { name: 'Check out' }).click();
    await page.getByLabel('Phone number').fill('070 123');
    await page.getByRole('button', { name: 'Pay EUR 19.00' }).click();
    expect(await page.getByTestId('error').getAttribute('data-code')).toBe('PARTY_ID_INVALID');
    await screenshot(page, 'shop-phone-invalid');
    await page.getByLabel('Phone number').fill('+38970999999');
    await page.getByRole('button', { name: 'Pay EUR 19.00' }).click();
    await page.getByRole('heading', { name: 'Not paid' }).waitFor({ timeout: backgroundWorkDeadlineMs });
    expect(await page.getByTestId('error').getAttribute('data-code')).toBe('PARTY_UNKNOWN');
    await screenshot(page, 'shop-phone-unknown');
    expect(await test.balances()).toEqual(before);
    // Shop again: a fresh, empty cart.
    await page.getByRole('button', { name: 'Shop again' }).click();
    await page.getByText('Your cart is empty').waitFor({ timeout: requestDeadlineMs });
    await screenshot(page, 'shop-catalogue');
    await context.close();
  });

  // Last: the gateway's clock stays ahead afterwards.
  it('shows a request nobody answered as expired, and nothing is paid', async () => {
    const before = await test.balances();
    const { context, page } = await test.phone();
    await fillCart(page);
    const wallet = test.wallet();
    await requestOnPhone(wallet, '19.00', () => checkOut(page, customer.msisdn, 'EUR 19.00'));
    await page
      .getByRole('heading', { name: 'Waiting for your payment' })
      .waitFor({ timeout: requestDeadlineMs });
    gatewayOffsetMs += (defaultGatewayLimits.paymentExpirySeconds + 1) * 1000;
    await test.platform.gateway.runBackgroundOnce();
    await page.getByRole('heading', { name: 'Not paid' }).waitFor({ timeout: paymentSettledDeadlineMs });
    expect(await page.getByTestId('error').getAttribute('data-code')).toBe('PAYMENT_EXPIRED');
    await screenshot(page, 'shop-expired');
    expect(await test.balances()).toEqual(before);
    await context.close();
  });
});
