import { isMpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { aliasPartyOf, cancellationOf, paymentRequestAcceptedOf, paymentStatusOf } from './answers.ts';

const accepted = {
  paymentId: '5d1f3f0e-8f0a-4c43-9d62-0d8a3f1c2b7e',
  status: 'awaiting_customer',
  securityLevel: 'standard',
  protections: ['signed', 'encrypted'],
  expiresAt: '2026-12-07T04:00:00.000Z',
  delivered: true,
};

const codeOf = (read: () => unknown) => {
  try {
    read();
    return 'read';
  } catch (error) {
    return isMpayError(error) ? error.code : error;
  }
};

describe("the FSP's answers to a merchant, checked", () => {
  it('takes a payment request accepted as the gateway answers it, and nothing more', () => {
    expect(paymentRequestAcceptedOf({ ...accepted, extra: 'left out' })).toEqual(accepted);
  });

  it('refuses an accepted request of another shape as the FSP unavailable (retryable), never a wrong value', () => {
    const cases: Record<string, unknown>[] = [
      { ...accepted, expiresAt: 'soon' },
      { ...accepted, expiresAt: 1_765_000_000 },
      { ...accepted, expiresAt: '1' },
      { ...accepted, status: 7 },
      { ...accepted, status: '' },
      { ...accepted, securityLevel: undefined },
      { ...accepted, protections: 'signed' },
      { ...accepted, protections: [1] },
      { ...accepted, protections: Array(33).fill('signed') },
      { ...accepted, delivered: 'yes' },
      { ...accepted, paymentId: 'x'.repeat(257) },
      {},
    ];
    for (const body of cases)
      expect(
        codeOf(() => paymentRequestAcceptedOf(body)),
        JSON.stringify(body),
      ).toBe('SERVICE_UNAVAILABLE');
  });

  it('checks a cancellation and an alias the same way', () => {
    expect(cancellationOf({ paymentId: accepted.paymentId, status: 'cancelled' })).toEqual({
      paymentId: accepted.paymentId,
      status: 'cancelled',
    });
    expect(codeOf(() => cancellationOf({ paymentId: accepted.paymentId }))).toBe('SERVICE_UNAVAILABLE');
    expect(aliasPartyOf({ partyId: 'ann@person.xbank' })).toBe('ann@person.xbank');
    expect(codeOf(() => aliasPartyOf({ partyId: null }))).toBe('SERVICE_UNAVAILABLE');
  });

  it("takes a payment's status as the gateway answers it, and refuses one of another shape", () => {
    const status = {
      id: accepted.paymentId,
      status: 'completed',
      procedure: 'ims',
      securityLevel: 'standard',
      amount: { currency: 'EUR', value: '12.50' },
      payer: 'ann@person.xbank',
      payee: 'shop@merchant.ybank',
      failureCode: null,
      expiresAt: '2026-12-07T04:00:00.000Z',
      createdAt: '2026-12-07T03:55:00.000Z',
      updatedAt: '2026-12-07T03:55:02.000Z',
      history: [
        { status: 'requested', step: null, at: '2026-12-07T03:55:00.000Z' },
        { status: 'completed', step: 'funds_transferred', at: '2026-12-07T03:55:02.000Z' },
      ],
    };
    expect(paymentStatusOf({ ...status, extra: 'left out' }, status.id)).toEqual(status);
    expect(
      paymentStatusOf({ ...status, status: 'failed', failureCode: 'FUNDS_INSUFFICIENT' }, status.id),
    ).toMatchObject({
      failureCode: 'FUNDS_INSUFFICIENT',
    });
    const cases: Record<string, unknown>[] = [
      { ...status, status: 1 },
      { ...status, amount: { currency: 'EUR', value: '12.5' } },
      { ...status, amount: { currency: 'XXX', value: '12.50' } },
      { ...status, amount: '12.50' },
      { ...status, amount: null },
      { ...status, failureCode: 7 },
      { ...status, updatedAt: 'later' },
      { ...status, updatedAt: '1' },
      { ...status, id: '0b0e7c1e-0000-4000-8000-000000000000' },
      { ...status, payer: '' },
      { ...status, history: 'none' },
      { ...status, history: [null] },
      { ...status, history: [{ status: 'requested', step: 3, at: status.createdAt }] },
      { ...status, history: Array(65).fill(status.history[0]) },
      {},
    ];
    for (const body of cases)
      expect(
        codeOf(() => paymentStatusOf(body, status.id)),
        JSON.stringify(body),
      ).toBe('SERVICE_UNAVAILABLE');
  });
});
