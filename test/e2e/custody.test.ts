import { randomUUID } from 'node:crypto';
import { bankOperator, demoParties, type RunningBank } from '@mpay/cli';
import { encryptTo, generateSigningKeyPair, signPayload } from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import { fspSignedContent, type ImsMessage, imsToJson } from '@mpay/protocol';
import {
  addCustodyDevice,
  type CustodyPaymentRequestView,
  type CustodyTrust,
  CustodyWallet,
  createKeystore,
  custodyEncryptionKey,
  delegationAuthorisation,
  enrolDevice,
  enrolWithCustody,
  fetchCustodyTrust,
  finishPinLogin,
  forwardMessageHash,
  type InboxEvent,
  startPinLogin,
  unlockKeystore,
  type WalletKeystoreData,
} from '@mpay/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePartyKeys } from '../../cli/src/platform/identities.ts';
import { backgroundWorkDeadlineMs, paymentSettledDeadlineMs, waitFor } from '../support/deadlines.ts';
import { expectCode, postRaw, startTestPlatform, type TestPlatform } from './harness.ts';

/**
 * iMS §5, the trusted mobile certificate server, end to end over real HTTP
 * with a real softhsm2 token: the ten steps for a customer whose phone holds
 * no key, and everything an attacker tries against the PIN, the messages and
 * the stored keystore. Every refusal is checked by its stable code and by the
 * balances.
 */
let test: TestPlatform;
let xbank: RunningBank;
let custody: CustodyTrust;
const { custodyCustomer, merchant } = demoParties;

beforeAll(async () => {
  test = await startTestPlatform();
  xbank = test.platform.banks.find((bank) => bank.id === 'xbank') as RunningBank;
  custody = await fetchCustodyTrust(test.platform.urls.custody);
});
afterAll(async () => {
  await test?.close();
});

function walletOf(partyId: string, deviceToken: string, trace?: (step: string, compact: string) => void) {
  return new CustodyWallet({
    custodyUrl: test.platform.urls.custody,
    custody,
    fsp: test.fsp,
    partyId,
    deviceToken,
    ...(trace === undefined ? {} : { trace: (message) => trace(message.step, message.compact) }),
  });
}

async function balanceOf(account: string): Promise<bigint> {
  const { balance } = await bankOperator(xbank, xbank.operatorKey).get<{ balance: string }>(
    `/accounts/${account}`,
  );
  return BigInt(balance);
}

/** A fresh custody customer at xbank with 100.00 EUR, enrolled through custody with PIN 9753. */
async function newCustodyCustomer(name: string) {
  const partyId = `${name}.${randomUUID().slice(0, 8)}@person.xbank`;
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
  const enrolment = await enrolWithCustody({
    custodyUrl: test.platform.urls.custody,
    bankId: 'xbank',
    partyId,
    code,
    deviceId: 'phone-1',
    displayName: name,
    pin: '9753',
  });
  return { partyId, account, enrolment, pin: '9753', wallet: walletOf(partyId, enrolment.deviceToken) };
}

/** Waits for the payment request of this payment in the phone's inbox and opens it (step 3). */
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

async function pay(customer: string, minor: bigint, description?: string) {
  return test.merchant.requestPayment({
    customer,
    amount: { currency: 'EUR', minor },
    ...(description === undefined ? {} : { description }),
  });
}

async function triesOf(partyId: string): Promise<{ failed_tries: number; blocked_at: Date | null }> {
  const { rows } = await test.platform.custody.context.database.query<{
    failed_tries: number;
    blocked_at: Date | null;
  }>('SELECT failed_tries, blocked_at FROM customers WHERE party_id = $1', [partyId]);
  return rows[0]!;
}

