import { generateSigningKeyPair } from '@mpay/envelope';
import { isMpayError } from '@mpay/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { customerId, merchantId, type Parties, parties, paymentRequestPush } from './fixture.test-helper.ts';
import { verifyPaymentRequest } from './verify.ts';

let setup: Parties;

beforeAll(async () => {
  setup = await parties();
});

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
}

describe('verifyPaymentRequest (iMS step 3, shared by both wallets)', () => {
  it('shows a request the FSP countersigned and the certified merchant signed, addressed to this party', async () => {
    const { push, message } = await paymentRequestPush(setup);
    const view = await verifyPaymentRequest(push, { partyId: customerId, fsp: setup.fsp });
    expect(view).toMatchObject({
      paymentId: message.transactionId,
      merchant: { id: 'merkur.trade@merchant.ybank', name: 'Merkur Trade' },
      amount: { currency: 'EUR', value: '12.50', minor: 12_50n },
      description: 'espresso beans',
      procedure: 'm-commerce',
      securityLevel: 'small',
    });
  });

  it('shows the name the FSP certified, whatever the push’s unsigned merchantName says', async () => {
    for (const pushedName of ['Evil Corp', 'Merkur Trade \u202eedarT', null]) {
      const { push } = await paymentRequestPush(setup, { pushedName });
      const view = await verifyPaymentRequest(push, { partyId: customerId, fsp: setup.fsp });
      expect(view.merchant, String(pushedName)).toEqual({ id: merchantId, name: 'Merkur Trade' });
    }
    const { push } = await paymentRequestPush(setup, { certifiedName: 'Merkur Trade Skopje' });
    const view = await verifyPaymentRequest(
      { ...push, merchantName: 'Evil Corp' },
      { partyId: customerId, fsp: setup.fsp },
    );
    expect(view.merchant).toEqual({ id: merchantId, name: 'Merkur Trade Skopje' });
  });

  it('shows the merchant’s id, flagged nameCertified: false, when its certificate names no one', async () => {
    const { push } = await paymentRequestPush(setup, { certifiedName: null, pushedName: 'Merkur Trade' });
    const view = await verifyPaymentRequest(push, { partyId: customerId, fsp: setup.fsp });
    expect(view.merchant).toEqual({ id: merchantId, name: merchantId, nameCertified: false });
  });

  it('refuses a request addressed to another party', async () => {
    const { push } = await paymentRequestPush(setup, { from: 'someone.else@person.xbank' });
    expect(await codeOf(verifyPaymentRequest(push, { partyId: customerId, fsp: setup.fsp }))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
  });

  it('refuses a countersignature by a key that is not the FSP’s', async () => {
    const { push } = await paymentRequestPush(setup, {
      fspSigningKey: await generateSigningKeyPair('ES256'),
    });
    expect(await codeOf(verifyPaymentRequest(push, { partyId: customerId, fsp: setup.fsp }))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
  });

  it('refuses a merchant certificate issued for another party', async () => {
    const { push } = await paymentRequestPush(setup, { certificateSubject: 'other.shop@merchant.ybank' });
    expect(await codeOf(verifyPaymentRequest(push, { partyId: customerId, fsp: setup.fsp }))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
  });

  it('refuses content changed after the signatures (the amount shown must be the amount signed)', async () => {
    const { push } = await paymentRequestPush(setup, {
      mutate: (message) => ({
        ...message,
        data: { ...message.data, amount: { currency: 'EUR', minor: 1_50n } },
      }),
    });
    expect(await codeOf(verifyPaymentRequest(push, { partyId: customerId, fsp: setup.fsp }))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
  });

  it('refuses a push without the merchant’s certificate', async () => {
    const { push } = await paymentRequestPush(setup);
    const { merchantCertificate: _gone, ...rest } = push;
    expect(await codeOf(verifyPaymentRequest(rest, { partyId: customerId, fsp: setup.fsp }))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
  });
});
