import { randomUUID } from 'node:crypto';
import { bankOperator, demoParties, type RunningBank } from '@mpay/cli';
import {
  decryptAnswer,
  decryptWith,
  encryptTo,
  encryptToWithAnswerKey,
  type PrivateJwk,
  type SigningKey,
  signPayload,
} from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import { customerSignedContent, type ImsMessage, imsToJson } from '@mpay/protocol';
import { type DeviceKeys, enrolDevice, fspEncryptionKey, unlockKeystore } from '@mpay/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePartyKeys } from '../../cli/src/platform/identities.ts';
import { receiptJwsOf } from '../../packages/sdk/src/wallet/receipt.ts';
import { rejectedCodeOf } from '../support/code-of.ts';
import { paymentSettledDeadlineMs } from '../support/deadlines.ts';
import { postRaw, startTestPlatform, suitePolicy, type TestPlatform } from './harness.ts';

/**
 * The rule everything serves, tried as an attacker over real HTTP: no account
 * is debited unless its holder's own signature over that exact debit verifies
 * at the holder's own bank, under a key that bank bound to that account.
 * Every refusal is checked by its stable code AND by both balances.
 */
let test: TestPlatform;
let xbank: RunningBank;
let ybank: RunningBank;
let customerKey: SigningKey;
const { customer, merchant } = demoParties;

/** How far the banks' clock runs ahead of the wall clock (the last test moves it past a binding's validity). */
let bankOffsetMs = 0;

beforeAll(async () => {
  test = await startTestPlatform({ bankClock: () => new Date(Date.now() + bankOffsetMs) });
  xbank = test.platform.banks.find((bank) => bank.id === 'xbank') as RunningBank;
  ybank = test.platform.banks.find((bank) => bank.id === 'ybank') as RunningBank;
  customerKey = (await unlockKeystore(test.platform.credentials.customerKeystore, customer.pin)).signing;
});
afterAll(async () => {
  await test?.close();
});

interface Debit {
  id: string;
  payerId: string;
  debitAccountId: string;
  payeeId: string;
  creditBankId: string;
  amount: bigint;
  currency: string;
}

function debit(overrides: Partial<Debit> = {}): Debit {
  return {
    id: randomUUID(),
    payerId: customer.id,
    debitAccountId: customer.account,
    payeeId: merchant.id,
    creditBankId: 'ybank',
    amount: 1_00n,
    currency: 'EUR',
    ...overrides,
  };
}

/** The customer's signature as the wallet makes it, over the iMS content naming exactly `signed`. */
async function authorise(
  signed: Debit,
  key: PrivateJwk | SigningKey = customerKey,
  now?: () => number,
  level: ImsMessage['type'] = 'small',
): Promise<string> {
  const value = `${signed.amount / 100n}.${(signed.amount % 100n).toString().padStart(2, '0')}`;
  const message: ImsMessage = {
    type: level,
    transactionId: signed.id,
    procedure: 'm-commerce',
    address: {
      from: { id: signed.payerId as ImsMessage['address']['from']['id'] },
      to: { id: signed.payeeId as ImsMessage['address']['to']['id'], sign: 'eyJhIjoiYiJ9.e30.c2ln' },
      fspSign: 'eyJhIjoiYiJ9.e30.c2ln',
      timestamp: new Date().toISOString(),
    },
    data: {
      // At large the private fields are sealed and no account travels in clear (the binding names it).
      ...(level === 'large' ? {} : { accountPayable: signed.debitAccountId }),
      amount: { currency: signed.currency, minor: signed.amount, value } as ImsMessage['data']['amount'],
    },
    ...(level === 'large' ? { protections: suitePolicy.levels.large } : {}),
  };
  return signPayload(
    customerSignedContent(message),
    {
      issuer: signed.payerId,
      audience: test.fsp.id,
      transactionId: signed.id,
      expiresInSeconds: 300,
      ...(now === undefined ? {} : { now }),
    },
    key,
  );
}

