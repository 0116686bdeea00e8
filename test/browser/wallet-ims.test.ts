import { bankOperator, demoParties, type OperatorClient } from '@mpay/cli';
import { encryptTo, generateSigningKeyPair, type PublicJwk, signPayload } from '@mpay/envelope';
import { requestJson } from '@mpay/http-client';
import {
  createAmount,
  defaultSecurityPolicy,
  emvCrcOf,
  fspSignedContent,
  type ImsMessage,
  imsToJson,
  merchantSignedContent,
} from '@mpay/protocol';
import { authenticatorCode } from '@mpay/sdk';
import type { Page } from 'playwright-core';
import QRCode from 'qrcode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backgroundWorkDeadlineMs,
  paymentSettledDeadlineMs,
  requestDeadlineMs,
  waitFor,
} from '../support/deadlines.ts';
import { type BrowserPlatform, screenshot, startBrowserPlatform } from './harness.ts';

/**
 * The wallet's Pay section in Chromium at a phone's size, on the whole
 * platform: a new customer of xbank sets up a phone (keys made in the page,
 * the bank's one-time code, the PIN at custody, registered with the FSP),
 * then pays the demo merchant's requests live, declines one, pays a large one
 * with the code of the authenticator the bank gave at enrolment (shown once
 * by the page, then only in the customer's authenticator app: here the test
 * computes its codes), pays at a till by a photo of its QR code,
 * is warned of a forged QR code and of a forged request, finds the history
 * with receipts whose public-log mark the page checks itself, and finally
 * enters wrong PINs until the wallet locks and the PIN is blocked.
 */
let test: BrowserPlatform;
let page: Page;
let operator: OperatorClient;

const customer = {
  id: 'ana.kostova@person.xbank',
  displayName: 'Ana Kostova',
  msisdn: '+38970111222',
  account: crypto.randomUUID(),
  pin: '8642',
  openingBalanceMinor: 1_000_00n,
} as const;
const { merchant } = demoParties;
/** The second factor's otpauth URI, as the page showed it once at enrolment (the customer's authenticator app). */
let authenticatorUri = '';
/** The payment of test (a), refunded later. */
let teaPaymentId = '';

async function balances(): Promise<{ customer: bigint; merchant: bigint }> {
  const { balance } = await operator.get<{ balance: string }>(`/accounts/${customer.account}`);
  return { customer: BigInt(balance), merchant: (await test.balances()).merchant };
}

/** The merchant's view of a payment's status, once it is `status`. */
async function statusBecomes(paymentId: string, status: string): Promise<void> {
  await waitFor(async () => (await test.merchant.paymentStatus(paymentId)).status === status, {
    deadlineMs: paymentSettledDeadlineMs,
    what: `payment ${paymentId} to be ${status}`,
  });
}

/** The log mark of the receipt on screen, once verified; its text. */
async function verifiedLogMark(): Promise<string> {
  const mark = page.locator('[data-testid="log-mark"][data-state="verified"]');
  await mark.waitFor({ timeout: backgroundWorkDeadlineMs });
  return (await mark.textContent()) ?? '';
}

/** The gateway's device pushes of a refund not yet delivered (due or retrying). */
async function undeliveredRefundPushes(refundId: string): Promise<number> {
  const { rows } = await test.platform.gateway.context.database.query<{ count: number | string }>(
    `SELECT count(*) AS count FROM outbox
      WHERE kind = 'device_push' AND delivered_at IS NULL AND abandoned_at IS NULL AND payload LIKE $1`,
    [`%${refundId}%`],
  );
  return Number(rows[0]?.count ?? 0);
}

/** Opens the waiting request for `amount` from the list (it arrives live). */
async function openRequest(amount: string): Promise<void> {
  await page.getByRole('button', { name: 'Requests' }).click();
  const item = page.getByRole('button', { name: `Review EUR ${amount} to Merkur Trade` });
  await item.waitFor({ timeout: requestDeadlineMs });
  await item.click();
  await page.getByTestId('payment-request').waitFor();
}

/** The payload with its amount text replaced after signing, and a correct CRC: what a forger can print. */
function withAmount(payload: string, from: string, to: string): string {
  const tlv = (text: string) => `54${String(text.length).padStart(2, '0')}${text}`;
  if (!payload.includes(tlv(from))) throw new Error('assertion failed: the payload states the amount');
  const body = payload.slice(0, -8).replace(tlv(from), tlv(to));
  return `${body}6304${emvCrcOf(`${body}6304`)}`;
}

/** Every value the page keeps in IndexedDB, as text (CryptoKeys are opaque: `{}`), by key. */
async function storedValues(): Promise<Record<string, string>> {
  return page.evaluate(
    () =>
      new Promise<Record<string, string>>((resolve, reject) => {
        const open = indexedDB.open('mpay-wallet', 1);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const store = open.result.transaction('values').objectStore('values');
          const keys = store.getAllKeys();
          const values = store.getAll();
          values.onerror = () => reject(values.error);
          values.onsuccess = () =>
            resolve(
              Object.fromEntries(
                keys.result.map((key, index) => [String(key), JSON.stringify(values.result[index]) ?? '']),
              ),
            );
        };
      }),
  );
}

