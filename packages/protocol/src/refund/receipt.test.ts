import { describe, expect, it } from 'vitest';
import { refundReceiptContentOf } from './receipt.ts';

const paymentId = '8d0c2f3e-5a1b-4c6d-9e7f-0a1b2c3d4e5f';
const payee = 'ann@person.xbank';
const refundReceipt = {
  refundId: '1f2e3d4c-5b6a-4789-8a7b-6c5d4e3f2a1b',
  paymentId,
  status: 'completed',
  payer: 'shop@merchant.ybank',
  payee,
  amount: { currency: 'EUR', value: '8.00' },
  merchantSignature: 'sig',
  completedAt: '2026-12-02T10:00:00.000Z',
};

describe('refundReceiptContentOf', () => {
  it('reads a completed refund receipt of this payment to this customer', () => {
    expect(refundReceiptContentOf({ refundReceipt }, { paymentId, payee })).toEqual({
      refundId: refundReceipt.refundId,
      paymentId,
      payer: 'shop@merchant.ybank',
      payee,
      status: 'completed',
      amount: { currency: 'EUR', value: '8.00' },
    });
  });

  it('refuses anything else: another payment or payee, not completed, a payment receipt, a bad shape', () => {
    const refused: Record<string, unknown>[] = [
      { refundReceipt: { ...refundReceipt, paymentId: '00000000-0000-4000-8000-000000000000' } },
      { refundReceipt: { ...refundReceipt, payee: 'eve@person.xbank' } },
      { refundReceipt: { ...refundReceipt, status: 'failed' } },
      { refundReceipt: { ...refundReceipt, refundId: 7 } },
      { refundReceipt: { ...refundReceipt, payer: undefined } },
      { refundReceipt: { ...refundReceipt, amount: '8.00' } },
      { refundReceipt: { ...refundReceipt, amount: { currency: 'EUR', value: 800 } } },
      { refundReceipt: { ...refundReceipt, amount: { value: '8.00' } } },
      { refundReceipt: [refundReceipt] },
      { receipt: refundReceipt },
      {},
    ];
    for (const payload of refused)
      expect(refundReceiptContentOf(payload, { paymentId, payee })).toBeUndefined();
  });
});