describe('iMS §5: a payment for a customer whose key is in custody', () => {
  it('runs the ten steps: the phone verifies, the PIN authorises, custody signs in the HSM, the bank pays', async () => {
    const steps: string[] = [];
    const wallet = walletOf(
      custodyCustomer.id,
      test.platform.credentials.custodyCustomer.deviceToken,
      (step) => steps.push(step),
    );
    const before = await balanceOf(custodyCustomer.account);
    const accepted = await pay(custodyCustomer.msisdn, 7_25n, 'Two flat whites');
    const view = await requestOf(wallet, accepted.paymentId);
    expect(view.merchant).toEqual({ id: merchant.id, name: merchant.displayName });
    expect(view.amount.value).toBe('7.25');
    // The merchant sealed the description to the key the bank bound (custody's): custody opened it
    // for the phone and vouches for it under its signed forward; the FSP read none of it.
    expect(view).toMatchObject({ sealed: true, description: 'Two flat whites' });
    const result = await wallet.confirm(view, custodyCustomer.pin);
    expect(result.status).toBe('completed');
    if (result.status !== 'completed') return;
    expect((result.receipt.payload.receipt as { status: string }).status).toBe('completed');
    expect(await balanceOf(custodyCustomer.account)).toBe(before - 7_25n);
    await test.platform.merchantShop.waitForNotification(
      accepted.paymentId,
      'completed',
      paymentSettledDeadlineMs,
    );
    expect(steps.some((step) => step.includes('step 4'))).toBe(true);
    // The customer sees what custody signed in their name: under the HSM key the bank bound, logged.
    const signatures = await waitFor(
      async () => {
        const listed = await wallet.delegateSignatures();
        const entry = listed.find((signature) => signature.paymentId === accepted.paymentId);
        return entry?.logIndex === null ? undefined : entry;
      },
      { deadlineMs: backgroundWorkDeadlineMs, what: 'the delegate signature to reach the log' },
    );
    expect(signatures.decision).toBe('confirm');
    const header = JSON.parse(Buffer.from(signatures.jws.split('.')[0]!, 'base64url').toString()) as {
      kid: string;
    };
    expect(header.kid).toBe(signatures.kid);
    const { rows } = await test.platform.custody.context.database.query<{ kid: string }>(
      'SELECT kid FROM custody_keys WHERE party_id = $1',
      [custodyCustomer.id],
    );
    expect(rows[0]?.kid).toBe(signatures.kid);
    // Asked again for the same message, custody says it was answered, and counts no try.
    expect(await expectCode(wallet.confirm(view, custodyCustomer.pin))).toBe('PAYMENT_STATE_INVALID');
    expect((await triesOf(custodyCustomer.id)).failed_tries).toBe(0);
    // And the receipt reaches every phone through custody (step 10).
    await waitFor(
      async () =>
        (await wallet.events('0')).some(
          (event) => event.event === 'receipt' && event.paymentId === accepted.paymentId,
        ),
      { deadlineMs: backgroundWorkDeadlineMs, what: 'the receipt in the phone inbox' },
    );
  });

  it('declines with the PIN: custody signs the decline, nothing moves', async () => {
    const customer = await newCustodyCustomer('decliner');
    const accepted = await pay(customer.partyId, 5_00n);
    const view = await requestOf(customer.wallet, accepted.paymentId);
    expect((await customer.wallet.decline(view, customer.pin)).status).toBe('declined');
    expect((await test.merchant.paymentStatus(accepted.paymentId)).status).toBe('declined');
    expect(await balanceOf(customer.account)).toBe(100_00n);
    // The FSP's signed outcome reaches the phones through custody, and custody closes the message.
    const outcome = await waitFor(
      async () =>
        (await customer.wallet.events('0')).find(
          (event) => event.event === 'outcome' && event.paymentId === accepted.paymentId,
        ),
      { deadlineMs: backgroundWorkDeadlineMs, what: 'the outcome of the declined payment in the inbox' },
    );
    expect((await customer.wallet.openForward(outcome.forward)).event).toBe('outcome');
  });
});

