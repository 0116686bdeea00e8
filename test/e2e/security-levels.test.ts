import { randomUUID } from 'node:crypto';
import { bankOperator, demoParties } from '@mpay/cli';
import {
  encryptTo,
  generateEncryptionKeyPair,
  openPrivateData,
  sealPrivateData,
  signPayload,
} from '@mpay/envelope';
import { requestJson, signRequest } from '@mpay/http-client';
import {
  customerSignedContent,
  defaultSecurityPolicy,
  fspSignedContent,
  type ImsMessage,
  imsToJson,
  merchantSignedContent,
} from '@mpay/protocol';
import {
  authenticatorCode,
  fspEncryptionKey,
  unlockKeystore,
  verifyPaymentRequest,
  type Wallet,
} from '@mpay/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode, postRaw, startTestPlatform, type TestPlatform } from './harness.ts';

/**
 * The iMS levels under the default policy, over real HTTP: the level is the
 * gateway's alone, from the amount and the customer's recent payments, and
 * each level's protections are in the message the customer signs and in the
 * receipt. This file's platform is its own, so the history starts empty.
 */
let test: TestPlatform;

beforeAll(async () => {
  test = await startTestPlatform({ securityPolicy: defaultSecurityPolicy });
});
afterAll(async () => {
  await test?.close();
});

/** The merchant asks, the customer's wallet receives the countersigned request. */
async function request(amountMinor: bigint, minimumLevel?: 'small' | 'medium' | 'large') {
  const wallet = test.wallet();
  const abort = new AbortController();
  const requests = wallet.paymentRequests(demoParties.customer.pin, abort.signal);
  const first = requests.next();
  const accepted = await test.merchant.requestPayment({
    customer: demoParties.customer.msisdn,
    amount: { currency: 'EUR', minor: amountMinor },
    description: 'one piece of a larger purchase',
    ...(minimumLevel === undefined ? {} : { minimumLevel }),
  });
  let view = (await first).value!;
  while (view.paymentId !== accepted.paymentId) view = (await requests.next()).value!;
  abort.abort();
  return { wallet, accepted, view };
}

async function pay(amountMinor: bigint): Promise<{ level: string; protections: readonly string[] }> {
  const { wallet, accepted, view } = await request(amountMinor);
  expect(view.message.type).toBe(accepted.securityLevel);
  expect(view.message.protections).toEqual(accepted.protections);
  const receipt = await (wallet as Wallet).confirm(view, demoParties.customer.pin);
  const security = (receipt.payload.receipt as { security: { level: string; protections: string[] } })
    .security;
  expect(security).toEqual({ level: accepted.securityLevel, protections: accepted.protections });
  return { level: accepted.securityLevel, protections: accepted.protections };
}

