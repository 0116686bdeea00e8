import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { bankOperator, demoParties, type OperatorClient, type RunningBank } from '@mpay/cli';
import { generateNoteKey } from '@mpay/merkle';
import { luhnCheckDigit } from '@mpay/protocol';
import {
  BankingClient,
  BankingKeyManager,
  bankingClientIdOf,
  fetchBankTrust,
  MemoryBankingKeyStore,
} from '@mpay/sdk';
import { openSmsInbox } from '@mpay/sms';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backgroundWorkDeadlineMs,
  paymentSettledDeadlineMs,
  requestDeadlineMs,
  waitFor,
} from '../support/deadlines.ts';
import { type BrowserPlatform, screenshot, startBrowserPlatform } from './harness.ts';

/**
 * The wallet's banking section (seed 003, SA2pMP) in Chromium at a phone's
 * size, against a whole platform: the bank's side set up through its
 * operator's signed API (as banking-e2e does), the customer's side only
 * through the page. The login code is read from the platform's embedded SMS
 * gateway and typed in, as a person would. Money is checked at the banks.
 * The tests run in order on one phone: each takes up where the last left.
 */

let test: BrowserPlatform;
let xbank: RunningBank;
let ybank: RunningBank;
let smsDir: string;
let page: Page;
/** The banks' clock runs this far ahead of the system clock (the session expiry test moves it). */
let bankClockOffsetMs = 0;

const currency = 'EUR';

beforeAll(async () => {
  test = await startBrowserPlatform({ bankClock: () => new Date(Date.now() + bankClockOffsetMs) });
  xbank = test.platform.banks.find((bank) => bank.id === 'xbank') as RunningBank;
  ybank = test.platform.banks.find((bank) => bank.id === 'ybank') as RunningBank;
  const dir = test.platform.sms.dir;
  if (dir === undefined) throw new Error('the test platform runs the embedded SMS gateway');
  smsDir = dir;
  ({ page } = await test.phone());
});
afterAll(async () => {
  await test?.close();
});

// ─── the bank's side (its operator), as banking-e2e ─────────────────────────