/** POST /payment-orders at `bank` as the FSP (signed with the FSP's own key from the data folder). */
async function order(bank: RunningBank, ordered: Debit, authorisation?: string) {
  const body = JSON.stringify({
    id: ordered.id,
    payerId: ordered.payerId,
    debitAccountId: ordered.debitAccountId,
    payeeId: ordered.payeeId,
    creditBankId: ordered.creditBankId,
    amount: ordered.amount.toString(),
    currency: ordered.currency,
    reference: 'attack',
    ...(authorisation === undefined ? {} : { authorisation }),
  });
  const authorization = await signRequest(
    { method: 'POST', path: '/payment-orders', body },
    { issuer: test.fsp.id, audience: bank.id, key: test.platform.fsp.signing.privateJwk },
  );
  return postRaw(`${bank.url}/payment-orders`, body, 'application/json', { authorization });
}

async function expectNothingMoved(run: () => Promise<void>): Promise<void> {
  const before = await test.balances();
  await run();
  expect(await test.balances()).toEqual(before);
}

/** Enrols a second device key at xbank for `partyId` on `accounts` (opened by the bank's operator first). */
async function enrol(partyId: string, accounts: string[]): Promise<{ keys: DeviceKeys; serial: string }> {
  const operator = bankOperator(xbank, xbank.operatorKey);
  const { code } = await operator.post<{ code: string }>('/enrolment-codes', {
    partyId,
    accountIds: accounts,
  });
  const keys = await generatePartyKeys();
  const enrolment = await enrolDevice(
    { bankUrl: xbank.url, bankId: 'xbank', partyId, code },
    `device-${randomUUID().slice(0, 8)}`,
    keys,
  );
  return { keys, serial: enrolment.serial };
}

