import { imsFromJson } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { thrownCodeOf } from '../../../../test/support/code-of.ts';
import { receiptJwsOf } from './receipt.ts';

const message = imsFromJson({
  type: 'small',
  protections: ['merchant_signature', 'fsp_countersignature', 'customer_signature'],
  transactionId: '0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d',
  procedure: 'm-commerce',
  address: {
    from: { id: 'john.bernard@person.xbank' },
    to: { id: 'merkur.trade@merchant.ybank', sign: 'eyJhbGciOiJFUzI1NiJ9..bWVyY2hhbnQ' },
    fspSign: 'eyJhbGciOiJFUzI1NiJ9..ZnNw',
    timestamp: '2026-12-04T10:00:00Z',
  },
  data: { accountPayable: 'acct-1', amount: { currency: 'EUR', value: '12.50' } },
});
const compact = {
  sign: 'eyJhbGciOiJFUzI1NiJ9..c2lnbmF0dXJl',
  claims: { iat: 1_700_000_000, exp: 1_700_086_400, nonce: 'A'.repeat(22) },
  receipt: {
    bankTransferId: 'transfer',
    bankAnswer: 'YmFuaw',
    customerSignature: 'c2ln',
    completedAt: 'now',
  },
};

describe('receiptJwsOf (the confirmation answer, decrypted)', () => {
  it('takes a whole JWS as it is, and makes a receipt/v2 whole from the confirmed message', () => {
    expect(receiptJwsOf('eyJhbGciOiJFUzI1NiJ9.e30.c2ln', undefined, 'fsp')).toBe(
      'eyJhbGciOiJFUzI1NiJ9.e30.c2ln',
    );
    const [header, payload, signature] = receiptJwsOf(JSON.stringify(compact), message, 'fsp.test').split(
      '.',
    );
    expect(`${header}..${signature}`).toBe(compact.sign);
    expect(JSON.parse(Buffer.from(payload ?? '', 'base64url').toString())).toEqual({
      receipt: {
        paymentId: message.transactionId,
        status: 'completed',
        payer: 'john.bernard@person.xbank',
        payee: 'merkur.trade@merchant.ybank',
        accountPayable: 'acct-1',
        amount: { currency: 'EUR', value: '12.50' },
        security: {
          level: 'small',
          protections: ['merchant_signature', 'fsp_countersignature', 'customer_signature'],
        },
        ...compact.receipt,
      },
      iss: 'fsp.test',
      aud: 'john.bernard@person.xbank',
      txn: message.transactionId,
      ...compact.claims,
    });
  });

  it('refuses as MESSAGE_INVALID a compact receipt without the message, or not of its form', () => {
    expect(thrownCodeOf(() => receiptJwsOf(JSON.stringify(compact), undefined, 'fsp.test'))).toBe(
      'MESSAGE_INVALID',
    );
    expect(thrownCodeOf(() => receiptJwsOf('{not json', message, 'fsp.test'))).toBe('MESSAGE_INVALID');
    const derived = { ...compact, receipt: { ...compact.receipt, status: 'refused' } };
    expect(thrownCodeOf(() => receiptJwsOf(JSON.stringify(derived), message, 'fsp.test'))).toBe(
      'MESSAGE_INVALID',
    );
  });
});