function operatorOf(bank: RunningBank): OperatorClient {
  return bankOperator(bank, bank.operatorKey);
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

function digits(count: number): string {
  let text = '';
  for (let index = 0; index < count; index += 1) text += String(randomInt(10));
  return text;
}

/** A well-formed ICCID (20 digits, Luhn) and IMEI (15 digits, Luhn), as a person reads them off a phone. */
function newSim(): string {
  const body = `8938${digits(15)}`;
  return `${body}${luhnCheckDigit(body)}`;
}

function newImei(): string {
  const body = `35${digits(12)}`;
  return `${body}${luhnCheckDigit(body)}`;
}

async function openAccount(bank: RunningBank, owner: string, fundedMinor = 0n): Promise<string> {
  const account = randomUUID();
  const operator = operatorOf(bank);
  await operator.post('/accounts', { id: account, owner, currency, kind: 'customer' });
  if (fundedMinor > 0n) {
    await operator.post('/transfers', {
      id: randomUUID(),
      debitAccountId: demoParties.bank.fundingAccount,
      creditAccountId: account,
      amount: fundedMinor.toString(),
      currency,
      reference: 'opening balance',
    });
  }
  return account;
}

async function newPayee(bank: RunningBank, name: string): Promise<{ partyId: string; account: string }> {
  const partyId = `${name}.${hex(4)}@person.${bank.id}`;
  return { partyId, account: await openAccount(bank, partyId) };
}

async function accountAt(bank: RunningBank, account: string) {
  const { balance, available } = await operatorOf(bank).get<{ balance: string; available: string }>(
    `/accounts/${account}`,
  );
  return { balance: BigInt(balance), available: BigInt(available) };
}

async function balanceAt(bank: RunningBank, account: string): Promise<bigint> {
  return (await accountAt(bank, account)).balance;
}

async function failedLogins(partyId: string): Promise<number> {
  const { rows } = await xbank.database.query<{ failed_logins: number }>(
    'SELECT failed_logins FROM banking_customers WHERE party_id = $1',
    [partyId],
  );
  return Number(rows[0]?.failed_logins);
}

const loginCodePattern = /^xbank: your mobile banking login code is ([0-9]{6,9})\. It expires in /;

async function smsIdsOf(msisdn: string): Promise<Set<string>> {
  return new Set((await openSmsInbox(smsDir).list(msisdn)).map((sms) => sms.id));
}

/** The one login code sent to `msisdn` since `seen`, once the embedded gateway stored it. */
function newLoginCode(msisdn: string, seen: ReadonlySet<string>): Promise<string> {
  return waitFor(
    async () => {
      const fresh = (await openSmsInbox(smsDir).list(msisdn)).filter((sms) => !seen.has(sms.id));
      const codes = fresh.flatMap((sms) => loginCodePattern.exec(sms.text)?.[1] ?? []);
      if (codes.length > 1) throw new Error(`${codes.length} login codes to ${msisdn} for one login`);
      return codes[0];
    },
    { deadlineMs: requestDeadlineMs, what: `the login code SMS to ${msisdn}` },
  );
}

function wrongCode(code: string): string {
  return [...code].map((digit) => String((Number(digit) + 1) % 10)).join('');
}

// ─── the customer, the payees and the biller ────────────────────────────────

const customer = {
  partyId: '',
  userId: '',
  msisdn: `+3897${String(randomInt(10 ** 8)).padStart(8, '0')}`,
  account: '',
  password: `pw-${hex(8)}`,
  sim: newSim(),
  imei: newImei(),
};
let localPayee: { partyId: string; account: string };
let remotePayee: { partyId: string; account: string };
let billPayee: { partyId: string; account: string };
const billerId = `power-${hex(3)}`;

// ─── the page ───────────────────────────────────────────────────────────────

async function errorCode(): Promise<string | null> {
  const alert = page.getByTestId('error').first();
  await alert.waitFor();
  return alert.getAttribute('data-code');
}

/** What the page keeps of the banking keys in IndexedDB: the private keys' form, never their material. */
function storedKeys(): Promise<{
  serial: string;
  pending: boolean;
  privateKeys: { hasD: boolean; type: string; extractable: boolean | undefined }[];
}> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('mpay-wallet');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    interface HeldKey {
      readonly cryptoKey?: CryptoKey;
      readonly d?: string;
    }
    interface Pair {
      readonly privateJwk: HeldKey;
    }
    interface State {
      readonly current: { readonly serial: string; readonly signing: Pair; readonly encryption: Pair };
      readonly pending?: unknown;
    }
    const state = await new Promise<State>((resolve, reject) => {
      const request = db.transaction('values').objectStore('values').get('banking:keys');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    db.close();
    const describe = (key: HeldKey) => ({
      hasD: 'd' in key,
      type: key.cryptoKey instanceof CryptoKey ? key.cryptoKey.type : typeof key,
      extractable: key.cryptoKey instanceof CryptoKey ? key.cryptoKey.extractable : undefined,
    });
    return {
      serial: state.current.serial,
      pending: state.pending !== undefined,
      privateKeys: [
        describe(state.current.signing.privateJwk),
        describe(state.current.encryption.privateJwk),
      ],
    };
  });
}