describe('PIN tries counted by custody, per customer, across devices', () => {
  it('refuses a wrong PIN generically and counts it; the right PIN then pays and resets the count', async () => {
    const customer = await newCustodyCustomer('wrongpin');
    const accepted = await pay(customer.partyId, 2_00n);
    const view = await requestOf(customer.wallet, accepted.paymentId);
    expect(await expectCode(customer.wallet.confirm(view, '1111'))).toBe('PIN_REFUSED');
    expect((await triesOf(customer.partyId)).failed_tries).toBe(1);
    expect(await balanceOf(customer.account)).toBe(100_00n);
    expect((await customer.wallet.confirm(view, customer.pin)).status).toBe('completed');
    expect(await balanceOf(customer.account)).toBe(98_00n);
    // The right PIN gave back its own try only: the wrong one stays counted, and the customer is told.
    expect((await triesOf(customer.partyId)).failed_tries).toBe(1);
    const alerts = [];
    for (const event of await customer.wallet.events('0')) {
      const opened = await customer.wallet.openForward(event.forward);
      if (opened.event === 'alert') alerts.push(opened.alert.reason);
    }
    expect(alerts).toEqual(['pin-failures:1']);
  });

  it('blocks the key at the 5th wrong PIN across two phones, alerts, refuses the right PIN, until the bank unblocks', async () => {
    const customer = await newCustodyCustomer('blocked');
    const second = await addCustodyDevice({
      custodyUrl: test.platform.urls.custody,
      partyId: customer.partyId,
      credentialId: customer.enrolment.credentialId,
      deviceId: 'phone-2',
      pin: customer.pin,
    });
    const phones = [customer.wallet, walletOf(customer.partyId, second.deviceToken)];
    const accepted = await pay(customer.partyId, 3_00n);
    const views = await Promise.all(phones.map((phone) => requestOf(phone, accepted.paymentId)));
    const codes: (string | undefined)[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1) {
      codes.push(await expectCode(phones[attempt % 2]!.confirm(views[attempt % 2]!, `000${attempt}`)));
    }
    expect(codes).toEqual(['PIN_REFUSED', 'PIN_REFUSED', 'PIN_REFUSED', 'PIN_REFUSED', 'PIN_BLOCKED']);
    expect((await triesOf(customer.partyId)).blocked_at).not.toBeNull();
    // Both phones are alerted.
    for (const phone of phones) {
      const alert = (await phone.events('0')).find((event) => event.event === 'alert');
      const opened = await phone.openForward(alert!.forward);
      expect(opened.event === 'alert' && opened.alert.reason).toBe('pin-blocked');
    }
    expect(await expectCode(phones[0]!.confirm(views[0]!, customer.pin))).toBe('PIN_BLOCKED');
    expect(await balanceOf(customer.account)).toBe(100_00n);
    // Only the customer's bank unblocks: a stranger's signature is refused.
    const path = `/customers/${encodeURIComponent(customer.partyId)}/unblock`;
    const stranger = await signRequest(
      { method: 'POST', path, body: '' },
      { issuer: 'xbank', audience: custody.id, key: (await generateSigningKeyPair('ES256')).privateJwk },
    );
    expect(
      (await postRaw(`${test.platform.urls.custody}${path}`, '', 'text/plain', { authorization: stranger }))
        .code,
    ).toBe('AUTHENTICATION_FAILED');
    const bank = await signRequest(
      { method: 'POST', path, body: '' },
      { issuer: 'xbank', audience: custody.id, key: xbank.signingKey },
    );
    const unblocked = await postRaw(`${test.platform.urls.custody}${path}`, '', 'text/plain', {
      authorization: bank,
    });
    expect(unblocked.body.status).toBe('unblocked');
    // The bank's signed unblock is used once: replayed after another block, it is refused.
    const replayed = await postRaw(`${test.platform.urls.custody}${path}`, '', 'text/plain', {
      authorization: bank,
    });
    expect(replayed.code).toBe('MESSAGE_REPLAYED');
    expect((await phones[0]!.confirm(views[0]!, customer.pin)).status).toBe('completed');
    expect(await balanceOf(customer.account)).toBe(97_00n);
  });
});