/** The second factor is not on the phone: no otpauth URI and no TOTP secret anywhere in IndexedDB. */
async function expectNoAuthenticatorStored(): Promise<void> {
  const values = await storedValues();
  expect(Object.keys(values)).toContain('ims:device');
  for (const [key, text] of Object.entries(values)) {
    expect(`${key} ${text}`).not.toContain('otpauth://');
    expect(`${key} ${text}`).not.toMatch(/secret=/i);
  }
  const secret = new URL(authenticatorUri).searchParams.get('secret');
  expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
  expect(JSON.stringify(values)).not.toContain(secret);
}

/** The device's public encryption key, as the page keeps it in IndexedDB (the keystore's public half). */
async function deviceEncryptionKey(): Promise<PublicJwk> {
  return page.evaluate(
    () =>
      new Promise<PublicJwk>((resolve, reject) => {
        const open = indexedDB.open('mpay-wallet', 1);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const read = open.result.transaction('values').objectStore('values').get('ims:device');
          read.onerror = () => reject(read.error);
          read.onsuccess = () =>
            resolve(
              (read.result as { keystore: { encryptionPublicJwk: PublicJwk } }).keystore.encryptionPublicJwk,
            );
        };
      }),
  );
}

beforeAll(async () => {
  test = await startBrowserPlatform();
  const bank = test.platform.banks.find((candidate) => candidate.id === 'xbank');
  if (bank === undefined) throw new Error('assertion failed: xbank runs');
  operator = bankOperator(bank, bank.operatorKey);
  // The bank opens the new customer's account and pays in the opening balance (seed.ts openAccounts).
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
    amount: customer.openingBalanceMinor.toString(),
    currency: 'EUR',
    reference: 'opening balance',
  });
  ({ page } = await test.phone());
  page.setDefaultTimeout(requestDeadlineMs);
});
afterAll(async () => {
  await test?.close();
});