describe("the customer's bank checks the customer's consent", () => {
  it('control: the exact debit the customer signed is paid once, and its retry pays nothing more', async () => {
    const before = await test.balances();
    const exact = debit();
    const authorisation = await authorise(exact);
    const placed = await order(xbank, exact, authorisation);
    expect([placed.status, placed.body.state]).toEqual([201, 'completed']);
    expect(typeof placed.body.bankAnswer).toBe('string');
    // The FSP retries with the same order (the customer's signature it stored): the same answer.
    const again = await order(xbank, exact, authorisation);
    expect(again.body.state).toBe('completed');
    // The same id with another signature is another request under the same id: refused, nothing moves.
    const other = await order(xbank, exact, await authorise(exact));
    expect(other.code).toBe('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS');
    expect(await test.balances()).toEqual({
      customer: before.customer - exact.amount,
      merchant: before.merchant + exact.amount,
    });
  });

  it('a level signed below what the amount alone requires (an FSP downgrading to skip the second factor)', async () => {
    await expectNothingMoved(async () => {
      const large = debit({ amount: 600_00n });
      for (const level of ['small', 'medium'] as const) {
        const refused = await order(xbank, large, await authorise(large, customerKey, undefined, level));
        expect([refused.status, refused.code], level).toEqual([403, 'SECURITY_LEVEL_TOO_LOW']);
      }
      // Signed as large, the bank asks for the second factor the customer did not seal.
      const asLarge = await order(xbank, large, await authorise(large, customerKey, undefined, 'large'));
      expect([asLarge.status, asLarge.code]).toEqual([403, 'SECOND_FACTOR_REQUIRED']);
    });
  });

  it('an order signed by the FSP without a customer authorisation', async () => {
    await expectNothingMoved(async () => {
      const refused = await order(xbank, debit());
      expect([refused.status, refused.code]).toEqual([403, 'CUSTOMER_AUTHORISATION_REQUIRED']);
      // The refusal is the bank's signed word too, for the FSP to keep.
      expect(String(refused.body.bankAnswer).split('.')).toHaveLength(3);
    });
  });

  it('an authorisation for another amount, payee, currency or transaction', async () => {
    await expectNothingMoved(async () => {
      const signed = debit();
      const authorisation = await authorise(signed);
      for (const [what, changed] of [
        ['amount', { ...signed, amount: 2_00n }],
        ['payee', { ...signed, payeeId: 'nobody.else@merchant.ybank' }],
        ['currency', { ...signed, currency: 'USD' }],
        ['transaction', { ...signed, id: randomUUID() }],
        ['account', { ...signed, debitAccountId: randomUUID() }],
      ] as const) {
        const refused = await order(xbank, changed, authorisation);
        expect([refused.status, refused.code], what).toEqual([403, 'CUSTOMER_AUTHORISATION_INVALID']);
      }
    });
  });

  it('an expired authorisation: the exact debit, signed an hour ago for five minutes', async () => {
    await expectNothingMoved(async () => {
      const signed = debit();
      const stale = await authorise(signed, customerKey, () => Date.now() - 3_600_000);
      const refused = await order(xbank, signed, stale);
      expect([refused.status, refused.code]).toEqual([403, 'CUSTOMER_AUTHORISATION_INVALID']);
    });
  });

  it("a key bound to another party's account cannot be bound, and a key bound to its own account cannot pay from John's", async () => {
    const operator = bankOperator(xbank, xbank.operatorKey);
    const mallory = 'mallory.other@person.xbank';
    const malloryAccount = randomUUID();
    await operator.post('/accounts', {
      id: malloryAccount,
      owner: mallory,
      currency: 'EUR',
      kind: 'customer',
    });
    // The bank binds a key only to accounts its own records say the party holds.
    const stolen = await postRaw(
      `${xbank.url}/enrolment-codes`,
      JSON.stringify({ partyId: mallory, accountIds: [customer.account] }),
      'application/json',
      {
        authorization: await signRequest(
          {
            method: 'POST',
            path: '/enrolment-codes',
            body: JSON.stringify({ partyId: mallory, accountIds: [customer.account] }),
          },
          { issuer: `operator.${xbank.id}`, audience: xbank.id, key: xbank.operatorKey },
        ),
      },
    );
    expect(stolen.code).toBe('ACCOUNT_UNKNOWN');
    const { keys } = await enrol(mallory, [malloryAccount]);
    await expectNothingMoved(async () => {
      for (const attempt of [
        debit({ payerId: mallory }), // Mallory as payer, John's account
        debit(), // Mallory's key signing as John
      ]) {
        const refused = await order(xbank, attempt, await authorise(attempt, keys.signing.privateJwk));
        expect(refused.code).toBe('CUSTOMER_AUTHORISATION_INVALID');
      }
    });
  });

  it('a revoked binding', async () => {
    const { keys, serial } = await enrol(customer.id, [customer.account]);
    const operator = bankOperator(xbank, xbank.operatorKey);
    const valid = debit();
    // Before revocation the second device's key pays (control) …
    expect((await order(xbank, valid, await authorise(valid, keys.signing.privateJwk))).body.state).toBe(
      'completed',
    );
    await operator.post(`/key-bindings/${serial}/revocation`, { reason: 'lost device' });
    const status = await fetch(`${xbank.url}/key-bindings/${serial}`);
    expect(((await status.json()) as { status: string }).status).toBe('revoked');
    // … after it, nothing.
    await expectNothingMoved(async () => {
      const attempt = debit();
      const refused = await order(xbank, attempt, await authorise(attempt, keys.signing.privateJwk));
      expect(refused.code).toBe('CUSTOMER_AUTHORISATION_INVALID');
    });
  });

  it('a credit to a payee that owns no account at the payee bank: refused there, the hold released', async () => {
    await expectNothingMoved(async () => {
      const attempt = debit({ payeeId: 'ghost.shop@merchant.ybank' });
      const refused = await order(xbank, attempt, await authorise(attempt));
      expect(refused.body.state ?? refused.code).toMatch(/refused|PAYEE_UNKNOWN/);
      if (refused.body.state === 'refused') expect(refused.body.refusalCode).toBe('PAYEE_UNKNOWN');
      const local = debit({ payeeId: 'ghost.shop@merchant.xbank', creditBankId: 'xbank' });
      const localRefusal = await order(xbank, local, await authorise(local));
      expect(localRefusal.body.refusalCode ?? localRefusal.code).toBe('PAYEE_UNKNOWN');
    });
    const positions = await bankOperator(ybank, ybank.operatorKey).get<{ positions: unknown[] }>(
      '/settlement/positions',
    );
    expect(Array.isArray(positions.positions)).toBe(true);
  });

  it('an order for a payee naming an account number is not even expressible: the schema takes a party id', async () => {
    const attempt = debit();
    const body = JSON.stringify({
      id: attempt.id,
      payerId: attempt.payerId,
      debitAccountId: attempt.debitAccountId,
      payeeId: attempt.payeeId,
      creditBankId: attempt.creditBankId,
      amount: attempt.amount.toString(),
      currency: attempt.currency,
      reference: 'x',
      creditAccountId: demoParties.merchant.account,
      authorisation: await authorise(attempt),
    });
    const authorization = await signRequest(
      { method: 'POST', path: '/payment-orders', body },
      { issuer: test.fsp.id, audience: xbank.id, key: test.platform.fsp.signing.privateJwk },
    );
    await expectNothingMoved(async () => {
      const refused = await postRaw(`${xbank.url}/payment-orders`, body, 'application/json', {
        authorization,
      });
      expect(refused.code).toBe('REQUEST_INVALID');
    });
  });

  it('an expired binding: a fresh authorisation by a key whose binding ran out moves nothing (a day before, it paid)', async () => {
    const operator = bankOperator(xbank, xbank.operatorKey);
    const shop = 'corner.shop@merchant.xbank';
    await operator.post('/accounts', { id: randomUUID(), owner: shop, currency: 'EUR', kind: 'merchant' });
    const { keys } = await enrol(customer.id, [customer.account]);
    const validityMs = 365 * 86_400_000;
    // Signed at the bank's moved time, so only the binding's validity differs between the two orders.
    const atBankTime = () => Date.now() + bankOffsetMs;
    try {
      bankOffsetMs = validityMs - 86_400_000;
      const before = await test.balances();
      const inTime = debit({ payeeId: shop, creditBankId: 'xbank' });
      const paid = await order(xbank, inTime, await authorise(inTime, keys.signing.privateJwk, atBankTime));
      expect(paid.body.state).toBe('completed');
      expect((await test.balances()).customer).toBe(before.customer - inTime.amount);
      bankOffsetMs = validityMs + 86_400_000;
      await expectNothingMoved(async () => {
        const late = debit({ payeeId: shop, creditBankId: 'xbank' });
        const refused = await order(xbank, late, await authorise(late, keys.signing.privateJwk, atBankTime));
        expect([refused.status, refused.code]).toEqual([403, 'CUSTOMER_AUTHORISATION_INVALID']);
      });
    } finally {
      bankOffsetMs = 0;
    }
  });
});

