import { demoParties } from '@mpay/cli';
import { parseTillCode } from '@mpay/protocol';
import jsQR from 'jsqr';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode } from '../e2e/harness.ts';
import {
  backgroundWorkDeadlineMs,
  paymentSettledDeadlineMs,
  requestDeadlineMs,
  waitFor,
} from '../support/deadlines.ts';
import { type BrowserPlatform, screenshot, startBrowserPlatform } from './harness.ts';

/**
 * The till page (iMS §2.2, m-trade) in Chromium at a phone's size, against
 * the whole platform: the staff sign in with the shop's merchant token,
 * enter a sale, the page shows the code the shop signed as a QR image; the
 * test reads that image back as a camera would (the pixels on screen,
 * decoded with jsQR) and the customer's Node wallet reads, claims and
 * confirms it; the page follows the sale live to paid; then the staff
 * refund part of it and watch the refund complete.
 */
let test: BrowserPlatform;
const { customer, merchant } = demoParties;

beforeAll(async () => {
  test = await startBrowserPlatform();
});
afterAll(async () => {
  await test?.close();
});

async function signIn(page: Page): Promise<void> {
  await page.goto('/till/');
  await page.getByLabel('Merchant token').fill(test.platform.merchantShopToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'New sale' }).waitFor({ timeout: requestDeadlineMs });
}

/**
 * The QR image as it is on the screen (an element screenshot, so CSS scaling
 * and the device's pixel ratio count), decoded with jsQR: what a customer's
 * camera would read. The PNG is turned into pixels by the page's own canvas.
 */
async function readQrOnScreen(page: Page, image: Locator): Promise<string> {
  const png = await image.screenshot();
  const pixels = await page.evaluate(async (base64: string) => {
    const picture = new Image();
    picture.src = `data:image/png;base64,${base64}`;
    await picture.decode();
    const canvas = document.createElement('canvas');
    canvas.width = picture.naturalWidth;
    canvas.height = picture.naturalHeight;
    const drawing = canvas.getContext('2d');
    if (drawing === null) throw new Error('no 2d canvas');
    drawing.drawImage(picture, 0, 0);
    const data = drawing.getImageData(0, 0, canvas.width, canvas.height).data;
    let binary = '';
    for (let offset = 0; offset < data.length; offset += 0x8000)
      binary += String.fromCharCode(...data.subarray(offset, offset + 0x8000));
    return { width: canvas.width, height: canvas.height, rgba: btoa(binary) };
  }, png.toString('base64'));
  const decoded = jsQR(
    new Uint8ClampedArray(Buffer.from(pixels.rgba, 'base64')),
    pixels.width,
    pixels.height,
  );
  if (decoded === null) throw new Error('the QR code on the screen does not decode');
  return decoded.data;
}

