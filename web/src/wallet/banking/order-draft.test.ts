import { MpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { type OpenOrder, type OrderDraft, outcomeOfFailure, requestIdFor, sameDraft } from './order-draft.ts';

const transfer: OrderDraft = {
  kind: 'transfer',
  payeeId: 'marko@person.xbank',
  amount: '1250',
  currency: 'EUR',
  reference: 'rent March',
};
const open: OpenOrder = { requestId: '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b', draft: transfer, state: 'sent' };

describe('one request id per money order', () => {
  it('keeps the open order’s id for every try of the same order, and draws a new one for another', () => {
    expect(requestIdFor({ ...transfer }, open)).toBe(open.requestId);
    for (const changed of [
      { ...transfer, payeeId: 'lena@person.ybank' },
      { ...transfer, amount: '1251' },
      { ...transfer, reference: 'rent April' },
      { ...transfer, currency: 'USD' },
    ]) {
      expect(sameDraft(changed, transfer)).toBe(false);
      expect(requestIdFor(changed, open)).not.toBe(open.requestId);
    }
    const bill: OrderDraft = {
      kind: 'bill_payment',
      billerId: 'power-co',
      customerReference: 'INV-1',
      amount: '1250',
      currency: 'EUR',
    };
    expect(sameDraft(bill, transfer)).toBe(false);
    // Asked for a new order on purpose (the customer checked the statement), and with nothing open.
    expect(requestIdFor(transfer, open, true)).not.toBe(open.requestId);
    expect(requestIdFor(transfer, undefined)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/);
  });

  it('keeps the order open unless the bank decided; says when the bank already had it', () => {
    expect(outcomeOfFailure(new MpayError('BANKING_REQUEST_REPLAYED'))).toBe('received');
    // A decision of the bank: nothing moved, the next try is a new order.
    for (const code of [
      'INSUFFICIENT_FUNDS',
      'LIMIT_EXCEEDED',
      'PAYEE_UNKNOWN',
      'BANKING_BILLER_UNKNOWN',
    ] as const)
      expect(outcomeOfFailure(new MpayError(code))).toBe('refused');
    // An answer that did not verify: it may have been carried out.
    expect(outcomeOfFailure(new MpayError('BANK_ANSWER_INVALID'))).toBe('unverified');
    expect(outcomeOfFailure(new MpayError('CRYPTO_VERIFICATION_FAILED'))).toBe('unverified');
    // No answer, or one that does not say whether the bank claimed the request: tried again as the same.
    for (const code of [
      'SERVICE_UNAVAILABLE',
      'BANK_UNAVAILABLE',
      'INTERNAL',
      'BANKING_REQUEST_INVALID',
    ] as const)
      expect(outcomeOfFailure(new MpayError(code))).toBe('unknown');
    expect(outcomeOfFailure(new TypeError('Failed to fetch'))).toBe('unknown');
    expect(outcomeOfFailure(undefined)).toBe('unknown');
  });
});
