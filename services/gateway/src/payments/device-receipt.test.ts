import { attachCanonicalPayload, generateSigningKeyPair, signPayload, verifyPayload } from '@mpay/envelope';
import {
  defaultSecurityPolicy,
  type ImsMessage,
  parseCompactReceipt,
  receiptSignedPayload,
} from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import type { Party } from '../registry/parties.ts';
import { deviceReceiptContent } from './device-receipt.ts';
import { receiptContent } from './effects.ts';
import type { Payment } from './store.ts';

const fspId = 'fsp.test';
const customer = 'john.bernard@person.xbank';
const merchant = 'merkur.trade@merchant.ybank';
const sign = 'eyJhbGciOiJFUzI1NiJ9.e30.Y3VzdG9tZXItc2lnbmF0dXJl';

/** A completed payment as the gateway holds it: only what the receipt reads is real. */
function completed(level: 'small' | 'large'): Payment {
  const message: ImsMessage = {
    type: level,
    protections: defaultSecurityPolicy.levels[level],
    transactionId: crypto.randomUUID(),
    procedure: 'm-commerce',
    address: {
      from: { id: customer as ImsMessage['address']['from']['id'], sign },
      to: { id: merchant as ImsMessage['address']['to']['id'], sign: 'eyJhbGciOiJFUzI1NiJ9..bWVyY2hhbnQ' },
      fspSign: 'eyJhbGciOiJFUzI1NiJ9..ZnNw',
      timestamp: new Date().toISOString(),
    },
    data: { amount: { currency: 'EUR', minor: 12_50n }, description: 'tea', accountPayable: 'acct-1234' },
  };
  return {
    id: message.transactionId,
    currency: 'EUR',
    message,
    payerAccount: 'acct-1234',
    customer: { id: customer } as Party,
    merchant: { id: merchant } as Party,
  } as Payment;
}

/** The receipt as the gateway signs it (effects.ts), with a key of its own. */
async function signedReceipt(payment: Payment) {
  const key = await generateSigningKeyPair('ES256');
  const evidence = { bankAnswer: 'eyJhbGciOiJFUzI1NiJ9.e30.YmFuaw', transferId: crypto.randomUUID() };
  const jws = await signPayload(
    receiptContent(payment, evidence, new Date()),
    { issuer: fspId, audience: customer, transactionId: payment.id, expiresInSeconds: 86_400 },
    key.privateJwk,
  );
  return { jws, key };
}

/** What the phone does with a receipt/v2 answer: the whole JWS back from the message it confirmed. */
function rebuiltByPhone(text: string, message: ImsMessage): string {
  const sent = parseCompactReceipt(JSON.parse(text));
  return attachCanonicalPayload(sent.sign, receiptSignedPayload(message, fspId, sent));
}

describe('deviceReceiptContent (iMS step 10 in the confirmation answer)', () => {
  it.each(['small', 'large'] as const)(
    'sends receipt/v2 at level %s: under half the bytes, rebuilt byte for byte by the phone, which verifies it',
    async (level) => {
      const payment = completed(level);
      const { jws, key } = await signedReceipt(payment);
      const text = deviceReceiptContent(jws, payment.message, { fspId, toCustody: false });
      expect(text.startsWith('{')).toBe(true);
      expect(text.length).toBeLessThan(jws.length / 2);
      // The phone holds the message as pushed: without its own signature.
      const { sign: _own, ...from } = payment.message.address.from;
      const pushed = { ...payment.message, address: { ...payment.message.address, from } };
      const rebuilt = rebuiltByPhone(text, pushed);
      expect(rebuilt).toBe(jws);
      await verifyPayload(
        rebuilt,
        async () => key.publicJwk,
        {
          issuer: fspId,
          audience: customer,
          transactionId: payment.id,
        },
        { maxAgeSeconds: 86_400 },
      );
    },
  );

  it('sends the whole JWS to custody, and whenever the phone could not rebuild it exactly', async () => {
    const payment = completed('small');
    const { jws } = await signedReceipt(payment);
    expect(deviceReceiptContent(jws, payment.message, { fspId, toCustody: true })).toBe(jws);
    // Another FSP id than the one that signed.
    expect(deviceReceiptContent(jws, payment.message, { fspId: 'fsp.other', toCustody: false })).toBe(jws);
    // A message that states another amount than the receipt.
    const other = {
      ...payment.message,
      data: { ...payment.message.data, amount: { currency: 'EUR' as const, minor: 1n } },
    };
    expect(deviceReceiptContent(jws, other, { fspId, toCustody: false })).toBe(jws);
    // A receipt with a member the phone neither derives nor may be sent.
    const key = await generateSigningKeyPair('ES256');
    const odd = await signPayload(
      { receipt: { ...receiptContent(payment, { bankAnswer: jws }, new Date()).receipt, note: 'x' } },
      { issuer: fspId, audience: customer, transactionId: payment.id, expiresInSeconds: 60 },
      key.privateJwk,
    );
    expect(deviceReceiptContent(odd, payment.message, { fspId, toCustody: false })).toBe(odd);
    expect(deviceReceiptContent('not a jws', payment.message, { fspId, toCustody: false })).toBe('not a jws');
  });
});