describe('the till page', () => {
  it('refuses a wrong merchant token and keeps the right one in this tab only', async () => {
    const { context, page } = await test.phone();
    await page.goto('/till/');
    await page.getByRole('heading', { name: 'Staff sign-in' }).waitFor({ timeout: requestDeadlineMs });
    await screenshot(page, 'till-sign-in');
    await page.getByLabel('Merchant token').fill('not-the-merchant-token-0123456789abcdefghij');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const refused = page.getByTestId('error');
    await refused.waitFor({ timeout: requestDeadlineMs });
    expect(await refused.getAttribute('data-code')).toBe('AUTHENTICATION_FAILED');
    await screenshot(page, 'till-sign-in-refused');
    await signIn(page);
    const stored = await page.evaluate(() => ({
      session: Object.keys(sessionStorage),
      local: Object.keys(localStorage),
      cookies: document.cookie,
    }));
    expect(stored).toEqual({ session: ['mpay-till:merchant-token'], local: [], cookies: '' });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Staff sign-in' }).waitFor({ timeout: requestDeadlineMs });
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await context.close();
  });

  it('takes a payment by QR code: claimed and paid live, the receipt, then a partial refund to completion', async () => {
    const before = await test.balances();
    const { context, page } = await test.phone();
    await signIn(page);
    await page.getByLabel('Amount (EUR)').fill('7.80');
    await page.getByLabel('Reference (optional)').fill('Table 4: 2 coffees');
    await screenshot(page, 'till-new-sale');
    await page.getByRole('button', { name: 'Show QR code' }).click();
    const image = page.getByRole('img', { name: 'QR code to pay EUR 7.80 to Merkur Trade' });
    await image.waitFor({ timeout: requestDeadlineMs });
    await screenshot(page, 'till-qr');

    // The customer's camera: the code on the screen is the merchant's signed till code for this sale.
    const payload = await readQrOnScreen(page, image);
    const code = parseTillCode(payload);
    expect(code.amount).toEqual({ currency: 'EUR', minor: 7_80n });
    expect(code.merchantId).toBe(merchant.id);
    const wallet = test.wallet();
    const offer = await wallet.readTillQr(payload);
    expect(offer).toMatchObject({
      merchantId: merchant.id,
      merchantName: merchant.displayName,
      amount: { currency: 'EUR', minor: 7_80n },
      transactionId: code.transactionId,
    });
    await wallet.unlock(customer.pin);
    const abort = new AbortController();
    const request = wallet.tillPaymentRequest(offer, customer.pin, abort.signal);
    try {
      await wallet.claimTill(offer);
      // The FSP tells the shop who claimed; the shop asks that customer; the till shows it without a reload.
      await page
        .getByRole('heading', { name: 'Claimed', exact: true })
        .waitFor({ timeout: backgroundWorkDeadlineMs });
      await page.getByText(`Claimed by ${customer.id}`).waitFor({ timeout: requestDeadlineMs });
      expect(await image.count()).toBe(0);
      await screenshot(page, 'till-claimed');
      const view = await request;
      expect(wallet.matchesOffer(view, offer)).toBe(true);
      expect(view.procedure).toBe('m-trade');
      const receipt = await wallet.confirm(view, customer.pin);
      expect((receipt.payload.receipt as { status: string }).status).toBe('completed');
    } finally {
      abort.abort();
    }
    const paid = page.getByRole('region', { name: 'Receipt' });
    await paid.waitFor({ timeout: paymentSettledDeadlineMs });
    const facts = await paid.getByTestId('receipt').textContent();
    expect(facts ?? '').toContain('Table 4: 2 coffees');
    expect(facts ?? '').toContain(customer.id);
    expect(facts ?? '').toContain(code.transactionId);
    expect(await paid.getByText('EUR 7.80').count()).toBe(1);
    await screenshot(page, 'till-receipt');
    const afterPayment = await test.balances();
    expect(afterPayment.customer).toBe(before.customer - 7_80n);
    expect(afterPayment.merchant).toBe(before.merchant + 7_80n);

    // Printed, only the receipt remains (the print stylesheet), without its buttons.
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('.page-header').isVisible()).toBe(false);
    expect(await page.getByRole('button', { name: 'Print receipt' }).isVisible()).toBe(false);
    expect(await paid.isVisible()).toBe(true);
    await screenshot(page, 'till-receipt-print');
    await page.emulateMedia({ media: 'screen' });

    // The refund desk: the sale is listed; refund EUR 3.00 of it.
    await page.getByRole('button', { name: 'Refunds' }).click();
    const item = page.getByTestId('paid-payment').filter({ hasText: 'Table 4: 2 coffees' });
    await item.waitFor({ timeout: requestDeadlineMs });
    await screenshot(page, 'till-refunds');
    await item.getByRole('button', { name: 'Refund…' }).click();
    const amount = item.getByLabel('Amount to refund (EUR)');
    expect(await amount.inputValue()).toBe('7.80');
    await amount.fill('3');
    await item.getByLabel('Reason (optional)').fill('one cup broken');
    await screenshot(page, 'till-refund-form');
    await item.getByRole('button', { name: 'Refund EUR 3.00' }).click();
    const status = item.getByTestId('refund-status');
    await status.waitFor({ timeout: requestDeadlineMs });
    await item.getByText('Refunded', { exact: true }).waitFor({ timeout: paymentSettledDeadlineMs });
    await screenshot(page, 'till-refunded');
    const afterRefund = await test.balances();
    expect(afterRefund.customer).toBe(before.customer - 7_80n + 3_00n);
    expect(afterRefund.merchant).toBe(before.merchant + 7_80n - 3_00n);

    // More than what is left is refused in the page, before anything is sent.
    await item.getByRole('button', { name: 'Refund…' }).click();
    expect(await item.getByLabel('Amount to refund (EUR)').inputValue()).toBe('4.80');
    await item.getByLabel('Amount to refund (EUR)').fill('5');
    await item.getByRole('button', { name: 'Refund EUR 5.00' }).click();
    expect(await item.getByTestId('error').getAttribute('data-code')).toBe('REFUND_EXCEEDS_ORIGINAL');
    expect(await test.balances()).toEqual(afterRefund);
    await context.close();
  });

  it('cancels a sale nobody claimed: the code is withdrawn and nothing is paid', async () => {
    const before = await test.balances();
    const { context, page } = await test.phone();
    await signIn(page);
    await page.getByLabel('Amount (EUR)').fill('2.10');
    await page.getByRole('button', { name: 'Show QR code' }).click();
    const image = page.getByRole('img', { name: 'QR code to pay EUR 2.10 to Merkur Trade' });
    await image.waitFor({ timeout: requestDeadlineMs });
    const payload = await readQrOnScreen(page, image);
    await page.getByRole('button', { name: 'Cancel sale' }).click();
    await page
      .getByRole('heading', { name: 'Cancelled', exact: true })
      .waitFor({ timeout: requestDeadlineMs });
    await screenshot(page, 'till-cancelled');
    // A customer who scanned it before may still claim it at the FSP; the till asks nobody to pay.
    const wallet = test.wallet();
    await wallet.unlock(customer.pin);
    await wallet.claimTill(await wallet.readTillQr(payload));
    const { transactionId } = parseTillCode(payload);
    await waitFor(
      async () => {
        const answer = await fetch(
          `${test.platform.urls.merchantShop}/merchant/notifications?event=trade.claimed&subject=${transactionId}`,
          { headers: { authorization: `Bearer ${test.platform.merchantShopToken}` } },
        );
        return ((await answer.json()) as { notifications: unknown[] }).notifications.length > 0;
      },
      { deadlineMs: backgroundWorkDeadlineMs, what: `the shop to receive the claim of ${transactionId}` },
    );
    // The claim's hook has run once the outbox round is done: it asked the FSP for nothing.
    await test.platform.merchantShop.runBackgroundOnce();
    expect(await expectCode(test.merchant.paymentStatus(transactionId))).toBe('PAYMENT_UNKNOWN');
    expect(await test.balances()).toEqual(before);
    await page.getByRole('button', { name: 'New sale' }).click();
    await page.getByLabel('Amount (EUR)').fill('abc');
    await page.getByRole('button', { name: 'Show QR code' }).click();
    expect(await page.getByTestId('error').getAttribute('data-code')).toBe('AMOUNT_INVALID');
    await screenshot(page, 'till-amount-invalid');
    await context.close();
  });
});