/** Password, then the code from the SMS (optionally a wrong one first), typed into the page. */
async function logIn(options: { wrongCodeFirst?: boolean } = {}): Promise<void> {
  await page.getByRole('heading', { name: 'Log in to mobile banking' }).waitFor();
  const seen = await smsIdsOf(customer.msisdn);
  await page.getByLabel('Password').fill(customer.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Code from the SMS' }).waitFor();
  const code = await newLoginCode(customer.msisdn, seen);
  if (options.wrongCodeFirst) {
    await page.getByLabel('SMS code').fill(wrongCode(code));
    await page.getByRole('button', { name: 'Confirm code' }).click();
    // The bank refused it (BANKING_LOGIN_FAILED, counted) and the login asks again with the same code.
    await page.getByText('Try 2 of 3').waitFor();
    expect(await errorCode()).toBe('BANKING_LOGIN_FAILED');
    await screenshot(page, 'wallet-banking-code-refused');
  } else await screenshot(page, 'wallet-banking-code');
  await page.getByLabel('SMS code').fill(code);
  await page.getByRole('button', { name: 'Confirm code' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

/** Where the page sends every banking request (E(S(msg, ID_C))), through the web server's proxy. */
const bankingRequestsUrl = '**/api/xbank/banking/requests';

/** The ids of the money orders the bank carried out for the customer's banking requests. */
async function bankingOrdersOf(partyId: string): Promise<string[]> {
  const { rows } = await xbank.database.query<{ id: string }>(
    `SELECT id::text AS id FROM banking_transactions WHERE party_id = $1 AND kind IN ('transfer', 'bill_payment')`,
    [partyId],
  );
  return rows.map((row) => row.id);
}

/** The IndexedDB keys under which the page keeps money orders whose outcome it does not know. */
function storedOpenOrders(): Promise<string[]> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('mpay-wallet');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const keys = await new Promise<IDBValidKey[]>((resolve, reject) => {
      const request = db.transaction('values').objectStore('values').getAllKeys();
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    db.close();
    return keys.map(String).filter((key) => key.startsWith('banking:open-order:'));
  });
}

async function openPanel(name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Banking' }).getByRole('button', { name, exact: true }).click();
}

function statementLine(text: string) {
  return page.getByRole('list', { name: 'Statement lines' }).getByRole('listitem').filter({ hasText: text });
}

// ─── the tests ──────────────────────────────────────────────────────────────

describe('the wallet’s mobile banking (SA2pMP) in the browser', () => {
  it('enrols the phone: keys made in the page and kept non-extractable, ID_C registered, the password by OPAQUE', async () => {
    const local = `ana.${hex(4)}`;
    customer.partyId = `${local}@person.xbank`;
    customer.userId = local;
    customer.account = await openAccount(xbank, customer.partyId, 1_000_00n);
    await operatorOf(xbank).post('/banking/customers', {
      partyId: customer.partyId,
      userId: customer.userId,
      msisdn: customer.msisdn,
    });
    const { code } = await operatorOf(xbank).post<{ code: string }>('/enrolment-codes', {
      partyId: customer.partyId,
      accountIds: [customer.account],
    });

    await page.goto('/wallet/#banking');
    await page.getByRole('heading', { name: 'Enrol this phone for mobile banking' }).waitFor();
    await page.getByLabel('Customer id').fill(customer.partyId);
    await page.getByLabel('Enrolment code').fill(code);
    await page.getByLabel('User id').fill(customer.userId);
    await page.getByLabel('Phone number').fill(customer.msisdn);
    await page.getByLabel('SIM card number (ICCID)').fill(customer.sim);
    await page.getByLabel('IMEI').fill(customer.imei);
    await page.getByLabel('Choose a password').fill(customer.password);
    await page.getByLabel('Repeat the password').fill(`${customer.password}x`);
    await page.getByRole('button', { name: 'Enrol this phone' }).click();
    // Checked in the page before anything is sent.
    await page.getByText('The two passwords differ.').waitFor();
    await page.getByLabel('Repeat the password').fill(customer.password);
    await screenshot(page, 'wallet-banking-enrol');
    await page.getByRole('button', { name: 'Enrol this phone' }).click();
    await page.getByRole('heading', { name: 'Log in to mobile banking' }).waitFor();
    await screenshot(page, 'wallet-banking-login');

    // The private keys are in IndexedDB only as non-extractable CryptoKeys.
    const stored = await storedKeys();
    expect(stored.privateKeys).toEqual([
      { hasD: false, type: 'private', extractable: false },
      { hasD: false, type: 'private', extractable: false },
    ]);
    // The bank bound them: the binding is public, and active.
    const binding = await (await fetch(`${xbank.url}/key-bindings/${stored.serial}`)).json();
    expect(binding).toMatchObject({ serial: stored.serial, status: 'active' });
  });

  it('refuses a wrong password generically, then logs in with every factor after a wrong SMS code', async () => {
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    expect(await errorCode()).toBe('BANKING_LOGIN_FAILED');
    await screenshot(page, 'wallet-banking-login-failed');
    expect(await failedLogins(customer.partyId)).toBe(1);

    await logIn({ wrongCodeFirst: true });
    // A login with every factor resets the count of failures.
    expect(await failedLogins(customer.partyId)).toBe(0);
    await page.getByTestId('banking-balance').waitFor();
    expect(await page.getByTestId('banking-balance').textContent()).toBe('EUR 1,000.00');
    await screenshot(page, 'wallet-banking-balance');
  });

  it('transfers to a customer of this bank and of the other bank, and pays a registered biller', async () => {
    localPayee = await newPayee(xbank, 'marko');
    remotePayee = await newPayee(ybank, 'lena');
    billPayee = await newPayee(xbank, 'power');
    await operatorOf(xbank).post('/banking/billers', {
      id: billerId,
      name: 'Power Co',
      payeeId: billPayee.partyId,
    });

    await openPanel('Transfer');
    await page.getByLabel('Pay to (customer id)').fill(localPayee.partyId);
    await page.getByText('A customer of xbank, your bank: paid at once').waitFor();
    await page.getByLabel('Amount (EUR)').fill('12.50');
    await page.getByLabel('Reference').fill('rent March');
    await page.getByRole('button', { name: 'Send transfer' }).click();
    const result = page.getByTestId('banking-transfer-result');
    await result.getByText(localPayee.partyId).waitFor();
    expect(await result.textContent()).toContain('Completed');
    expect(await balanceAt(xbank, customer.account)).toBe(987_50n);
    expect(await balanceAt(xbank, localPayee.account)).toBe(12_50n);

    await page.getByLabel('Pay to (customer id)').fill(remotePayee.partyId);
    await page.getByText('A customer of ybank, another bank: sent by interbank transfer').waitFor();
    await page.getByLabel('Amount (EUR)').fill('25');
    await page.getByLabel('Reference').fill('dinner share');
    await screenshot(page, 'wallet-banking-transfer');
    await page.getByRole('button', { name: 'Send transfer' }).click();
    await result.getByText(remotePayee.partyId).waitFor();
    expect(await result.textContent()).toMatch(/Completed|On its way to ybank/);
    await screenshot(page, 'wallet-banking-transfer-sent');
    await waitFor(async () => (await balanceAt(ybank, remotePayee.account)) === 25_00n, {
      deadlineMs: paymentSettledDeadlineMs,
      what: `ybank to credit ${remotePayee.partyId} with the transfer from the page`,
    });
    await waitFor(
      async () => {
        const account = await accountAt(xbank, customer.account);
        return account.balance === 962_50n && account.available === 962_50n;
      },
      { deadlineMs: paymentSettledDeadlineMs, what: 'xbank to post the hold once ybank credited' },
    );

    await openPanel('Bills');
    await page.getByLabel('Biller id').fill(billerId);
    await page.getByLabel('Your reference at the biller').fill('INV-2026/001');
    await page.getByLabel('Amount (EUR)').fill('30.00');
    await page.getByRole('button', { name: 'Pay bill' }).click();
    const bill = page.getByTestId('banking-bill-result');
    await bill.waitFor();
    expect(await bill.textContent()).toContain(`Power Co (${billerId})`);
    expect(await bill.textContent()).toContain('Completed');
    // The biller the bank named is offered next time.
    expect(await page.getByLabel('Biller', { exact: true }).inputValue()).toBe(billerId);
    await screenshot(page, 'wallet-banking-bill');
    expect(await balanceAt(xbank, customer.account)).toBe(932_50n);
    expect(await balanceAt(xbank, billPayee.account)).toBe(30_00n);

    // An unknown biller: the bank's stable code, nothing moved.
    await page.getByLabel('Biller', { exact: true }).selectOption({ label: 'Another biller…' });
    await page.getByLabel('Biller id').fill(`nobody-${hex(3)}`);
    await page.getByLabel('Your reference at the biller').fill('X-1');
    await page.getByLabel('Amount (EUR)').fill('1');
    await page.getByRole('button', { name: 'Pay bill' }).click();
    expect(await errorCode()).toBe('BANKING_BILLER_UNKNOWN');
    expect(await balanceAt(xbank, customer.account)).toBe(932_50n);

    await openPanel('Balance');
    await page.getByTestId('banking-balance').getByText('EUR 932.50').waitFor();
  });

  it('shows the statement with each banking line’s log receipt verified in the page', async () => {
    const { rows } = await xbank.database.query<{ id: string }>(
      `SELECT id::text AS id FROM banking_transactions WHERE party_id = $1`,
      [customer.partyId],
    );
    expect(rows).toHaveLength(3);
    // The bank's worker submits each banking transaction to the log, which proves it.
    for (const { id } of rows)
      await waitFor(
        async () =>
          (await operatorOf(xbank).get<{ receipt?: unknown }>(`/banking/transactions/${id}`)).receipt !==
          undefined,
        { deadlineMs: backgroundWorkDeadlineMs, what: `the log to prove banking transaction ${id}` },
      );

    await openPanel('Statement');
    // Each line described by what this phone signed, read from the logged request once it verified.
    const signed: readonly (readonly [string, string, string])[] = [
      [`Transfer to ${localPayee.partyId}`, 'rent March', '−EUR 12.50'],
      [`Transfer to ${remotePayee.partyId}`, 'dinner share', '−EUR 25.00'],
      [`Bill ${billerId}`, 'INV-2026/001', '−EUR 30.00'],
    ];
    for (const [title, reference, amount] of signed) {
      const line = statementLine(title);
      await line.getByText('Recorded in the public log').waitFor();
      const text = await line.textContent();
      expect(text).toContain(reference);
      expect(text).toContain(amount);
      expect(text).toContain('signed on this phone');
    }
    await statementLine('opening balance').getByText('Not a mobile banking request').waitFor();
    expect(await page.getByText('Log receipt did not verify').count()).toBe(0);
    await screenshot(page, 'wallet-banking-statement');
  });

  it('lists the devices and revokes a lost one made with the Node SDK', async () => {
    const trust = await fetchBankTrust(xbank.url);
    const { code } = await operatorOf(xbank).post<{ code: string }>('/enrolment-codes', {
      partyId: customer.partyId,
      accountIds: [customer.account],
    });
    const lostId = `lost-${hex(3)}`;
    const { manager } = await BankingKeyManager.enrol({
      invitation: { bankUrl: xbank.url, bankId: xbank.id, partyId: customer.partyId, code },
      deviceId: lostId,
      bank: trust,
      store: new MemoryBankingKeyStore(),
    });
    const lost = new BankingClient({ bankUrl: xbank.url, keys: manager, bank: trust });
    await lost.registerDevice(
      bankingClientIdOf({ sim: newSim(), phoneId: newImei(), accountId: customer.account }),
      customer.userId,
    );
    const lostSerial = (await manager.state()).current.serial;

    await openPanel('Devices');
    const devices = page.getByRole('list', { name: 'Devices' }).getByRole('listitem');
    await devices.filter({ hasText: lostId }).waitFor();
    expect(await devices.count()).toBe(2);
    const own = devices.filter({ hasText: 'This phone' });
    expect(await own.textContent()).toContain(customer.imei.slice(-4));
    await screenshot(page, 'wallet-banking-devices');

    const item = devices.filter({ hasText: lostId });
    await item.getByRole('button', { name: 'Revoke this device…' }).click();
    await item.getByLabel('Why revoke it?').selectOption('lost');
    await item.getByRole('button', { name: `Revoke ${lostId}` }).click();
    await page.getByText(`${lostId} is revoked`).waitFor();
    await devices.filter({ hasText: lostId }).getByText('Revoked').waitFor();
    await screenshot(page, 'wallet-banking-device-revoked');
    const binding = await (await fetch(`${xbank.url}/key-bindings/${lostSerial}`)).json();
    expect(binding).toMatchObject({ serial: lostSerial, status: 'revoked' });
  });

  it('renews this phone’s key on the bank’s notice, then logs in with the new key', async () => {
    const before = await storedKeys();
    const notice = await operatorOf(xbank).post<{ noticeId: string }>('/banking/renewal-notices', {
      serial: before.serial,
      reason: 'browser test renewal',
    });
    await openPanel('Devices');
    await page.getByRole('button', { name: 'Refresh devices' }).click();
    await page.getByText('Your bank asks this phone to renew its key (browser test renewal').waitFor();
    await screenshot(page, 'wallet-banking-renewal');
    await page.getByRole('button', { name: "Renew this phone's key" }).click();
    await page.getByText('Key renewed').waitFor();
    await screenshot(page, 'wallet-banking-renewed');

    const after = await storedKeys();
    expect(after.serial).toBe(notice.noticeId);
    expect(after.pending).toBe(false);
    expect(after.privateKeys.every((key) => !key.hasD && key.extractable === false)).toBe(true);
    const old = await (await fetch(`${xbank.url}/key-bindings/${before.serial}`)).json();
    expect(old).toMatchObject({ status: 'revoked' });

    await logIn();
    await page.getByTestId('banking-balance').getByText('EUR 932.50').waitFor();
  });

  it('sends the customer back to the login when the bank ended the session, and logs out', async () => {
    // The bank's clock past the session's idle and total lifetime: the next request finds it ended.
    await openPanel('Balance');
    bankClockOffsetMs = 31 * 60_000;
    try {
      await page.getByRole('button', { name: 'Refresh balance' }).click();
      expect(await errorCode()).toBe('BANKING_SESSION_INVALID');
      await page.getByRole('heading', { name: 'Log in to mobile banking' }).waitFor();
    } finally {
      bankClockOffsetMs = 0;
    }
    await screenshot(page, 'wallet-banking-session-ended');

    await logIn();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('Logged out: the bank closed the session').waitFor();
    await screenshot(page, 'wallet-banking-logged-out');
  });

  it('blocks the customer after five failed logins, until the bank’s operator unblocks', async () => {
    await page.getByRole('heading', { name: 'Log in to mobile banking' }).waitFor();
    for (let failures = 1; failures <= 5; failures += 1) {
      await page.getByLabel('Password').fill(`wrong password ${failures}`);
      await page.getByRole('button', { name: 'Log in' }).click();
      await waitFor(async () => (await failedLogins(customer.partyId)) === failures, {
        deadlineMs: requestDeadlineMs,
        what: `xbank to count failed login ${failures}`,
      });
      await page.locator('[data-code="BANKING_LOGIN_FAILED"]').waitFor();
    }
    // Now even the right password is refused, with the block said plainly.
    await page.getByLabel('Password').fill(customer.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('[data-code="BANKING_LOGIN_BLOCKED"]').waitFor();
    await screenshot(page, 'wallet-banking-blocked');
    await operatorOf(xbank).post(`/banking/customers/${customer.partyId}/unblock`, {});
    expect(await failedLogins(customer.partyId)).toBe(0);
  });

  it('says clearly when a receipt does not verify under the log’s keys', async () => {
    // The page is given a log key of the log's name that is not the log's: no receipt may verify.
    await page.route('**/config.json', async (route) => {
      const response = await route.fetch();
      const config = (await response.json()) as { log: { logVerifierKey: string } };
      const name = config.log.logVerifierKey.split('+')[0] ?? '';
      const impostor = await generateNoteKey(name);
      await route.fulfill({
        response,
        json: { ...config, log: { ...config.log, logVerifierKey: impostor.verifierKey } },
      });
    });
    try {
      await page.reload();
      await logIn();
      await openPanel('Statement');
      const line = statementLine('−EUR 12.50');
      await line.getByText('Log receipt did not verify').waitFor();
      expect(await line.getByTestId('error').getAttribute('data-code')).toBe('NOTE_KEY_UNKNOWN');
      expect(await page.getByText('Recorded in the public log').count()).toBe(0);
      await screenshot(page, 'wallet-banking-receipt-failed');
    } finally {
      await page.unroute('**/config.json');
    }
  });

  it('sends a transfer whose answer was lost again as the same order: the money moves once', async () => {
    const payee = await newPayee(xbank, 'dora');
    const before = await balanceAt(xbank, customer.account);
    const orders = await bankingOrdersOf(customer.partyId);
    await openPanel('Transfer');
    await page.getByLabel('Pay to (customer id)').fill(payee.partyId);
    await page.getByLabel('Amount (EUR)').fill('7.25');
    await page.getByLabel('Reference').fill('concert ticket');
    // The first try reaches the bank, which makes the transfer; its answer is lost on the way back.
    let reached = 0;
    await page.route(
      bankingRequestsUrl,
      async (route) => {
        const response = await route.fetch();
        reached = response.status();
        await route.abort('connectionreset');
      },
      { times: 1 },
    );
    await page.getByRole('button', { name: 'Send transfer' }).click();
    const unsettled = page.getByTestId('order-unsettled');
    await unsettled.waitFor();
    expect(reached).toBe(200);
    expect(await unsettled.getAttribute('data-code')).toBe('SERVICE_UNAVAILABLE');
    expect(await unsettled.textContent()).toContain('Check your statement before you send a new transfer');
    // The form keeps the transfer; the money moved once already.
    expect(await page.getByLabel('Pay to (customer id)').inputValue()).toBe(payee.partyId);
    expect(await balanceAt(xbank, customer.account)).toBe(before - 7_25n);
    await screenshot(page, 'wallet-banking-transfer-no-answer');

    // Tried again from the page: the same order (same request id, signed again), which the bank carried
    // out already: it answers the recorded outcome, moving nothing again.
    await page.getByRole('button', { name: 'Send it again' }).click();
    const answered = page.getByTestId('banking-transfer-result');
    await answered.waitFor({ timeout: requestDeadlineMs });
    expect(await balanceAt(xbank, customer.account)).toBe(before - 7_25n);
    expect(await balanceAt(xbank, payee.account)).toBe(7_25n);
    expect(await answered.textContent()).toContain('EUR 7.25');
    expect(await answered.textContent()).toContain('concert ticket');
    await screenshot(page, 'wallet-banking-transfer-found');
    const made = (await bankingOrdersOf(customer.partyId)).filter((order) => !orders.includes(order));
    expect(made).toHaveLength(1);

    // The next transfer is a new order: the same fields again move the money again, once.
    await page.getByLabel('Pay to (customer id)').fill(payee.partyId);
    await page.getByLabel('Amount (EUR)').fill('7.25');
    await page.getByLabel('Reference').fill('concert ticket');
    await page.getByRole('button', { name: 'Send transfer' }).click();
    await page.getByTestId('banking-transfer-result').waitFor();
    expect(await balanceAt(xbank, payee.account)).toBe(14_50n);
  });

  it('keeps a bill payment whose try got no answer across a reload, and pays it once', async () => {
    const before = await balanceAt(xbank, customer.account);
    const billerBefore = await balanceAt(xbank, billPayee.account);
    await openPanel('Bills');
    await page.getByLabel('Biller', { exact: true }).selectOption(billerId);
    await page.getByLabel('Your reference at the biller').fill('INV-2026/002');
    await page.getByLabel('Amount (EUR)').fill('18.40');
    // This try never reaches the bank.
    await page.route(bankingRequestsUrl, (route) => route.abort('failed'), { times: 1 });
    await page.getByRole('button', { name: 'Pay bill' }).click();
    await page.getByTestId('order-unsettled').waitFor();
    expect(await balanceAt(xbank, customer.account)).toBe(before);

    // The page closes; the order and its request id stay on the phone, and come back after the login.
    await page.reload();
    await logIn();
    await openPanel('Bills');
    const unsettled = page.getByTestId('order-unsettled');
    await unsettled.getByText('Your last bill payment got no answer').waitFor();
    expect(await unsettled.textContent()).toContain(`EUR 18.40 to ${billerId} · INV-2026/002`);
    expect(await page.getByLabel('Your reference at the biller').inputValue()).toBe('INV-2026/002');
    await screenshot(page, 'wallet-banking-bill-restored');
    await unsettled.getByRole('button', { name: 'Send it again' }).click();
    const bill = page.getByTestId('banking-bill-result');
    await bill.waitFor();
    expect(await bill.textContent()).toContain('INV-2026/002');
    expect(await balanceAt(xbank, customer.account)).toBe(before - 18_40n);
    expect(await balanceAt(xbank, billPayee.account)).toBe(billerBefore + 18_40n);
    // Settled: nothing is kept for a next visit.
    expect(await storedOpenOrders()).toEqual([]);
  });
});