describe('security levels', () => {
  it('steps a purchase split into €29 pieces up at the 4th piece, and the PIN comes back with it', async () => {
    const before = await test.balances();
    const pieces: { level: string; protections: readonly string[] }[] = [];
    for (let piece = 0; piece < 4; piece += 1) pieces.push(await pay(29_00n));
    expect(pieces.map((piece) => piece.level)).toEqual(['small', 'small', 'small', 'medium']);
    expect(pieces.map((piece) => piece.protections.includes('pin'))).toEqual([false, false, false, true]);
    // The 4th piece passed €100 since the last full authentication: no exemption for it.
    const after = await test.balances();
    expect(before.customer - after.customer).toBe(4n * 29_00n);
    expect(after.merchant - before.merchant).toBe(4n * 29_00n);
    // After the full authentication of the 4th, small payments are exempt again.
    const fifth = await pay(5_00n);
    expect(fifth).toEqual({ level: 'small', protections: defaultSecurityPolicy.levels.small });
  });

  it("asks a large payment for the second factor and the bank's approval: missing, wrong and replayed codes refused, a good one pays", async () => {
    const authenticator = test.platform.credentials.customerAuthenticator;
    if (authenticator === undefined) throw new Error('the seed gives the demo customer an authenticator');
    const before = await test.balances();
    // No code: the wallet refuses before it signs anything.
    const first = await request(600_00n);
    expect(first.accepted.securityLevel).toBe('large');
    expect(first.view.protections).toEqual(defaultSecurityPolicy.levels.large);
    expect(await expectCode(first.wallet.confirm(first.view, demoParties.customer.pin))).toBe(
      'SECOND_FACTOR_REQUIRED',
    );
    // A wrong code reaches the customer's bank sealed, and the bank refuses it.
    const code = authenticatorCode(authenticator, new Date());
    const wrong = code === '000000' ? '111111' : '000000';
    expect(
      await expectCode(
        first.wallet.confirm(first.view, demoParties.customer.pin, { secondFactorCode: wrong }),
      ),
    ).toBe('SECOND_FACTOR_INVALID');
    expect(await test.balances()).toEqual(before);
    // The right code: paid, with the level's protections in the receipt.
    const second = await request(600_00n);
    const receipt = await second.wallet.confirm(second.view, demoParties.customer.pin, {
      secondFactorCode: code,
    });
    expect((receipt.payload.receipt as { security: unknown }).security).toEqual({
      level: 'large',
      protections: defaultSecurityPolicy.levels.large,
    });
    const paid = await test.balances();
    expect(before.customer - paid.customer).toBe(600_00n);
    // The same code again (a replay, or a second payment in the same 30 s): refused, nothing moves.
    const third = await request(600_00n);
    expect(
      await expectCode(
        third.wallet.confirm(third.view, demoParties.customer.pin, { secondFactorCode: code }),
      ),
    ).toBe('SECOND_FACTOR_INVALID');
    expect(await test.balances()).toEqual(paid);
  });

  it('refuses a large confirmation that carries no sealed code, at the FSP', async () => {
    const { view } = await request(700_00n);
    const keys = await unlockKeystore(test.platform.credentials.customerKeystore, demoParties.customer.pin);
    const sign = await signPayload(
      customerSignedContent(view.message),
      {
        issuer: demoParties.customer.id,
        audience: test.fsp.id,
        transactionId: view.paymentId,
        expiresInSeconds: 300,
      },
      keys.signing,
    );
    const signed: ImsMessage = {
      ...view.message,
      address: { ...view.message.address, from: { ...view.message.address.from, sign } },
    };
    const jwe = await encryptTo(JSON.stringify({ ims: imsToJson(signed) }), fspEncryptionKey(test.fsp));
    const answer = await postRaw(
      `${test.platform.urls.gateway}/payments/${view.paymentId}/confirmation`,
      jwe,
      'application/jose',
    );
    expect([answer.status, answer.code]).toEqual([403, 'SECOND_FACTOR_REQUIRED']);
  });

  it('gives a merchant that asks for more the higher level, never less than its own assessment', async () => {
    const { accepted } = await request(2_00n, 'large');
    expect(accepted.securityLevel).toBe('large');
    expect(accepted.protections).toEqual(defaultSecurityPolicy.levels.large);
  });
});