describe('one PIN authorisation signs one message', () => {
  it('refuses an authorisation replayed for another payment or amount, and for a message the FSP never sent', async () => {
    const customer = await newCustodyCustomer('replay');
    const captured: string[] = [];
    const tracing = walletOf(customer.partyId, customer.enrolment.deviceToken, (step, compact) => {
      if (step.includes('step 4')) captured.push(compact);
    });
    const first = await pay(customer.partyId, 1_00n);
    const firstView = await requestOf(tracing, first.paymentId);
    expect((await tracing.confirm(firstView, customer.pin)).status).toBe('completed');
    const authorisation = captured[0]!;
    const deviceHeaders = { authorization: `Bearer ${customer.enrolment.deviceToken}` };
    const url = test.platform.urls.custody;
    // The same authorisation again: its login is used up.
    const [, delegationOfFirst] = await lastDelegationId(customer.partyId, first.paymentId);
    expect(delegationOfFirst).toBeUndefined();
    // A larger second payment: start a delegation for it, then present the first one's authorisation.
    const second = await pay(customer.partyId, 60_00n);
    await requestOf(tracing, second.paymentId);
    const start = await startPinLogin(customer.pin);
    const started = await postRaw(
      `${url}/delegations`,
      JSON.stringify({ paymentId: second.paymentId, startLoginRequest: start.startLoginRequest }),
      'application/json',
      deviceHeaders,
    );
    const delegationId = started.body.delegationId as string;
    const replayed = await postRaw(
      `${url}/delegations/${delegationId}/authorisation`,
      authorisation,
      'application/jose',
      deviceHeaders,
    );
    expect(replayed.code).toBe('PIN_REFUSED');
    // A correct PIN whose authorisation names another message (the first payment's forward) is refused too.
    const again = await startPinLogin(customer.pin);
    const startedAgain = await postRaw(
      `${url}/delegations`,
      JSON.stringify({ paymentId: second.paymentId, startLoginRequest: again.startLoginRequest }),
      'application/json',
      deviceHeaders,
    );
    const login = await finishPinLogin(again, startedAgain.body.loginResponse as string, customer.pin);
    const otherHash = await forwardMessageHash(firstView.forward);
    const jwe = await encryptTo(
      JSON.stringify({
        finishLoginRequest: login.finishLoginRequest,
        decision: 'confirm',
        messageHash: otherHash,
        authorisation: await delegationAuthorisation(
          login.sessionKey,
          startedAgain.body.delegationId as string,
          'confirm',
          otherHash,
        ),
      }),
      custodyEncryptionKey(custody),
    );
    const mismatched = await postRaw(
      `${url}/delegations/${startedAgain.body.delegationId as string}/authorisation`,
      jwe,
      'application/jose',
      deviceHeaders,
    );
    expect(mismatched.code).toBe('PIN_REFUSED');
    // A payment the FSP never sent to custody: the right PIN gets the same generic refusal.
    const never = await startPinLogin(customer.pin);
    const neverStarted = await postRaw(
      `${url}/delegations`,
      JSON.stringify({ paymentId: randomUUID(), startLoginRequest: never.startLoginRequest }),
      'application/json',
      deviceHeaders,
    );
    const neverLogin = await finishPinLogin(never, neverStarted.body.loginResponse as string, customer.pin);
    const neverJwe = await encryptTo(
      JSON.stringify({
        finishLoginRequest: neverLogin.finishLoginRequest,
        decision: 'confirm',
        messageHash: otherHash,
        authorisation: await delegationAuthorisation(
          neverLogin.sessionKey,
          neverStarted.body.delegationId as string,
          'confirm',
          otherHash,
        ),
      }),
      custodyEncryptionKey(custody),
    );
    expect(
      (
        await postRaw(
          `${url}/delegations/${neverStarted.body.delegationId as string}/authorisation`,
          neverJwe,
          'application/jose',
          deviceHeaders,
        )
      ).code,
    ).toBe('PIN_REFUSED');
    // Only the first payment moved money; custody signed exactly one message.
    expect(await balanceOf(customer.account)).toBe(99_00n);
    expect((await tracing.delegateSignatures()).map((signature) => signature.paymentId)).toEqual([
      first.paymentId,
    ]);
  });
});

/** Delegations still open for a payment (none once used). */
async function lastDelegationId(partyId: string, paymentId: string): Promise<[string, string | undefined]> {
  const { rows } = await test.platform.custody.context.database.query<{ login_id: string }>(
    'SELECT login_id FROM pin_logins WHERE party_id = $1 AND payment_id = $2',
    [partyId, paymentId],
  );
  return [paymentId, rows[0]?.login_id];
}

