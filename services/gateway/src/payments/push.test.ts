import { attachCanonicalPayload, generateSigningKeyPair, signPayload, verifyPayload } from '@mpay/envelope';
import {
  defaultSecurityPolicy,
  fspSignedContent,
  type ImsMessage,
  imsFromJson,
  imsToJson,
  isDetachedSign,
  merchantSignedContent,
  parsePushSignatureClaims,
  pushDetachedSigns,
  pushSignedPayloads,
} from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { devicePushContent } from './push.ts';

const fspId = 'fsp.test';
const customer = 'john.bernard@person.xbank';
const merchant = 'merkur.trade@merchant.ybank';

/** A message as the FSP has it after step 2: signed by the merchant (over `merchantContent`) and countersigned. */
async function countersigned(merchantContent?: (message: ImsMessage) => Record<string, unknown>) {
  const merchantKey = await generateSigningKeyPair('ES256');
  const fspKey = await generateSigningKeyPair('ES256');
  const unsigned: ImsMessage = {
    type: 'small',
    transactionId: crypto.randomUUID(),
    procedure: 'm-commerce',
    address: {
      from: { id: customer as ImsMessage['address']['from']['id'] },
      to: { id: merchant as ImsMessage['address']['to']['id'] },
      timestamp: new Date().toISOString(),
    },
    data: { amount: { currency: 'EUR', minor: 3_00n }, description: 'tea' },
  };
  const txn = unsigned.transactionId;
  const sign = await signPayload(
    merchantContent?.(unsigned) ?? merchantSignedContent(unsigned),
    { issuer: merchant, audience: fspId, transactionId: txn, expiresInSeconds: 300 },
    merchantKey.privateJwk,
  );
  const filled: ImsMessage = {
    ...unsigned,
    protections: defaultSecurityPolicy.levels.small,
    address: { ...unsigned.address, to: { ...unsigned.address.to, sign } },
    data: { ...unsigned.data, accountPayable: 'acct-1234' },
  };
  const fspSign = await signPayload(
    fspSignedContent(filled),
    { issuer: fspId, audience: customer, transactionId: txn, expiresInSeconds: 600 },
    fspKey.privateJwk,
  );
  return {
    message: { ...filled, address: { ...filled.address, fspSign } } as ImsMessage,
    merchantKey,
    fspKey,
  };
}

describe('devicePushContent (iMS step 2 to the phone)', () => {
  it('sends push/v2 to a phone: both signatures detached in place, their claims beside, rebuilt exactly', async () => {
    const { message, merchantKey, fspKey } = await countersigned();
    const push = devicePushContent(message, 'certificate', { fspId, format: 'v2' });
    const whole = devicePushContent(message, 'certificate', { fspId, format: 'v1' });
    expect(JSON.stringify(push).length).toBeLessThan(JSON.stringify(whole).length * 0.7);
    const sent = JSON.parse(JSON.stringify(push)) as Record<string, unknown>;
    const received = imsFromJson(sent.ims);
    const signs = pushDetachedSigns(received);
    expect(isDetachedSign(signs.merchant) && isDetachedSign(signs.fsp)).toBe(true);
    const claims = parsePushSignatureClaims(sent.signatureClaims);
    const payloads = pushSignedPayloads(received, fspId, claims);
    const merchantSign = attachCanonicalPayload(signs.merchant, payloads.merchant);
    const fspSign = attachCanonicalPayload(signs.fsp, payloads.fsp);
    expect(merchantSign).toBe(message.address.to.sign);
    expect(fspSign).toBe(message.address.fspSign);
    await verifyPayload(
      merchantSign,
      async () => merchantKey.publicJwk,
      {
        issuer: merchant,
        audience: fspId,
        transactionId: message.transactionId,
      },
      { maxAgeSeconds: 600 },
    );
    await verifyPayload(
      fspSign,
      async () => fspKey.publicJwk,
      {
        issuer: fspId,
        audience: customer,
        transactionId: message.transactionId,
      },
      { maxAgeSeconds: 600 },
    );
  });

  it('names a certificate the device holds by its reference in push/v2, never in push/v1', async () => {
    const { message } = await countersigned();
    const reference = 'R'.repeat(43);
    const named = devicePushContent(message, 'certificate', {
      fspId,
      format: 'v2',
      heldCertificate: reference,
    });
    expect(named.merchantCertificateSha256).toBe(reference);
    expect(Object.hasOwn(named, 'merchantCertificate')).toBe(false);
    expect(named.signatureClaims).toBeDefined();
    const whole = devicePushContent(message, 'certificate', {
      fspId,
      format: 'v1',
      heldCertificate: reference,
    });
    expect(whole).toEqual({ ims: imsToJson(message), merchantCertificate: 'certificate' });
  });

  it('sends the whole message (push/v1) when v1 is asked for (custody, an older wallet), and to a phone when a signature cannot be rebuilt exactly', async () => {
    const { message } = await countersigned();
    const asV1 = devicePushContent(message, 'certificate', { fspId, format: 'v1' });
    expect(asV1).toEqual({ ims: imsToJson(message), merchantCertificate: 'certificate' });
    // A merchant that signed more than the message's content: its signature verifies on its own, but a
    // phone rebuilding the payload from the message would get other bytes, so it travels whole.
    const extra = await countersigned((unsigned) => ({
      ...merchantSignedContent(unsigned),
      extra: 'member',
    }));
    const push = devicePushContent(extra.message, 'certificate', { fspId, format: 'v2' });
    expect(push).toEqual({ ims: imsToJson(extra.message), merchantCertificate: 'certificate' });
    // Another FSP id than the one that signed: no exact rebuild, the whole message.
    expect(devicePushContent(message, 'certificate', { fspId: 'fsp.other', format: 'v2' })).toEqual(asV1);
  });
});