describe('confirmation, decline and replays at the gateway', () => {
  async function requestAndView() {
    const wallet = test.wallet();
    const abort = new AbortController();
    const requests = wallet.paymentRequests(customer.pin, abort.signal);
    const first = requests.next();
    const accepted = await test.merchant.requestPayment({
      customer: customer.msisdn,
      amount: { currency: 'EUR', minor: 2_00n },
    });
    let view = (await first).value;
    while (view !== undefined && view.paymentId !== accepted.paymentId) view = (await requests.next()).value;
    abort.abort();
    if (view === undefined) throw new Error('the request never reached the device');
    return { wallet, view };
  }

  it('the same confirmation retried after a lost answer gets the same receipt, and the customer is debited once', async () => {
    const before = await test.balances();
    const { wallet, view } = await requestAndView();
    const first = await wallet.confirm(view, customer.pin);
    const retried = await wallet.confirm(view, customer.pin);
    expect(retried.jws).toBe(first.jws);
    // Even signed again by a fresh wallet (the SDK lost its state), the same receipt comes back.
    const resigned = await test.wallet().confirm(view, customer.pin);
    expect(resigned.jws).toBe(first.jws);
    expect((await test.balances()).customer).toBe(before.customer - 2_00n);
  });

  it('a decline is final and logged; the decline replayed as a confirmation is refused and nothing moves', async () => {
    const { wallet, view } = await requestAndView();
    const tracing = test.wallet();
    await expectNothingMoved(async () => {
      await wallet.decline(view, customer.pin);
      const status = await test.merchant.paymentStatus(view.paymentId);
      expect(status.status).toBe('declined');
      await test.platform.merchantShop.waitForNotification(
        view.paymentId,
        'declined',
        paymentSettledDeadlineMs,
      );
      // The decline's signature (as the wallet makes it) put where a confirmation's goes.
      const declineJws = await signPayload(
        {
          signer: 'customer',
          decision: 'decline',
          transactionId: view.paymentId,
          payer: customer.id,
          payee: merchant.id,
          amount: { currency: 'EUR', value: '2.00' },
          fspSign: (view.message.address.fspSign ?? '').split('.')[2] ?? '',
        },
        { issuer: customer.id, audience: test.fsp.id, transactionId: view.paymentId, expiresInSeconds: 300 },
        customerKey,
      );
      const forged = {
        ...view.message,
        address: { ...view.message.address, from: { ...view.message.address.from, sign: declineJws } },
      };
      const jwe = await encryptTo(JSON.stringify({ ims: imsToJson(forged) }), fspEncryptionKey(test.fsp));
      const replay = await postRaw(
        `${test.platform.urls.gateway}/payments/${view.paymentId}/confirmation`,
        jwe,
      );
      expect(replay.code).toBe('CRYPTO_VERIFICATION_FAILED');
      // A genuine confirmation after the decline: the payment is closed.
      await expect(tracing.confirm(view, customer.pin)).rejects.toMatchObject({
        code: 'PAYMENT_STATE_INVALID',
      });
    });
  });

  it('the merchant cancels before the customer answers: final, notified, and the customer can no longer pay', async () => {
    const { view } = await requestAndView();
    await expectNothingMoved(async () => {
      expect((await test.merchant.cancel(view.paymentId, 'out of stock')).status).toBe('cancelled');
      await test.platform.merchantShop.waitForNotification(
        view.paymentId,
        'cancelled',
        paymentSettledDeadlineMs,
      );
      await expect(test.wallet().confirm(view, customer.pin)).rejects.toMatchObject({
        code: 'PAYMENT_CANCELLED',
      });
      await expect(test.merchant.cancel(view.paymentId)).rejects.toMatchObject({ code: 'PAYMENT_CANCELLED' });
    });
  });

  it('an unknown payment and a payment that is not yours get the same answer', async () => {
    const { view } = await requestAndView();
    const stranger = await generatePartyKeys();
    const unknownId = randomUUID();
    const confirmationOf = async (id: string) => {
      const message = { ...view.message, transactionId: id };
      const jwe = await encryptTo(JSON.stringify({ ims: imsToJson(message) }), fspEncryptionKey(test.fsp));
      return postRaw(`${test.platform.urls.gateway}/payments/${id}/confirmation`, jwe);
    };
    const unknown = await confirmationOf(unknownId);
    const registered = await postRaw(
      `${test.platform.urls.gateway}/admin/merchants`,
      JSON.stringify({
        id: 'other.shop@merchant.ybank',
        displayName: 'Other',
        signingJwk: stranger.signing.publicJwk,
        encryptionJwk: stranger.encryption.publicJwk,
      }),
      'application/json',
      { authorization: `Bearer ${test.platform.operatorToken}` },
    );
    expect(registered.status).toBe(201);
    const cancelOther = async (id: string) => {
      const path = `/payments/${id}/cancellation`;
      const authorization = await signRequest(
        { method: 'POST', path, body: '{}' },
        { issuer: 'other.shop@merchant.ybank', audience: test.fsp.id, key: stranger.signing.privateJwk },
      );
      return postRaw(`${test.platform.urls.gateway}${path}`, '{}', 'application/json', { authorization });
    };
    const notYours = await cancelOther(view.paymentId);
    const notThere = await cancelOther(unknownId);
    expect([notYours.status, notYours.code]).toEqual([notThere.status, notThere.code]);
    expect([notYours.status, notYours.code]).toEqual([404, 'PAYMENT_UNKNOWN']);
    expect([unknown.status, unknown.code]).toEqual([404, 'PAYMENT_UNKNOWN']);
    expect((await test.merchant.paymentStatus(view.paymentId)).status).toBe('awaiting_customer');
  });

  it('a detached consent (consent/v1) is checked against the FSP’s own copy: altered claims, a stranger’s key, hostile members', async () => {
    const { view } = await requestAndView();
    const url = `${test.platform.urls.gateway}/payments/${view.paymentId}/confirmation`;
    const consentOf = async (key: PrivateJwk | SigningKey, content = customerSignedContent(view.message)) => {
      const sign = await signPayload(
        content,
        { issuer: customer.id, audience: test.fsp.id, transactionId: view.paymentId, expiresInSeconds: 300 },
        key,
      );
      const [header, payload, signature] = sign.split('.');
      const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<
        string,
        unknown
      >;
      return { sign: `${header}..${signature}`, iat: claims.iat, exp: claims.exp, nonce: claims.nonce };
    };
    const post = async (consent: unknown) =>
      postRaw(url, await encryptTo(JSON.stringify({ consent }), fspEncryptionKey(test.fsp)));
    // Each refusal below is checked against the payment as its request committed it (payments/recent.ts) ...
    const recent = test.platform.gateway.context.recentPayments;
    if (recent === undefined) throw new Error('the gateway keeps no recent payments');
    const remembered = recent.get(view.paymentId);
    expect(remembered?.state).toBe('awaiting_customer_signature');
    await expectNothingMoved(async () => {
      const genuine = await consentOf(customerKey);
      // Another nonce or expiry than the one signed: the re-attached payload is not the signed one.
      expect((await post({ ...genuine, nonce: 'B'.repeat(22) })).code).toBe('CRYPTO_VERIFICATION_FAILED');
      expect((await post({ ...genuine, exp: Number(genuine.exp) + 1 })).code).toBe(
        'CRYPTO_VERIFICATION_FAILED',
      );
      // Signed over another amount: the FSP re-attaches its own copy, which the signature does not cover.
      const altered = customerSignedContent({
        ...view.message,
        data: { ...view.message.data, amount: { ...view.message.data.amount, minor: 1n } },
      });
      expect((await post(await consentOf(customerKey, altered))).code).toBe('CRYPTO_VERIFICATION_FAILED');
      // A key registered to someone else: the answer of an unknown payment.
      const stranger = test.platform.credentials.merchantKeys.signing.privateJwk;
      expect((await post(await consentOf(stranger))).code).toBe('PAYMENT_UNKNOWN');
      // Hostile shapes never reach a signature check.
      for (const hostile of [{ ...genuine, ims: {} }, { ...genuine, sign: `${genuine.sign}x.y` }, [], 'x']) {
        expect((await post(hostile)).code).toBe('MESSAGE_INVALID');
      }
      expect((await test.merchant.paymentStatus(view.paymentId)).status).toBe('awaiting_customer');
    });
    // ... and none of them, a stranger's key included, made the gateway forget it for the customer's own.
    expect(recent.get(view.paymentId)).toBe(remembered);
    // The genuine detached consent pays: the bank verified the re-attached, full signature.
    const genuine = await consentOf(customerKey);
    const paid = await post(genuine);
    expect(paid.status).toBe(200);
    expect(recent.get(view.paymentId)).toBeUndefined();
    // A client that does not ask for receipt/v2 gets the whole receipt JWS; one that asks gets the
    // compact form, which the wallet's rebuild from the message it confirmed turns into the same JWS.
    const { encryption } = await unlockKeystore(test.platform.credentials.customerKeystore, customer.pin);
    const opened = async (answer: { body: Record<string, unknown> }) =>
      new TextDecoder().decode(await decryptWith(String(answer.body.receipt), [encryption]));
    const whole = await opened(paid);
    expect(whole.split('.')).toHaveLength(3);
    const compactAnswer = await postRaw(
      `${url}?receipt=v2`,
      await encryptTo(JSON.stringify({ consent: genuine }), fspEncryptionKey(test.fsp)),
    );
    expect(compactAnswer.status).toBe(200);
    const compact = await opened(compactAnswer);
    expect(compact.startsWith('{')).toBe(true);
    expect(compact.length).toBeLessThan(whole.length / 2);
    expect(receiptJwsOf(compact, view.message, test.fsp.id)).toBe(whole);
    // receipt/v3: the same compact form under this confirmation's own answer key (dir), which only its sender and
    // the FSP can derive; not a JWE to the device's key.
    const sent = await encryptToWithAnswerKey(
      JSON.stringify({ consent: genuine }),
      fspEncryptionKey(test.fsp),
    );
    const v3 = await postRaw(`${url}?receipt=v3`, sent.jwe);
    expect(v3.status).toBe(200);
    const underAnswerKey = new TextDecoder().decode(
      await decryptAnswer(String(v3.body.receipt), sent.answerKey),
    );
    expect(receiptJwsOf(underAnswerKey, view.message, test.fsp.id)).toBe(whole);
    expect(await rejectedCodeOf(decryptWith(String(v3.body.receipt), [encryption]))).toBe(
      'CRYPTO_ALGORITHM_REJECTED',
    );
    // A form this gateway does not know reads as v1, the whole JWS, which every wallet reads (never a 400).
    const unknown = await postRaw(
      `${url}?receipt=v9`,
      await encryptTo(JSON.stringify({ consent: genuine }), fspEncryptionKey(test.fsp)),
    );
    expect(await opened(unknown)).toBe(whole);
  });
});
