import { createHash } from 'node:crypto';
import { generateSigningKeyPair } from '@mpay/envelope';
import { beforeAll, describe, expect, it } from 'vitest';
import { rejectedCodeOf } from '../../../../test/support/code-of.ts';
import { MerchantCertificates } from '../wallet/certificates.ts';
import {
  claimsOf,
  customerId,
  merchantId,
  type Parties,
  parties,
  paymentRequestPush,
  pushV2,
} from './fixture.test-helper.ts';
import { verifyPaymentRequest } from './verify.ts';

let setup: Parties;

beforeAll(async () => {
  setup = await parties();
});

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
    expect(await rejectedCodeOf(verifyPaymentRequest(push, { partyId: customerId, fsp: setup.fsp }))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
  });

  it('refuses a countersignature by a key that is not the FSP’s', async () => {
    const { push } = await paymentRequestPush(setup, {
      fspSigningKey: await generateSigningKeyPair('ES256'),
    });
    expect(await rejectedCodeOf(verifyPaymentRequest(push, { partyId: customerId, fsp: setup.fsp }))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
  });

  it('refuses a merchant certificate issued for another party', async () => {
    const { push } = await paymentRequestPush(setup, { certificateSubject: 'other.shop@merchant.ybank' });
    expect(await rejectedCodeOf(verifyPaymentRequest(push, { partyId: customerId, fsp: setup.fsp }))).toBe(
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
    expect(await rejectedCodeOf(verifyPaymentRequest(push, { partyId: customerId, fsp: setup.fsp }))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
  });

  it('refuses a push without the merchant’s certificate', async () => {
    const { push } = await paymentRequestPush(setup);
    const { merchantCertificate: _gone, ...rest } = push;
    expect(await rejectedCodeOf(verifyPaymentRequest(rest, { partyId: customerId, fsp: setup.fsp }))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
  });
});

describe('verifyPaymentRequest with push/v2 (both signatures detached in the message, their claims beside it)', () => {
  const context = () => ({ partyId: customerId, fsp: setup.fsp });
  type Claims = Record<'merchant' | 'fsp', Record<string, unknown>>;

  it('makes both signatures whole exactly as signed and shows the same request as the whole message would', async () => {
    const { push, message } = await paymentRequestPush(setup);
    const v2 = pushV2(push, message);
    expect(JSON.stringify(v2).length).toBeLessThan(JSON.stringify(push).length * 0.8);
    const whole = await verifyPaymentRequest(push, context());
    const view = await verifyPaymentRequest(JSON.parse(JSON.stringify(v2)), context());
    expect(view.message.address.to.sign).toBe(message.address.to.sign);
    expect(view.message.address.fspSign).toBe(message.address.fspSign);
    expect(view).toEqual(whole);
  });

  it('refuses content changed after the signatures, and a changed issued, expires or nonce', async () => {
    const { push, message } = await paymentRequestPush(setup);
    const changed = pushV2(push, {
      ...message,
      data: { ...message.data, amount: { currency: 'EUR', minor: 1_50n } },
    });
    expect(await rejectedCodeOf(verifyPaymentRequest(changed, context()))).toBe('CRYPTO_VERIFICATION_FAILED');
    const v2 = pushV2(push, message);
    const claims = v2.signatureClaims as Claims;
    for (const [who, claim, value] of [
      ['merchant', 'exp', Number(claims.merchant.exp) + 600],
      ['fsp', 'iat', Number(claims.fsp.iat) - 1],
      ['fsp', 'nonce', 'A'.repeat(22)],
    ] as const) {
      const moved = { ...v2, signatureClaims: { ...claims, [who]: { ...claims[who], [claim]: value } } };
      expect(await rejectedCodeOf(verifyPaymentRequest(moved, context())), `${who}.${claim}`).toBe(
        'CRYPTO_VERIFICATION_FAILED',
      );
    }
    // The claims swapped, or another payment's, never fit.
    const swapped = { ...v2, signatureClaims: { merchant: claims.fsp, fsp: claims.merchant } };
    expect(await rejectedCodeOf(verifyPaymentRequest(swapped, context()))).toBe('CRYPTO_VERIFICATION_FAILED');
    const other = await paymentRequestPush(setup);
    const foreign = { ...v2, signatureClaims: { ...claims, fsp: claimsOf(other.message.address.fspSign!) } };
    expect(await rejectedCodeOf(verifyPaymentRequest(foreign, context()))).toBe('CRYPTO_VERIFICATION_FAILED');
  });

  it('refuses a push/v2 addressed to another party, or countersigned by a key that is not the FSP’s', async () => {
    const elsewhere = await paymentRequestPush(setup, { from: 'someone.else@person.xbank' });
    expect(
      await rejectedCodeOf(verifyPaymentRequest(pushV2(elsewhere.push, elsewhere.message), context())),
    ).toBe('CRYPTO_VERIFICATION_FAILED');
    const forged = await paymentRequestPush(setup, { fspSigningKey: await generateSigningKeyPair('ES256') });
    expect(await rejectedCodeOf(verifyPaymentRequest(pushV2(forged.push, forged.message), context()))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
  });

  it('refuses claims beside whole signatures, and claims that are not well formed', async () => {
    const { push, message } = await paymentRequestPush(setup);
    const v2 = pushV2(push, message);
    // Which payload would count is never guessed: claims come only with detached signatures.
    expect(
      await rejectedCodeOf(verifyPaymentRequest({ ...push, signatureClaims: v2.signatureClaims }, context())),
    ).toBe('MESSAGE_INVALID');
    const claims = v2.signatureClaims as Claims;
    for (const bad of [
      null,
      [],
      { merchant: claims.merchant },
      { ...claims, extra: claims.fsp },
      { ...claims, merchant: { ...claims.merchant, nonce: undefined } },
      { ...claims, merchant: { ...claims.merchant, sign: message.address.to.sign } },
      { ...claims, fsp: { ...claims.fsp, exp: -1 } },
      { ...claims, fsp: { ...claims.fsp, exp: Number(claims.fsp.iat) - 1 } },
      { ...claims, fsp: { ...claims.fsp, nonce: 'short' } },
    ])
      expect(
        await rejectedCodeOf(verifyPaymentRequest({ ...v2, signatureClaims: bad }, context())),
        JSON.stringify(bad),
      ).toBe('MESSAGE_INVALID');
  });
});

describe('a push/v2 naming a held certificate by reference (the wallet fills it in, then verifies as if it came whole)', () => {
  const context = () => ({ partyId: customerId, fsp: setup.fsp });
  const otherMerchant = 'other.shop@merchant.ybank';

  /** A v2 push for `merkur` that names `certificate` by reference, filled in from a wallet that holds it. */
  async function filledIn(certificate: string) {
    const { push, message } = await paymentRequestPush(setup);
    const { merchantCertificate: _whole, ...v2 } = pushV2(push, message);
    const held = new MerchantCertificates();
    await held.remember(certificate);
    const reference = createHash('sha256').update(certificate, 'utf8').digest('base64url');
    const noFetch = async (): Promise<string> => {
      throw new Error('the wallet holds it: no fetch expected');
    };
    return held.resolve(JSON.parse(JSON.stringify({ ...v2, merchantCertificateSha256: reference })), noFetch);
  }

  it("shows the request when the reference names the payee's own certificate", async () => {
    const own = (await paymentRequestPush(setup)).push.merchantCertificate as string;
    const view = await verifyPaymentRequest(await filledIn(own), context());
    expect(view.merchant).toMatchObject({ id: merchantId, name: 'Merkur Trade' });
  });

  it("refuses it when the reference names another merchant's certificate the wallet holds, even one for the same keys", async () => {
    // The wallet paid other.shop before and kept its certificate; the FSP (or whoever) names it for merkur's request.
    const others = (await paymentRequestPush(setup, { certificateSubject: otherMerchant })).push
      .merchantCertificate as string;
    expect(await rejectedCodeOf(verifyPaymentRequest(await filledIn(others), context()))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
  });
});
