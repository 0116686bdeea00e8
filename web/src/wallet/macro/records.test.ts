import type { MacroPaymentStatusContent } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { failureOfStatus, timeLeft } from './records.ts';

/** What the page reads from the MPASP's status, and T_EXP's countdown. */
function status(
  fields: Pick<MacroPaymentStatusContent, 'status' | 'outcome'> & { step?: number },
): MacroPaymentStatusContent {
  return {
    kind: 'macro_payment_status',
    from: 'fsp.mpay',
    to: 'C123456789012.xbank',
    transactionId: '01a23a77-0000-7000-8000-000000000001',
    step: fields.step ?? 6,
    sessionId: null,
    expiresAt: '2026-12-03T05:05:00.000Z',
    at: '2026-12-03T05:00:00.000Z',
    ...fields,
  };
}

describe('macro payment status on the device', () => {
  it('names the stable code of every ending without payment, and none while under way or paid', () => {
    expect(failureOfStatus(status({ status: 'declined', outcome: 'INSUFFICIENT_FUNDS' }))).toBe(
      'INSUFFICIENT_FUNDS',
    );
    expect(failureOfStatus(status({ status: 'declined', outcome: null }))).toBe('PAYMENT_DECLINED');
    expect(failureOfStatus(status({ status: 'expired', outcome: null }))).toBe('PAYMENT_EXPIRED');
    expect(failureOfStatus(status({ status: 'failed', outcome: 'PAYEE_UNKNOWN' }))).toBe('PAYEE_UNKNOWN');
    expect(failureOfStatus(status({ status: 'awaiting_customer', outcome: null }))).toBeUndefined();
    expect(failureOfStatus(status({ status: 'completed', outcome: null, step: 12 }))).toBeUndefined();
  });

  it('counts down to T_EXP and says nothing once it passed', () => {
    const expiresAt = '2026-12-03T05:05:00.000Z';
    expect(timeLeft(expiresAt, Date.parse('2026-12-03T05:00:28.400Z'))).toBe('4:31 left');
    expect(timeLeft(expiresAt, Date.parse(expiresAt))).toBeUndefined();
    expect(timeLeft('not a time', 0)).toBeUndefined();
  });
});