describe('the wallet pays with its own device key (iMS)', () => {
  it('sets up a new phone: keys made in the page, the bank’s one-time code, the PIN at custody, the FSP', async () => {
    const invitation = await operator.post<{ code: string }>('/enrolment-codes', {
      partyId: customer.id,
      accountIds: [customer.account],
    });
    await page.goto('/wallet/#ims');
    await page.getByRole('heading', { name: 'Set up this phone' }).waitFor();
    await page.getByLabel('Your name').fill(customer.displayName);
    await page.getByLabel('Your party id').fill(customer.id);
    await page.getByLabel('Your bank').selectOption('xbank');
    await page.getByLabel('Enrolment code').fill(invitation.code);
    await page.getByLabel('New PIN', { exact: true }).fill(customer.pin);
    await page.getByLabel('New PIN again').fill('8643');
    await page.getByRole('button', { name: 'Set up wallet' }).click();
    await page.getByText('The two PINs are not the same').waitFor();
    await page.getByLabel('New PIN again').fill(customer.pin);
    await screenshot(page, 'wallet-ims-enrol');
    await page.getByRole('button', { name: 'Set up wallet' }).click();

    // The bank gave the customer's first device the second factor: shown once, for an authenticator app.
    const setup = page.getByTestId('authenticator-setup');
    await setup
      .getByRole('heading', { name: 'Add your second factor' })
      .waitFor({ timeout: requestDeadlineMs });
    await setup.getByText('Show the key').click();
    authenticatorUri = (await setup.getByTestId('authenticator-uri').textContent()) ?? '';
    expect(authenticatorUri).toMatch(/^otpauth:\/\/totp\/.*[?&]secret=[A-Z2-7]+/);
    await setup.getByRole('img', { name: 'QR code of your authenticator key' }).waitFor();
    await screenshot(page, 'wallet-ims-authenticator');
    await setup.getByRole('button', { name: 'I have added it' }).click();
    await page.getByRole('heading', { name: 'Unlock your wallet' }).waitFor({ timeout: requestDeadlineMs });
    await expect(page.getByText('otpauth://').count()).resolves.toBe(0);
    await expectNoAuthenticatorStored();
    expect(await page.getByTestId('lock-notice').textContent()).toContain('This phone is set up');

    // IndexedDB holds the keystore with the private keys wrapped: no private JWK member in clear.
    const stored = await page.evaluate(
      () =>
        new Promise<string>((resolve, reject) => {
          const open = indexedDB.open('mpay-wallet', 1);
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const read = open.result.transaction('values').objectStore('values').get('ims:device');
            read.onsuccess = () => resolve(JSON.stringify(read.result));
            read.onerror = () => reject(read.error);
          };
        }),
    );
    const device = JSON.parse(stored) as {
      partyId: string;
      keystore: { version: number; wrappedKeys: unknown };
    };
    expect(device.partyId).toBe(customer.id);
    expect(device.keystore.version).toBe(2);
    expect(stored).not.toMatch(/"d":/);

    // The FSP knows the customer now (an alias for an unknown party is refused): the MSISDN is the operator's.
    await requestJson(`${test.platform.urls.gateway}/admin/aliases`, {
      body: JSON.stringify({ alias: customer.msisdn, partyId: customer.id }),
      contentType: 'application/json',
      headers: {
        authorization: `Bearer ${test.platform.operatorToken}`,
        'idempotency-key': `alias-${customer.msisdn}`,
      },
    });
    await screenshot(page, 'wallet-ims-unlock');

    await page.getByLabel('PIN', { exact: true }).fill(customer.pin);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByTestId('feed-status').waitFor({ timeout: requestDeadlineMs });
    expect(await page.getByTestId('feed-status').textContent()).toContain('Listening for payment requests');
    await screenshot(page, 'wallet-ims-requests-empty');
  });

  it('(a) shows a merchant’s request live, verified; the PIN pays it; the receipt’s log mark turns verified', async () => {
    const before = await balances();
    const accepted = await test.merchant.requestPayment({
      customer: customer.msisdn,
      amount: { currency: 'EUR', minor: 42_50n },
      description: 'Order 2001: loose-leaf tea, 4 tins',
    });
    expect(accepted.securityLevel).toBe('medium');
    const item = page.getByRole('button', { name: 'Review EUR 42.50 to Merkur Trade' });
    await item.waitFor({ timeout: requestDeadlineMs });
    await screenshot(page, 'wallet-ims-request-list');
    await item.click();

    const request = page.getByTestId('payment-request');
    await request.waitFor();
    const text = (await request.textContent()) ?? '';
    expect(text).toContain('Merkur Trade');
    expect(text).toContain(merchant.id);
    expect(text).toContain('Verified');
    expect(text).toContain('Order 2001: loose-leaf tea, 4 tins');
    expect(await page.getByTestId('request-amount').textContent()).toBe('EUR 42.50');
    const facts = (await page.getByTestId('request-facts').textContent()) ?? '';
    expect(facts).toContain('Medium');
    expect(facts).toContain('your PIN');
    expect(facts).toMatch(/Expires.*\(in \d+:\d\d\)/);
    await screenshot(page, 'wallet-ims-request');

    await page.getByLabel('PIN', { exact: true }).fill(customer.pin);
    // The confirmation leaves the page gzipped (CompressionStream), as the gateway's stream said it takes it.
    const confirmation = page.waitForRequest((sent) => sent.url().includes('/confirmation'), {
      timeout: requestDeadlineMs,
    });
    await page.getByRole('button', { name: 'Pay EUR 42.50' }).click();
    expect((await confirmation).headers()['content-encoding']).toBe('gzip');
    await page.getByRole('heading', { name: 'Paid' }).waitFor({ timeout: paymentSettledDeadlineMs });
    expect(await page.getByTestId('receipt').textContent()).toContain('EUR 42.50');
    expect(await verifiedLogMark()).toMatch(/Recorded in the public log \(entry \d+, tree size \d+\)/);
    await screenshot(page, 'wallet-ims-receipt');

    await statusBecomes(accepted.paymentId, 'completed');
    teaPaymentId = accepted.paymentId;
    const after = await balances();
    expect(after.customer).toBe(before.customer - 42_50n);
    expect(after.merchant).toBe(before.merchant + 42_50n);
    await page.getByRole('button', { name: 'Done' }).click();
  });

  it('(b) declines a request with the PIN: the merchant is told, no money moves', async () => {
    const before = await balances();
    const accepted = await test.merchant.requestPayment({
      customer: customer.id,
      amount: { currency: 'EUR', minor: 9_90n },
    });
    await openRequest('9.90');
    await page.getByLabel('PIN', { exact: true }).fill(customer.pin);
    await page.getByRole('button', { name: 'Decline' }).click();
    await page.getByTestId('ims-notice').waitFor();
    expect(await page.getByTestId('ims-notice').textContent()).toContain('Declined');
    await screenshot(page, 'wallet-ims-declined');
    await statusBecomes(accepted.paymentId, 'declined');
    expect(await balances()).toEqual(before);
    await expect(page.getByRole('button', { name: /Review EUR 9\.90/ }).count()).resolves.toBe(0);
  });

  it('a large payment asks for the code of the customer’s authenticator app, typed in; the bank approves', async () => {
    const before = await balances();
    const accepted = await test.merchant.requestPayment({
      customer: customer.msisdn,
      amount: { currency: 'EUR', minor: 520_00n },
      description: 'Order 2002: espresso machine',
      orderLines: [
        { name: 'Espresso machine', quantity: 1, unitAmount: { currency: 'EUR', minor: 520_00n } },
      ],
    });
    expect(accepted.securityLevel).toBe('large');
    expect(accepted.protections).toEqual(expect.arrayContaining(['second_factor', 'private_data_sealed']));
    await openRequest('520.00');
    const facts = (await page.getByTestId('request-facts').textContent()) ?? '';
    expect(facts).toContain('Large');
    expect(facts).toContain('a code from your authenticator');
    expect(facts).toContain("your bank's explicit approval");
    // Sealed for this device's key end to end, opened in the page.
    expect(await page.getByRole('list', { name: 'What you buy' }).textContent()).toContain(
      '1 × Espresso machine',
    );
    // The phone has no code to show: the customer types the one the authenticator app shows.
    const codeField = page.getByLabel('Authenticator code');
    expect(await codeField.getAttribute('inputmode')).toBe('numeric');
    await expect(page.getByRole('button', { name: 'Use this code' }).count()).resolves.toBe(0);
    await screenshot(page, 'wallet-ims-request-large');

    await page.getByLabel('PIN', { exact: true }).fill(customer.pin);
    // A code the page does not take: not sent, the payment stays open.
    await codeField.fill('12');
    await page.getByRole('button', { name: 'Pay EUR 520.00' }).click();
    await page.getByText('This payment asks for the 6-digit code your authenticator app shows.').waitFor();
    // What the customer's authenticator app shows now (computed here from the key shown at enrolment).
    await codeField.fill(authenticatorCode(authenticatorUri));
    await page.getByRole('button', { name: 'Pay EUR 520.00' }).click();
    await page.getByRole('heading', { name: 'Paid' }).waitFor({ timeout: paymentSettledDeadlineMs });
    await verifiedLogMark();
    await statusBecomes(accepted.paymentId, 'completed');
    expect((await balances()).customer).toBe(before.customer - 520_00n);
    await page.getByRole('button', { name: 'Done' }).click();
    await expectNoAuthenticatorStored();
  });

  it('takes an authenticator an earlier version of the page stored out of IndexedDB, and shows it once', async () => {
    await page.evaluate(
      (uri) =>
        new Promise<void>((resolve, reject) => {
          const open = indexedDB.open('mpay-wallet', 1);
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const transaction = open.result.transaction('values', 'readwrite');
            transaction.objectStore('values').put(uri, 'ims:authenticator');
            transaction.oncomplete = () => resolve();
            transaction.onerror = () => reject(transaction.error);
          };
        }),
      authenticatorUri,
    );
    await page.reload();
    const setup = page.getByTestId('authenticator-setup');
    await setup.getByRole('heading', { name: 'Add your second factor' }).waitFor();
    // Deleted as soon as it was read: it lives in the screen only.
    await expectNoAuthenticatorStored();
    await setup.getByText('Show the key').click();
    expect(await setup.getByTestId('authenticator-uri').textContent()).toBe(authenticatorUri);
    await setup.getByRole('button', { name: 'I have added it' }).click();
    await page.getByLabel('PIN', { exact: true }).fill(customer.pin);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByTestId('feed-status').waitFor({ timeout: requestDeadlineMs });
    await page.reload();
    await page.getByRole('heading', { name: 'Unlock your wallet' }).waitFor();
    await page.getByLabel('PIN', { exact: true }).fill(customer.pin);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByTestId('feed-status').waitFor({ timeout: requestDeadlineMs });
  });

  it('(d) pays at a till: a photo of its QR code is decoded in the page, verified, claimed, then paid', async () => {
    const before = await balances();
    const qr = await test.merchant.createTillQr({
      amount: { currency: 'EUR', minor: 7_80n },
      merchantName: 'Merkur Trade',
      city: 'Skopje',
    });
    const image = await QRCode.toBuffer(qr.payload, { errorCorrectionLevel: 'M', margin: 4, scale: 6 });
    await page.getByRole('button', { name: 'Till QR' }).click();
    await page.getByRole('heading', { name: 'Pay at a till' }).waitFor();
    await screenshot(page, 'wallet-ims-till');
    await page.getByLabel('Take a photo of the QR code').setInputFiles({
      name: 'till.png',
      mimeType: 'image/png',
      buffer: image,
    });
    const offer = page.getByTestId('till-offer');
    await offer.waitFor();
    const offerText = (await offer.textContent()) ?? '';
    expect(offerText).toContain('Merkur Trade');
    expect(offerText).toContain('Signed QR code');
    expect(offerText).toContain('EUR 7.80');
    await screenshot(page, 'wallet-ims-till-offer');

    await page.getByRole('button', { name: 'Ask the till for EUR 7.80' }).click();
    await page.getByText("Waiting for the till's payment request…").waitFor();
    // The till learns who claimed its code, and asks that customer for the payment (test/e2e/m-trade.test.ts).
    const claim = await waitFor(() => test.merchant.tillClaim(qr.transactionId), {
      deadlineMs: backgroundWorkDeadlineMs,
      what: `the claim of till code ${qr.transactionId}`,
    });
    expect(claim).toMatchObject({ customer: customer.id, amount: { currency: 'EUR', minor: 7_80n } });
    await test.merchant.requestPayment({
      customer: claim.customer,
      amount: claim.amount,
      procedure: 'm-trade',
      transactionId: qr.transactionId,
    });
    await page.getByTestId('payment-request').waitFor({ timeout: requestDeadlineMs });
    expect(await page.getByTestId('payment-request').textContent()).toContain(
      "The till's QR code you scanned asked for exactly this",
    );
    expect(await page.getByTestId('request-facts').textContent()).toContain('At a till');
    await screenshot(page, 'wallet-ims-till-request');
    await page.getByLabel('PIN', { exact: true }).fill(customer.pin);
    await page.getByRole('button', { name: 'Pay EUR 7.80' }).click();
    await page.getByRole('heading', { name: 'Paid' }).waitFor({ timeout: paymentSettledDeadlineMs });
    await verifiedLogMark();
    await statusBecomes(qr.transactionId, 'completed');
    const after = await balances();
    expect(after.customer).toBe(before.customer - 7_80n);
    expect(after.merchant).toBe(before.merchant + 7_80n);
    await page.getByRole('button', { name: 'Done' }).click();
  });

  it('(e) refuses a forged QR code (amount changed after signing): nothing is claimed, no money moves', async () => {
    const before = await balances();
    const qr = await test.merchant.createTillQr({ amount: { currency: 'EUR', minor: 12_50n } });
    await page.getByRole('button', { name: 'Till QR' }).click();
    await page.getByLabel("Or paste the code's text").fill(withAmount(qr.payload, '12.50', '1.25'));
    await page.getByRole('button', { name: 'Read the code' }).click();
    const error = page.getByTestId('qr-error');
    await error.waitFor();
    expect(await error.getAttribute('data-code')).toBe('QR_SIGNATURE_INVALID');
    expect(await error.textContent()).toContain('Forged QR code');
    await expect(page.getByTestId('till-offer').count()).resolves.toBe(0);
    await screenshot(page, 'wallet-ims-till-forged');

    // The same forgery as a picture is refused the same way, after the page decoded it.
    const forgedImage = await QRCode.toBuffer(withAmount(qr.payload, '12.50', '1.25'), {
      margin: 4,
      scale: 6,
    });
    await page.getByLabel('Take a photo of the QR code').setInputFiles({
      name: 'forged.png',
      mimeType: 'image/png',
      buffer: forgedImage,
    });
    await page.locator('[data-testid="qr-error"][data-code="QR_SIGNATURE_INVALID"]').waitFor();
    expect(await test.merchant.tillClaim(qr.transactionId)).toBeUndefined();
    expect(await balances()).toEqual(before);
  });

  it('warns of a request whose merchant signature fails, and offers no pay button for it', async () => {
    const before = await balances();
    // What a compromised channel could push: the FSP's countersignature over a request "signed" by
    // someone else's key in the merchant's name, encrypted to this device.
    const { message } = await test.merchant.buildPaymentRequest({
      customer: customer.id,
      amount: { currency: 'EUR', minor: 11_00n },
    });
    const stranger = await generateSigningKeyPair('ES256');
    const forgedSign = await signPayload(
      merchantSignedContent(message),
      {
        issuer: merchant.id,
        audience: test.fsp.id,
        transactionId: message.transactionId,
        expiresInSeconds: 300,
      },
      stranger.privateJwk,
    );
    const filled: ImsMessage = {
      ...message,
      type: 'medium',
      protections: defaultSecurityPolicy.levels.medium,
      address: { ...message.address, to: { ...message.address.to, sign: forgedSign } },
      data: { ...message.data, accountPayable: customer.account },
    };
    const fspSign = await signPayload(
      fspSignedContent(filled),
      {
        issuer: test.fsp.id,
        audience: customer.id,
        transactionId: filled.transactionId,
        expiresInSeconds: 300,
      },
      test.platform.fsp.signing.privateJwk,
    );
    const { certificate } = (await (
      await fetch(`${test.platform.urls.gateway}/parties/${merchant.id}`)
    ).json()) as { certificate: string };
    const push = await encryptTo(
      JSON.stringify({
        ims: imsToJson({ ...filled, address: { ...filled.address, fspSign } }),
        merchantCertificate: certificate,
        merchantName: 'Merkur Trade',
      }),
      await deviceEncryptionKey(),
    );
    await page.getByRole('button', { name: 'Requests' }).click();
    const pushed = test.platform.gateway.context.hub.push(customer.id, {
      event: 'payment-request',
      id: filled.transactionId,
      data: push,
    });
    expect(pushed).toBeGreaterThan(0);
    const warning = page.getByTestId('refused-request');
    await warning.waitFor();
    expect(await warning.getAttribute('data-code')).toBe('CRYPTO_VERIFICATION_FAILED');
    expect(await warning.textContent()).toContain('failed verification');
    await expect(page.getByRole('button', { name: /Review EUR 11\.00/ }).count()).resolves.toBe(0);
    await screenshot(page, 'wallet-ims-refused');
    // The stream goes on: the next real request still arrives.
    const accepted = await test.merchant.requestPayment({
      customer: customer.id,
      amount: { currency: 'EUR', minor: 3_30n },
    });
    await page.getByRole('button', { name: 'Review EUR 3.30 to Merkur Trade' }).waitFor();
    await page.getByRole('button', { name: 'Dismiss' }).click();
    await expect(warning.count()).resolves.toBe(0);
    expect(await balances()).toEqual(before);
    await test.merchant.cancel(accepted.paymentId);
    // The withdrawal reaches the page through its stream; the history (read once when it opens, in the
    // next test) must find it stored, so wait for it here (a busy machine delivers it later).
    await page.getByText("Merkur Trade's request for EUR 3.30 was withdrawn. Nothing was paid.").waitFor({
      timeout: backgroundWorkDeadlineMs,
    });
  });

  it('keeps the history newest first; a receipt’s log proof altered in transit is shown as not proven', async () => {
    await page.getByRole('button', { name: 'History' }).click();
    const list = page.getByRole('list', { name: 'Payments and refunds, newest first' });
    await list.waitFor();
    const items = await list.getByRole('listitem').allTextContents();
    expect(items.map((item) => /EUR [\d,.]+/.exec(item)?.[0])).toEqual([
      'EUR 3.30',
      'EUR 7.80',
      'EUR 520.00',
      'EUR 9.90',
      'EUR 42.50',
    ]);
    // The request the merchant withdrew (the test before) is kept as the FSP's signed outcome said.
    expect(items[0]).toContain('Withdrawn');
    expect(items[3]).toContain('Declined');
    await screenshot(page, 'wallet-ims-history');

    // Someone between the page and the gateway changes a logged message: the proof no longer holds.
    await page.route('**/api/gateway/payments/*/evidence', async (route) => {
      const response = await route.fetch();
      if (response.status() !== 200) return route.fulfill({ response });
      const file = JSON.parse(await response.text()) as { messages: string[] };
      file.messages[0] = `${file.messages[0]!.slice(0, -4)}${file.messages[0]!.endsWith('AAAA') ? 'AAAE' : 'AAAA'}`;
      return route.fulfill({ response, body: JSON.stringify(file) });
    });
    await list.getByRole('button', { name: /EUR 42\.50/ }).click();
    const failed = page.locator('[data-testid="log-mark"][data-state="failed"]');
    await failed.waitFor({ timeout: backgroundWorkDeadlineMs });
    expect(await failed.getAttribute('data-code')).toBe('PROOF_INVALID');
    expect(await failed.textContent()).toContain('Not proven in the public log');
    await screenshot(page, 'wallet-ims-log-failed');
    await page.unroute('**/api/gateway/payments/*/evidence');
    await page.getByRole('button', { name: 'Check again' }).click();
    expect(await verifiedLogMark()).toMatch(/Recorded in the public log/);
    await page.getByRole('button', { name: 'Done' }).click();
  });

  it('shows a refund live with its receipt and log mark, finds one it missed while locked, and drops a withdrawn request', async () => {
    // The merchant withdraws a waiting request: it leaves the list, signed by the FSP as cancelled.
    const withdrawn = await test.merchant.requestPayment({
      customer: customer.msisdn,
      amount: { currency: 'EUR', minor: 6_60n },
    });
    await page.getByRole('button', { name: 'Requests' }).click();
    const waiting = page.getByRole('button', { name: 'Review EUR 6.60 to Merkur Trade' });
    await waiting.waitFor({ timeout: requestDeadlineMs });
    await test.merchant.cancel(withdrawn.paymentId, 'sold out');
    await page.getByText("Merkur Trade's request for EUR 6.60 was withdrawn. Nothing was paid.").waitFor({
      timeout: backgroundWorkDeadlineMs,
    });
    expect(await waiting.count()).toBe(0);
    await screenshot(page, 'wallet-ims-withdrawn');

    // A refund of part of the tea (test a), pushed live: a notice, then the refund in the history.
    const before = await balances();
    const refund = await test.merchant.refund(teaPaymentId, {
      amount: createAmount('EUR', 10_00n),
      reason: 'one tin dented',
    });
    await page
      .getByText('Merkur Trade refunded EUR 10.00 to you.')
      .waitFor({ timeout: paymentSettledDeadlineMs });
    expect((await balances()).customer).toBe(before.customer + 10_00n);
    await page.getByRole('button', { name: 'History' }).click();
    const list = page.getByRole('list', { name: 'Payments and refunds, newest first' });
    await list.waitFor();
    const entries = await list.getByRole('listitem').allTextContents();
    expect(entries[0]).toContain('Merkur Trade');
    expect(entries[0]).toContain('+EUR 10.00');
    expect(entries[0]).toContain('Refund');
    expect(entries[1]).toContain('EUR 6.60');
    expect(entries[1]).toContain('Withdrawn');
    await screenshot(page, 'wallet-ims-history-refund');
    await page.getByTestId('history-refund').first().click();
    const receipt = page.getByTestId('refund-receipt');
    await receipt.waitFor();
    expect(await receipt.textContent()).toContain('EUR 10.00');
    // The mark proves the refund's own log entry, and that it holds the refund receipt this phone verified.
    expect(await verifiedLogMark()).toMatch(/Recorded in the public log \(entry \d+, tree size \d+\)/);
    expect(await receipt.getByTestId('refund-facts').textContent()).toContain(refund.refundId.slice(0, 8));
    await screenshot(page, 'wallet-ims-refund');
    await page.getByRole('button', { name: 'Done' }).click();

    // Locked, the phone hears nothing; a second refund comes meanwhile; the payment's receipt finds it.
    await page.getByRole('button', { name: 'Lock' }).click();
    const hub = test.platform.gateway.context.hub;
    await waitFor(() => !hub.isConnected(customer.id), {
      deadlineMs: backgroundWorkDeadlineMs,
      what: 'the locked page to close its event stream',
    });
    const missed = await test.merchant.refund(teaPaymentId, { amount: createAmount('EUR', 2_50n) });
    await waitFor(
      async () => (await test.merchant.refundStatus(teaPaymentId, missed.refundId)).status === 'completed',
      {
        deadlineMs: paymentSettledDeadlineMs,
        what: 'the second refund to complete',
      },
    );
    // The refund's push is an outbox row delivered after the refund completed: on a busy machine it could
    // still be due when the page unlocks and reach the new stream live. The test waits until it went (to no stream).
    await waitFor(async () => (await undeliveredRefundPushes(missed.refundId)) === 0, {
      deadlineMs: backgroundWorkDeadlineMs,
      what: "the gateway's push of the second refund to be delivered while the page is locked",
    });
    await page.getByLabel('PIN', { exact: true }).fill(customer.pin);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByRole('button', { name: 'History' }).click();
    await list.getByRole('button', { name: /EUR 42\.50/ }).click();
    const refunds = page.getByRole('list', { name: 'Refunds of this payment' });
    await refunds.waitFor();
    expect(await refunds.getByRole('listitem').count()).toBe(1);
    await page.getByRole('button', { name: 'Check for refunds' }).click();
    await refunds.getByText('+EUR 2.50').waitFor({ timeout: requestDeadlineMs });
    expect(
      (await refunds.getByRole('listitem').allTextContents()).map((item) => /\+EUR [\d.]+/.exec(item)?.[0]),
    ).toEqual(['+EUR 2.50', '+EUR 10.00']);
    await screenshot(page, 'wallet-ims-receipt-refunds');
    await refunds.getByRole('button', { name: /EUR 2\.50/ }).click();
    expect(await verifiedLogMark()).toMatch(/Recorded in the public log/);
    await page.getByRole('button', { name: 'Done' }).click();
  });

  it('reopens a dropped connection by itself, without the PIN, and requests arrive again', async () => {
    await page.getByRole('button', { name: 'Requests' }).click();
    await page.getByTestId('feed-status').waitFor();
    // Records whether the page ever says it is reconnecting (it may say so only for a moment).
    await page.evaluate(() => {
      const seen = { reconnecting: false };
      (window as unknown as { seen: typeof seen }).seen = seen;
      new MutationObserver(() => {
        if (document.querySelector('[data-testid="feed-reconnecting"]') !== null) seen.reconnecting = true;
      }).observe(document.body, { childList: true, subtree: true });
    });
    const hub = test.platform.gateway.context.hub;
    expect(hub.disconnect(customer.id)).toBeGreaterThan(0);
    await waitFor(() => hub.isConnected(customer.id), {
      deadlineMs: backgroundWorkDeadlineMs,
      what: 'the page to open its stream again',
    });
    await page.getByTestId('feed-status').waitFor();
    expect(
      await page.evaluate(() => (window as unknown as { seen: { reconnecting: boolean } }).seen),
    ).toEqual({
      reconnecting: true,
    });
    const accepted = await test.merchant.requestPayment({
      customer: customer.msisdn,
      amount: { currency: 'EUR', minor: 1_20n },
    });
    await page
      .getByRole('button', { name: 'Review EUR 1.20 to Merkur Trade' })
      .waitFor({ timeout: requestDeadlineMs });
    await test.merchant.cancel(accepted.paymentId);
    await page.getByText("Merkur Trade's request for EUR 1.20 was withdrawn. Nothing was paid.").waitFor({
      timeout: backgroundWorkDeadlineMs,
    });
  });

  it('shows a request that expired while on screen as expired, without a pay button', async () => {
    // A second customer's phone, whose clock the test can move: the request's expiry is the FSP's signed one.
    const second = { id: 'marko.petrov@person.xbank', account: crypto.randomUUID(), pin: '1593' };
    await operator.post('/accounts', {
      id: second.account,
      owner: second.id,
      currency: 'EUR',
      kind: 'customer',
    });
    const { code } = await operator.post<{ code: string }>('/enrolment-codes', {
      partyId: second.id,
      accountIds: [second.account],
    });
    const phone = await test.phone();
    try {
      const other = phone.page;
      other.setDefaultTimeout(requestDeadlineMs);
      await other.clock.install();
      await other.goto('/wallet/#ims');
      await other.getByLabel('Your name').fill('Marko Petrov');
      await other.getByLabel('Your party id').fill(second.id);
      await other.getByLabel('Enrolment code').fill(code);
      await other.getByLabel('New PIN', { exact: true }).fill(second.pin);
      await other.getByLabel('New PIN again').fill(second.pin);
      await other.getByRole('button', { name: 'Set up wallet' }).click();
      await other.getByRole('button', { name: 'I have added it' }).click();
      await other.getByLabel('PIN', { exact: true }).fill(second.pin);
      await other.getByRole('button', { name: 'Unlock' }).click();
      await other.getByTestId('feed-status').waitFor();

      const accepted = await test.merchant.requestPayment({
        customer: second.id,
        amount: { currency: 'EUR', minor: 5_00n },
      });
      await other.getByRole('button', { name: 'Review EUR 5.00 to Merkur Trade' }).click();
      await other.getByRole('button', { name: 'Pay EUR 5.00' }).waitFor();
      await other.clock.fastForward(Date.parse(accepted.expiresAt) - Date.now() + 60_000);
      await other.getByTestId('request-expired').waitFor();
      expect(await other.getByTestId('request-expired').textContent()).toContain('This request has expired');
      await expect(other.getByRole('button', { name: 'Pay EUR 5.00' }).count()).resolves.toBe(0);
      await screenshot(other, 'wallet-ims-expired');
    } finally {
      await phone.context.close();
    }
  });

  it('(c) three wrong PINs lock the wallet; more wrong PINs at the PIN server block it; nothing is paid', async () => {
    const before = await balances();
    const accepted = await test.merchant.requestPayment({
      customer: customer.id,
      amount: { currency: 'EUR', minor: 15_00n },
    });
    await openRequest('15.00');
    for (const [index, wrong] of ['1111', '2222'].entries()) {
      await page.getByLabel('PIN', { exact: true }).fill(wrong);
      await page.getByRole('button', { name: 'Pay EUR 15.00' }).click();
      await page.getByText(`Wrong PIN (${index + 1} of 3)`).waitFor();
    }
    await screenshot(page, 'wallet-ims-wrong-pin');
    await page.getByLabel('PIN', { exact: true }).fill('3333');
    await page.getByRole('button', { name: 'Pay EUR 15.00' }).click();
    await page.getByRole('heading', { name: 'Unlock your wallet' }).waitFor();
    expect(await page.getByTestId('lock-notice').textContent()).toContain('Wallet locked after 3 wrong PINs');
    await screenshot(page, 'wallet-ims-locked');

    // Locked: each PIN now is a login at custody, which counts it and blocks after its limit (5).
    const refusals: string[] = [];
    const blocked = page.getByTestId('pin-blocked');
    const pinField = page.getByLabel('PIN', { exact: true });
    for (const wrong of ['4444', '5555', '6666', '7777', '9999']) {
      await pinField.fill(wrong);
      await page.getByRole('button', { name: 'Unlock' }).click();
      // Answered: the page empties the field after a refusal, or shows the block instead of the form.
      await page.waitForFunction(
        () =>
          document.querySelector('[data-testid="pin-blocked"]') !== null ||
          document.querySelector<HTMLInputElement>('input[type="password"]')?.value === '',
        undefined,
        { timeout: requestDeadlineMs },
      );
      if ((await blocked.count()) > 0) {
        refusals.push('PIN_BLOCKED');
        break;
      }
      expect(await page.getByTestId('pin-error').textContent()).toContain('Wrong PIN');
      refusals.push('PIN_REFUSED');
    }
    expect(refusals).toEqual(['PIN_REFUSED', 'PIN_REFUSED', 'PIN_REFUSED', 'PIN_REFUSED', 'PIN_BLOCKED']);
    expect(await page.getByTestId('blocked-notice').textContent()).toContain('Your PIN is blocked');
    await expect(page.getByLabel('PIN', { exact: true }).count()).resolves.toBe(0);
    await screenshot(page, 'wallet-ims-blocked');

    expect((await test.merchant.paymentStatus(accepted.paymentId)).status).toBe('awaiting_customer');
    expect(await balances()).toEqual(before);
  });
});
