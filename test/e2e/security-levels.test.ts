import { demoParties } from '@mpay/cli';
import { encryptTo, signPayload } from '@mpay/envelope';
import { customerSignedContent, defaultSecurityPolicy, type ImsMessage, imsToJson } from '@mpay/protocol';
import { authenticatorCode, fspEncryptionKey, unlockKeystore, type Wallet } from '@mpay/sdk';
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