describe('the private fields of a large payment, sealed by the merchant', () => {
  const description = 'Espresso machine for the office, order 4711';
  const orderLines = [
    {
      name: 'Espresso machine DeLuxe',
      quantity: 1,
      unitAmount: { currency: 'EUR' as const, minor: 590_00n },
    },
    { name: 'Descaler', quantity: 2, unitAmount: { currency: 'EUR' as const, minor: 5_00n } },
  ];

  /** The merchant asks for €600 with a description and a cart; the wallet gets the request. */
  async function sealedRequest() {
    const wallet = test.wallet();
    const abort = new AbortController();
    const requests = wallet.paymentRequests(demoParties.customer.pin, abort.signal);
    const first = requests.next();
    const accepted = await test.merchant.requestPayment({
      customer: demoParties.customer.msisdn,
      amount: { currency: 'EUR', minor: 600_00n },
      description,
      orderLines,
    });
    let view = (await first).value!;
    while (view.paymentId !== accepted.paymentId) view = (await requests.next()).value!;
    abort.abort();
    return { wallet, accepted, view };
  }

  it('the customer reads them, the FSP can neither read nor alter them, the bank opens its copy, and the payment is paid', async () => {
    // The demo customer starts with €1,000, and the tests above spent most of it.
    const xbank = test.platform.banks.find((bank) => bank.id === 'xbank')!;
    await bankOperator(xbank, xbank.operatorKey).post('/transfers', {
      id: randomUUID(),
      debitAccountId: demoParties.bank.fundingAccount,
      creditAccountId: demoParties.customer.account,
      amount: '100000',
      currency: 'EUR',
    });
    const before = await test.balances();
    const { wallet, accepted, view } = await sealedRequest();
    expect(accepted.protections).toContain('private_data_sealed');
    // The customer's wallet opened its copy: what is bought, from the merchant, unseen by the FSP.
    expect(view).toMatchObject({ sealed: true, description, orderLines });
    expect(view.message.data).not.toHaveProperty('description');
    expect(view.message.data).not.toHaveProperty('accountPayable');

    // Read: the FSP's own key opens none of the three copies, and the message it stored (and logs)
    // holds no private text and no account (it keeps the bank's ledger id for the order, apart).
    const fspKey = test.platform.fsp.encryption.privateJwk;
    const sealed = view.message.data.sealed!;
    for (const reader of ['customer', 'payerBank', 'payeeBank'] as const)
      expect(await expectCode(openPrivateData(sealed, reader, [fspKey], view.paymentId))).toBe(
        'CRYPTO_DECRYPTION_FAILED',
      );
    const { rows } = await test.platform.gateway.context.database.query<Record<string, unknown>>(
      'SELECT message FROM payments WHERE id = $1',
      [view.paymentId],
    );
    const stored = JSON.stringify(rows);
    expect(stored).toContain(sealed.content);
    for (const secret of [description, 'Descaler', demoParties.customer.account])
      expect(stored).not.toContain(secret);

    // Alter before the customer: the FSP swaps in another sealed text and countersigns again. The
    // merchant's signature covers the sealed fields, so the wallet refuses the request.
    const elsewhere = (await generateEncryptionKeyPair()).publicJwk;
    const other = await sealPrivateData(
      { transactionId: view.paymentId, description: 'Something cheaper' },
      { customer: elsewhere, payerBank: elsewhere, payeeBank: elsewhere },
    );
    const { body: merchantParty } = await requestJson<{ certificate: string }>(
      `${test.platform.urls.gateway}/parties/${demoParties.merchant.id}`,
    );
    const countersigned = async (message: ImsMessage) => {
      const fspSign = await signPayload(
        fspSignedContent(message),
        {
          issuer: test.fsp.id,
          audience: demoParties.customer.id,
          transactionId: view.paymentId,
          expiresInSeconds: 300,
        },
        test.platform.fsp.signing.privateJwk,
      );
      return {
        ims: imsToJson({ ...message, address: { ...message.address, fspSign } }),
        merchantCertificate: merchantParty.certificate,
        merchantName: 'Merkur',
      };
    };
    const checkAs = { partyId: demoParties.customer.id, fsp: test.fsp };
    const swapped = {
      ...view.message,
      data: { ...view.message.data, sealed: { ...sealed, content: other.content } },
    };
    expect(await expectCode(verifyPaymentRequest(await countersigned(swapped), checkAs))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
    // Control: the same countersigning of the message as the merchant sealed it verifies.
    await verifyPaymentRequest(await countersigned(view.message), checkAs);

    // Alter after the customer: the customer's signature covers the sealed fields too. An FSP that
    // orders the debit with them changed is refused by the customer's bank, and nothing moves.
    const keys = await unlockKeystore(test.platform.credentials.customerKeystore, demoParties.customer.pin);
    const customerSign = await signPayload(
      customerSignedContent(view.message),
      {
        issuer: demoParties.customer.id,
        audience: test.fsp.id,
        transactionId: view.paymentId,
        expiresInSeconds: 300,
      },
      keys.signing,
    );
    const [header, payload, signature] = customerSign.split('.');
    const content = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
    content.data.sealed.content = other.content;
    const tampered = `${header}.${Buffer.from(JSON.stringify(content)).toString('base64url')}.${signature}`;
    const orderBody = JSON.stringify({
      id: view.paymentId,
      payerId: demoParties.customer.id,
      debitAccountId: demoParties.customer.account,
      payeeId: demoParties.merchant.id,
      creditBankId: 'ybank',
      amount: '60000',
      currency: 'EUR',
      reference: 'altered by the FSP',
      authorisation: tampered,
    });
    const authorization = await signRequest(
      { method: 'POST', path: '/payment-orders', body: orderBody },
      { issuer: test.fsp.id, audience: xbank.id, key: test.platform.fsp.signing.privateJwk },
    );
    const refused = await postRaw(`${xbank.url}/payment-orders`, orderBody, 'application/json', {
      authorization,
    });
    expect([refused.status, refused.code]).toEqual([403, 'CUSTOMER_AUTHORISATION_INVALID']);
    expect(await test.balances()).toEqual(before);

    const authenticator = test.platform.credentials.customerAuthenticator!;
    const receipt = await wallet.confirm(view, demoParties.customer.pin, {
      // The next 30 s step's code: the bank takes one step either side, and an earlier test spent this one.
      secondFactorCode: authenticatorCode(authenticator, new Date(Date.now() + 30_000)),
    });
    expect(
      (receipt.payload.receipt as { security: { protections: string[] } }).security.protections,
    ).toContain('private_data_sealed');
    // The receipt goes into the public log: no account number in it either.
    expect(receipt.payload.receipt).not.toHaveProperty('accountPayable');
    const after = await test.balances();
    expect(before.customer - after.customer).toBe(600_00n);
  });

  it('a description in clear at a level that seals it: PRIVATE_DATA_NOT_SEALED, and nothing is asked of the customer', async () => {
    const before = await test.balances();
    const answer = test.merchant.requestPayment({
      customer: demoParties.customer.msisdn,
      amount: { currency: 'EUR', minor: 650_00n },
      description,
      seal: false,
    });
    expect(await expectCode(answer)).toBe('PRIVATE_DATA_NOT_SEALED');
    expect(await test.balances()).toEqual(before);
  });

  it('a copy the device cannot open is shown as unreadable, can only be declined, and does not stop later requests', async () => {
    const wallet = test.wallet();
    const abort = new AbortController();
    const requests = wallet.paymentRequests(demoParties.customer.pin, abort.signal);
    const first = requests.next();
    // A merchant (or a bug) seals the device's copy so that it names the device's key but does not open.
    const { message } = await test.merchant.buildPaymentRequest({
      customer: demoParties.customer.id,
      amount: { currency: 'EUR', minor: 4_00n },
      description: 'unreadable on purpose',
    });
    const deviceKid = test.platform.credentials.customerKeystore.encryptionPublicJwk.kid;
    const foreign = await encryptTo(new Uint8Array(32), (await generateEncryptionKeyPair()).publicJwk);
    const [header, ...rest] = foreign.split('.');
    const relabelled = { ...JSON.parse(Buffer.from(header!, 'base64url').toString('utf8')), kid: deviceKid };
    const customerCopy = [Buffer.from(JSON.stringify(relabelled)).toString('base64url'), ...rest].join('.');
    const unsigned: ImsMessage = {
      ...message,
      address: { ...message.address, to: { id: message.address.to.id } },
      data: { ...message.data, sealed: { ...message.data.sealed!, customer: customerCopy } },
    };
    const sign = await signPayload(
      merchantSignedContent(unsigned),
      {
        issuer: demoParties.merchant.id,
        audience: test.fsp.id,
        transactionId: unsigned.transactionId,
        expiresInSeconds: 300,
      },
      test.platform.credentials.merchantKeys.signing.privateJwk,
    );
    const signed = { ...unsigned, address: { ...unsigned.address, to: { ...unsigned.address.to, sign } } };
    const jwe = await encryptTo(JSON.stringify({ ims: imsToJson(signed) }), fspEncryptionKey(test.fsp));
    await test.merchant.submit(jwe);
    let view = (await first).value!;
    while (view.paymentId !== signed.transactionId) view = (await requests.next()).value!;
    expect(view).toMatchObject({ sealed: true, privateDataUnreadable: true, description: undefined });
    expect(await expectCode(wallet.confirm(view, demoParties.customer.pin))).toBe('PRIVATE_DATA_INVALID');
    await wallet.decline(view, demoParties.customer.pin);
    // The stream goes on: the next request arrives and opens.
    const next = requests.next();
    const honest = await test.merchant.requestPayment({
      customer: demoParties.customer.msisdn,
      amount: { currency: 'EUR', minor: 3_00n },
      description: 'readable',
    });
    let later = (await next).value!;
    while (later.paymentId !== honest.paymentId) later = (await requests.next()).value!;
    abort.abort();
    expect(later).toMatchObject({ sealed: true, description: 'readable' });
    expect(later.privateDataUnreadable).toBeUndefined();
  });
});
