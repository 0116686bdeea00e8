import { describe, expect, it } from 'vitest';
import { type ErrorCode, isMpayError } from '../errors/index.ts';
import {
  assertTransition,
  awaitingBankPaymentStates,
  expiringPaymentStates,
  initialPaymentState,
  isFinalState,
  type PaymentEventKind,
  type PaymentState,
  paymentEventKinds,
  paymentStateMachine,
  paymentStates,
  publicStatusOf,
} from './state-machine.ts';
import { stepPayment } from './step.ts';

const created = new Date('2026-12-02T10:00:00.000Z');
const expiresAt = new Date('2026-12-02T10:05:00.000Z');
const beforeExpiry = new Date('2026-12-02T10:04:59.999Z');

function refusal(run: () => unknown): ErrorCode | 'none' {
  try {
    run();
    return 'none';
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
}

/** The table written out by hand: every allowed (state, event) → next state. */
const expected: Record<string, PaymentState> = {
  'merchant_request_verified countersigned': 'awaiting_customer_signature',
  'merchant_request_verified merchant_cancelled': 'merchant_cancelled',
  'merchant_request_verified expiry_due': 'request_expired',
  'awaiting_customer_signature customer_confirmed': 'customer_signature_verified',
  'awaiting_customer_signature customer_declined': 'customer_declined',
  'awaiting_customer_signature merchant_cancelled': 'merchant_cancelled',
  'awaiting_customer_signature expiry_due': 'request_expired',
  'customer_signature_verified bank_transferred': 'funds_transferred',
  'customer_signature_verified bank_refused': 'funds_refused',
  'customer_signature_verified bank_failed': 'transfer_failed',
};

describe('payment step function', () => {
  it('allows exactly the transitions of the table, and refuses every other (state, event) pair', () => {
    let allowed = 0;
    for (const state of paymentStates) {
      for (const event of paymentEventKinds) {
        const now = event === 'expiry_due' ? expiresAt : beforeExpiry;
        const want = expected[`${state} ${event}`];
        if (want !== undefined) {
          expect(stepPayment({ state, expiresAt }, event, now).next, `${state} + ${event}`).toBe(want);
          allowed += 1;
        } else {
          const code = refusal(() => stepPayment({ state, expiresAt }, event, now));
          expect(
            ['PAYMENT_STATE_INVALID', 'PAYMENT_EXPIRED', 'PAYMENT_CANCELLED'],
            `${state} + ${event}`,
          ).toContain(code);
        }
      }
    }
    expect(allowed).toBe(Object.keys(expected).length);
  });

  it('says why a closed payment refuses the customer: expired or cancelled, not just "invalid"', () => {
    expect(
      refusal(() => stepPayment({ state: 'request_expired', expiresAt }, 'customer_confirmed', beforeExpiry)),
    ).toBe('PAYMENT_EXPIRED');
    expect(
      refusal(() =>
        stepPayment({ state: 'merchant_cancelled', expiresAt }, 'customer_confirmed', beforeExpiry),
      ),
    ).toBe('PAYMENT_CANCELLED');
    expect(
      refusal(() =>
        stepPayment({ state: 'funds_transferred', expiresAt }, 'customer_declined', beforeExpiry),
      ),
    ).toBe('PAYMENT_STATE_INVALID');
  });

  it('refuses a customer answer at or after the expiry, and an expiry before it', () => {
    for (const event of ['customer_confirmed', 'customer_declined'] as PaymentEventKind[]) {
      expect(
        refusal(() => stepPayment({ state: 'awaiting_customer_signature', expiresAt }, event, expiresAt)),
      ).toBe('PAYMENT_EXPIRED');
      expect(stepPayment({ state: 'awaiting_customer_signature', expiresAt }, event, beforeExpiry).from).toBe(
        'awaiting_customer_signature',
      );
    }
    expect(
      refusal(() =>
        stepPayment({ state: 'awaiting_customer_signature', expiresAt }, 'expiry_due', beforeExpiry),
      ),
    ).toBe('PAYMENT_STATE_INVALID');
    expect(
      refusal(() => stepPayment({ state: 'merchant_request_verified', expiresAt }, 'expiry_due', created)),
    ).toBe('PAYMENT_STATE_INVALID');
    // The bank's answer is not the customer's: it may arrive after the request's expiry.
    expect(
      stepPayment(
        { state: 'customer_signature_verified', expiresAt },
        'bank_transferred',
        new Date('2027-01-01'),
      ).next,
    ).toBe('funds_transferred');
  });

  it('asks for the effects of the paper: push after countersigning, the bank order after the signature, and every outcome notified and logged', () => {
    const at = (state: PaymentState, event: PaymentEventKind, now = beforeExpiry) =>
      stepPayment({ state, expiresAt }, event, now).effects;
    expect(at('merchant_request_verified', 'countersigned')).toEqual(['push_request']);
    expect(at('awaiting_customer_signature', 'customer_confirmed')).toEqual(['order_transfer']);
    expect(at('customer_signature_verified', 'bank_transferred')).toEqual([
      'issue_receipt',
      'notify_merchant',
      'notify_customer',
      'log_outcome',
    ]);
    for (const [state, event] of [
      ['awaiting_customer_signature', 'customer_declined'],
      ['awaiting_customer_signature', 'merchant_cancelled'],
      ['customer_signature_verified', 'bank_refused'],
      ['customer_signature_verified', 'bank_failed'],
    ] as const) {
      expect(at(state, event)).toEqual(['notify_merchant', 'notify_customer', 'log_outcome']);
    }
    expect(at('awaiting_customer_signature', 'expiry_due', expiresAt)).toContain('log_outcome');
  });

  it('is frozen: the table and its results cannot be changed by a caller', () => {
    const result = stepPayment(
      { state: 'awaiting_customer_signature', expiresAt },
      'customer_confirmed',
      beforeExpiry,
    );
    expect(Object.isFrozen(result)).toBe(true);
    expect(Object.isFrozen(paymentStateMachine.awaiting_customer_signature.on)).toBe(true);
    expect(Object.isFrozen(paymentStateMachine.awaiting_customer_signature.on.customer_confirmed)).toBe(true);
  });
});

describe('payment state table', () => {
  it('assertTransition allows exactly the next states of the table', () => {
    for (const from of paymentStates) {
      for (const to of paymentStates) {
        const allowed = Object.values(paymentStateMachine[from].on).some(
          (transition) => transition?.to === to,
        );
        expect(refusal(() => assertTransition(from, to)) === 'none', `${from} → ${to}`).toBe(allowed);
      }
    }
  });

  it('final states have no way out, and every state is reachable from the initial state', () => {
    const reached = new Set<PaymentState>([initialPaymentState]);
    const queue: PaymentState[] = [initialPaymentState];
    for (let state = queue.shift(); state !== undefined; state = queue.shift()) {
      for (const next of paymentStateMachine[state].next) {
        if (!reached.has(next)) queue.push(next);
        reached.add(next);
      }
    }
    expect([...reached].sort()).toEqual([...paymentStates].sort());
    for (const state of paymentStates)
      expect(isFinalState(state)).toBe(paymentStateMachine[state].next.length === 0);
  });

  it('derives which states expire and which wait for the bank from the table', () => {
    expect([...expiringPaymentStates].sort()).toEqual([
      'awaiting_customer_signature',
      'merchant_request_verified',
    ]);
    expect(awaitingBankPaymentStates).toEqual(['customer_signature_verified']);
  });

  it('maps internal states to the public statuses of the design', () => {
    expect(publicStatusOf('awaiting_customer_signature')).toBe('awaiting_customer');
    expect(publicStatusOf('customer_signature_verified')).toBe('authorised');
    expect(publicStatusOf('funds_refused')).toBe('declined');
    expect(publicStatusOf('customer_declined')).toBe('declined');
    expect(publicStatusOf('merchant_cancelled')).toBe('cancelled');
    expect(publicStatusOf('funds_transferred')).toBe('completed');
    expect(publicStatusOf('request_expired')).toBe('expired');
    expect(publicStatusOf('transfer_failed')).toBe('failed');
  });
});