describe("custody checks the source and the key's accounts", () => {
  /** A redirect as the FSP sends it (step 1), for a message chosen by the test, signed by `signer`. */
  async function redirect(
    message: ImsMessage,
    signer: { issuer: string; key: Parameters<typeof signRequest>[1]['key'] },
  ) {
    const push = { ims: imsToJson(message), merchantCertificate: 'x', merchantName: 'Merkur Trade' };
    const data = await encryptTo(JSON.stringify(push), custodyEncryptionKey(custody));
    const body = JSON.stringify({ event: 'payment-request', paymentId: message.transactionId, data });
    const authorization = await signRequest(
      { method: 'POST', path: '/fsp/messages', body },
      { issuer: signer.issuer, audience: custody.id, key: signer.key },
    );
    return postRaw(`${test.platform.urls.custody}/fsp/messages`, body, 'application/json', { authorization });
  }

  /** A real request custody forwarded, re-addressed as a new payment with the FSP's key (what a rogue FSP could send). */
  async function fspMessage(accountPayable: string | undefined): Promise<ImsMessage> {
    const accepted = await pay(custodyCustomer.id, 1_00n);
    const wallet = walletOf(custodyCustomer.id, test.platform.credentials.custodyCustomer.deviceToken);
    const view = await requestOf(wallet, accepted.paymentId);
    const fsp = test.platform.fsp;
    const transactionId = randomUUID();
    const base = view.message;
    const message: ImsMessage = {
      ...base,
      transactionId,
      data: { ...base.data, ...(accountPayable === undefined ? {} : { accountPayable }) },
    };
    const fspSign = await signPayload(
      fspSignedContent(message),
      { issuer: fsp.id, audience: custodyCustomer.id, transactionId, expiresInSeconds: 300 },
      fsp.signing.privateJwk,
    );
    return { ...message, address: { ...message.address, fspSign } };
  }

  it('refuses a message whose source is not the FSP', async () => {
    const stranger = await generateSigningKeyPair('ES256');
    const answer = await redirect(await fspMessage(undefined), {
      issuer: test.platform.fsp.id,
      key: stranger.privateJwk,
    });
    expect(answer.code).toBe('CUSTODY_SOURCE_INVALID');
  });

  it('refuses to carry a message for an account its key is not bound to', async () => {
    const answer = await redirect(await fspMessage(randomUUID()), {
      issuer: test.platform.fsp.id,
      key: test.platform.fsp.signing.privateJwk,
    });
    expect(answer.code).toBe('CUSTODY_ACCOUNT_NOT_BOUND');
    // The same message with the bound account is carried: the refusal was about the account only.
    const bound = await redirect(await fspMessage(undefined), {
      issuer: test.platform.fsp.id,
      key: test.platform.fsp.signing.privateJwk,
    });
    expect(bound.status).toBe(200);
  });
});

describe('a stolen keystore file (key on the device)', () => {
  it('tests no PIN offline: without custody even the right PIN opens nothing, and custody counts every guess', async () => {
    const stolen: WalletKeystoreData = structuredClone(test.platform.credentials.customerKeystore);
    const text = JSON.stringify(stolen);
    // Nothing PIN-derived is in the file: no salt, no iteration count, no counter to reset.
    expect(text).not.toMatch(/pbkdf2|salt|iterations|failedAttempts|encryptionPrivateJwk/i);
    // The right PIN against a server that is not custody: no answer, no key.
    const offline = { ...stolen, pinServer: { ...stolen.pinServer, url: 'http://127.0.0.1:9' } };
    expect(await expectCode(unlockKeystore(offline, demoParties.customer.pin))).toBe('SERVICE_UNAVAILABLE');
    // Guessing through custody is counted; the real customer's count is untouched by this test's copy only until it guesses.
    const before = (await triesOf(demoParties.customer.id)).failed_tries;
    expect(await expectCode(unlockKeystore(stolen, '0000'))).toBe('PIN_REFUSED');
    expect((await triesOf(demoParties.customer.id)).failed_tries).toBe(before + 1);
    // The owner's next login does not wipe the thief's guess: it stays counted within the window.
    await unlockKeystore(stolen, demoParties.customer.pin);
    expect((await triesOf(demoParties.customer.id)).failed_tries).toBe(before + 1);
  });
});

describe('one PIN per custody customer', () => {
  it('refuses a device-key wallet PIN for a custody customer (a second PIN whose logins would give back tries)', async () => {
    const customer = await newCustodyCustomer('secondpin');
    // The customer (or whoever holds another key the bank bound to them) enrols a device key too ...
    const operator = bankOperator(xbank, xbank.operatorKey);
    const { code } = await operator.post<{ code: string }>('/enrolment-codes', {
      partyId: customer.partyId,
      accountIds: [customer.account],
    });
    const keys = await generatePartyKeys();
    const enrolment = await enrolDevice(
      { bankUrl: xbank.url, bankId: 'xbank', partyId: customer.partyId, code },
      'phone-with-key',
      keys,
    );
    // ... and tries to register a PIN of their own for it at custody, with a valid proof: refused.
    const refused = await expectCode(
      createKeystore({
        partyId: customer.partyId,
        pin: '2222',
        keys,
        binding: enrolment.binding,
        pinServer: { url: test.platform.urls.custody, custodyId: custody.id },
      }),
    );
    expect(refused).toBe('ENROLMENT_FAILED');
    const { rows } = await test.platform.custody.context.database.query<{ n: string | number }>(
      'SELECT count(*) AS n FROM pin_credentials WHERE party_id = $1',
      [customer.partyId],
    );
    expect(Number(rows[0]!.n)).toBe(1);
  });
});
