import type { CustodyPaymentRequestView, Receipt, RefundReceipt } from '@mpay/sdk';
import { describe, expect, it } from 'vitest';
import {
  recordOfAnswer,
  recordOfRefund,
  recordOfRequest,
  recordOfStatement,
  recordOfUnverified,
} from './records.ts';
import type { CustodyPaymentRecord } from './store.ts';

/** The phone's record of a custody payment: what arrives later never undoes an answer. */
const paymentId = '01a23a77-0000-7000-8000-000000000001';

function view(): CustodyPaymentRequestView {
  return {
    paymentId,
    merchant: { id: 'merkur.trade@merchant.ybank', name: 'Merkur Trade' },
    amount: { currency: 'EUR', value: '7.25', minor: 725n },
    description: 'Two flat whites',
    sealed: true,
    procedure: 'm-commerce',
    securityLevel: 'small',
    protections: ['merchant_signature', 'fsp_countersignature', 'customer_signature', 'pin'],
    forward: 'a.b.c',
  } as unknown as CustodyPaymentRequestView;
}

function statement(payload: Record<string, unknown>): Receipt {
  return { jws: 'x.y.z', payload };
}

const t0 = '2026-12-03T05:00:00.000Z';
const t1 = '2026-12-03T05:01:00.000Z';

describe('custody payment records', () => {
  it('keeps a verified request as pending with its forward, and forgets the forward once answered', () => {
    const pending = recordOfRequest(view(), t0, undefined);
    expect(pending).toMatchObject({ status: 'pending', forward: 'a.b.c', amount: { value: '7.25' } });
    const authorised = recordOfAnswer('authorised', t1, pending);
    expect(authorised.status).toBe('authorised');
    expect(authorised.forward).toBeUndefined();
    // The same request read again from the inbox does not make it answerable again.
    expect(recordOfRequest(view(), t1, authorised)).toBe(authorised);
  });

  it('completes on the FSP receipt, and a later outcome does not undo it', () => {
    const pending = recordOfRequest(view(), t0, undefined);
    const completed = recordOfStatement(
      'receipt',
      statement({
        receipt: { status: 'completed', completedAt: t1, amount: { currency: 'EUR', value: '7.25' } },
      }),
      paymentId,
      t1,
      pending,
    );
    expect(completed).toMatchObject({ status: 'completed', statement: 'x.y.z', completedAt: t1 });
    expect(completed.merchant?.name).toBe('Merkur Trade');
    const late = recordOfStatement(
      'outcome',
      statement({ paymentOutcome: { status: 'expired' } }),
      paymentId,
      t1,
      completed,
    );
    expect(late).toBe(completed);
  });

  it('takes an outcome with its failure code; an unknown outcome status is a failure, never a payment', () => {
    const pending = recordOfRequest(view(), t0, undefined);
    const declined = recordOfStatement(
      'outcome',
      statement({ paymentOutcome: { status: 'declined', failureCode: 'PAYMENT_DECLINED', at: t1 } }),
      paymentId,
      t1,
      pending,
    );
    expect(declined).toMatchObject({ status: 'declined', failureCode: 'PAYMENT_DECLINED' });
    const odd = recordOfStatement(
      'outcome',
      statement({ paymentOutcome: { status: 'completed' } }),
      paymentId,
      t1,
      pending,
    );
    expect(odd.status).toBe('failed');
  });

  it('keeps a request that failed to verify by its code (expired when only too old), never over an answer', () => {
    expect(recordOfUnverified(paymentId, 'CRYPTO_VERIFICATION_FAILED', t0, undefined)).toMatchObject({
      status: 'unverified',
      verificationCode: 'CRYPTO_VERIFICATION_FAILED',
    });
    const pending = recordOfRequest(view(), t0, undefined);
    const expired = recordOfUnverified(paymentId, 'MESSAGE_EXPIRED', t1, pending);
    expect(expired).toMatchObject({ status: 'expired', merchant: { name: 'Merkur Trade' } });
    expect(expired.forward).toBeUndefined();
    const answered: CustodyPaymentRecord = recordOfAnswer('declined', t1, pending);
    expect(recordOfUnverified(paymentId, 'CUSTODY_SOURCE_INVALID', t1, answered)).toBe(answered);
  });
});

describe('custody refund records', () => {
  const refundId = '01a23a77-0000-7000-8000-0000000000f1';

  function refundReceipt(change: Partial<RefundReceipt> = {}): RefundReceipt {
    return {
      jws: 'r.s.t',
      refundId,
      paymentId,
      payer: 'merkur.trade@merchant.ybank',
      amount: { currency: 'EUR', value: '2.00' },
      payload: {},
      ...change,
    };
  }

  it("keeps the refund in minor units with the receipt, named as the payment's certified merchant", () => {
    const pending = recordOfRequest(view(), t0, undefined);
    expect(recordOfRefund(refundReceipt(), t1, pending)).toEqual({
      refundId,
      paymentId,
      merchantId: 'merkur.trade@merchant.ybank',
      merchantName: 'Merkur Trade',
      amountMinor: '200',
      currency: 'EUR',
      at: t1,
      receiptJws: 'r.s.t',
    });
  });

  it('names no one the payment does not vouch for: another payer, another payment, or no certified name', () => {
    const pending = recordOfRequest(view(), t0, undefined);
    expect(recordOfRefund(refundReceipt({ payer: 'other@merchant.ybank' }), t1, pending).merchantName).toBe(
      undefined,
    );
    const otherPayment = { ...pending, paymentId: '01a23a77-0000-7000-8000-000000000002' };
    expect(recordOfRefund(refundReceipt(), t1, otherPayment).merchantName).toBe(undefined);
    expect(recordOfRefund(refundReceipt(), t1, undefined).merchantName).toBe(undefined);
    // Known only from its receipt, the payment's merchant has its id for a name.
    const fromReceipt = recordOfStatement(
      'receipt',
      statement({ receipt: { payee: 'merkur.trade@merchant.ybank' } }),
      paymentId,
      t1,
      undefined,
    );
    expect(recordOfRefund(refundReceipt(), t1, fromReceipt).merchantName).toBe(undefined);
  });

  it('refuses an amount that is no decimal of its currency (AMOUNT_INVALID), never a guess', () => {
    for (const value of ['2', '2.001', '-2.00', '1e3', ''])
      expect(() =>
        recordOfRefund(refundReceipt({ amount: { currency: 'EUR', value } }), t1, undefined),
      ).toThrow(expect.objectContaining({ code: 'AMOUNT_INVALID' }));
  });
});
