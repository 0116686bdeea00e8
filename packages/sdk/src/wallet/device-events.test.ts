import { describe, expect, it } from 'vitest';
import { thrownCodeOf } from '../../../../test/support/code-of.ts';
import { paymentClosedOf } from './device-events.ts';

const paymentId = '0b6f7f1e-9a43-4d2e-8c57-0f3c1b2a4d5e';
const statement = (payload: Record<string, unknown>) => ({ jws: 'x.y.z', payload });

describe('paymentClosedOf', () => {
  it("reads the FSP's receipt as completed and an outcome as its final status, with a known failure code", () => {
    expect(
      paymentClosedOf(statement({ receipt: { paymentId, status: 'completed' } }), paymentId),
    ).toMatchObject({
      paymentId,
      status: 'completed',
    });
    const failed = paymentClosedOf(
      statement({ paymentOutcome: { paymentId, status: 'failed', failureCode: 'INSUFFICIENT_FUNDS' } }),
      paymentId,
    );
    expect(failed).toMatchObject({ status: 'failed', failureCode: 'INSUFFICIENT_FUNDS' });
    const unknownCode = paymentClosedOf(
      statement({ paymentOutcome: { paymentId, status: 'expired', failureCode: 'NOT_A_CODE' } }),
      paymentId,
    );
    expect(unknownCode.status).toBe('expired');
    expect('failureCode' in unknownCode).toBe(false);
  });

  it('refuses what is not the end of this payment', () => {
    const refused = [
      // Another payment's statement under this event's id.
      { receipt: { paymentId: '1b6f7f1e-9a43-4d2e-8c57-0f3c1b2a4d5e', status: 'completed' } },
      // A status that is not an end.
      { paymentOutcome: { paymentId, status: 'authorised' } },
      { paymentOutcome: { paymentId, status: 'refunded' } },
      // A receipt that says anything but completed.
      { receipt: { paymentId, status: 'failed' } },
      // A refund's receipt is not a payment's end.
      { refundReceipt: { paymentId, status: 'completed' } },
      { paymentOutcome: [paymentId, 'completed'] },
      {},
    ];
    for (const payload of refused) {
      expect(thrownCodeOf(() => paymentClosedOf(statement(payload), paymentId))).toBe(
        'CRYPTO_VERIFICATION_FAILED',
      );
    }
  });
});
