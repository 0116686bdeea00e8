import { describe, expect, it } from 'vitest';
import { thrownCodeOf } from '../../../../test/support/code-of.ts';
import { sampleImsJson } from './arbitraries.test-helper.ts';
import { imsFromJson } from './json.ts';
import { parseCompactReceipt, receiptContentOf, receiptKnownToPayer, receiptSentPart } from './receipt.ts';

const sent = {
  bankTransferId: '0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d',
  customerSignature: 'Y3VzdG9tZXItc2lnbmF0dXJl',
  bankAnswer: 'YmFuay1hbnN3ZXI',
  completedAt: '2026-12-04T10:30:00.000Z',
};
const valid = {
  sign: 'eyJhbGciOiJFUzI1NiJ9..c2lnbmF0dXJl',
  claims: { iat: 1_700_000_000, exp: 1_700_086_400, nonce: 'A'.repeat(22) },
  receipt: sent,
};

describe('receipt/v2: the receipt with its signature detached and the payer-derived members left out', () => {
  it('reads a well-formed compact receipt and refuses anything else as MESSAGE_INVALID', () => {
    expect(parseCompactReceipt(valid)).toEqual(valid);
    const hostile: unknown[] = [
      null,
      'eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl',
      { ...valid, extra: 1 },
      { ...valid, sign: 'eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl' },
      { ...valid, claims: { ...valid.claims, nonce: 'short' } },
      { ...valid, receipt: { ...sent, amount: '1.00' } },
      { ...valid, receipt: { ...sent, paymentId: 'x' } },
      { ...valid, receipt: { ...sent, completedAt: 7 } },
      { ...valid, receipt: { ...sent, bankAnswer: 'A'.repeat(1025) } },
      { ...valid, receipt: [] },
      JSON.parse(
        `{"sign":"${valid.sign}","claims":${JSON.stringify(valid.claims)},"receipt":{"__proto__":{}}}`,
      ),
    ];
    for (const value of hostile)
      expect(
        thrownCodeOf(() => parseCompactReceipt(value)),
        JSON.stringify(value),
      ).toBe('MESSAGE_INVALID');
  });

  it('derives what the FSP signs from the message, without the account at a sealing level', () => {
    const message = imsFromJson(sampleImsJson());
    expect(receiptKnownToPayer(message)).toEqual({
      paymentId: message.transactionId,
      status: 'completed',
      payer: 'john.bernard@person.xbank',
      payee: 'merkur.trade@merchant.xbank',
      accountPayable: '1234-5678-9abc',
      amount: { currency: 'EUR', value: '1000.00' },
      security: {
        level: 'medium',
        protections: ['merchant_signature', 'fsp_countersignature', 'customer_signature', 'pin'],
      },
    });
    const sealed = {
      ...message,
      protections: [...(message.protections ?? []), 'private_data_sealed' as const],
    };
    expect(receiptKnownToPayer(sealed)).not.toHaveProperty('accountPayable');
  });

  it('sends only what the payer cannot derive, and refuses a sent member that it derives', () => {
    const known = receiptKnownToPayer(imsFromJson(sampleImsJson()));
    expect(receiptSentPart({ ...known, ...sent }, known)).toEqual(sent);
    expect(receiptContentOf(known, sent)).toEqual({ receipt: { ...known, ...sent } });
    expect(thrownCodeOf(() => receiptContentOf(known, { ...sent, status: 'refused' }))).toBe(
      'MESSAGE_INVALID',
    );
  });
});
