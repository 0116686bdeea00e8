import { describe, expect, it } from 'vitest';
import { isMpayError } from '../errors/index.ts';
import {
  assertTransition,
  initialPaymentState,
  isFinalState,
  type PaymentState,
  paymentStateMachine,
  publicStatusOf,
} from './state-machine.ts';

const states = Object.keys(paymentStateMachine) as PaymentState[];

describe('payment state machine', () => {
  it('allows exactly the transitions in the table', () => {
    for (const from of states) {
      for (const to of states) {
        const allowed = paymentStateMachine[from].next.includes(to);
        let refused = false;
        try {
          assertTransition(from, to);
        } catch (error) {
          refused = isMpayError(error, 'PAYMENT_STATE_INVALID');
        }
        expect(refused, `${from} → ${to}`).toBe(!allowed);
      }
    }
  });

  it('final states have no way out, and every state is reachable from the initial state', () => {
    const reached = new Set<PaymentState>([initialPaymentState]);
    const queue: PaymentState[] = [initialPaymentState];
    while (queue.length > 0) {
      for (const next of paymentStateMachine[queue.shift()!].next) {
        if (!reached.has(next)) queue.push(next);
        reached.add(next);
      }
    }
    expect([...reached].sort()).toEqual([...states].sort());
    for (const state of states)
      expect(isFinalState(state)).toBe(paymentStateMachine[state].next.length === 0);
  });

  it('maps internal states to the public statuses of the design', () => {
    expect(publicStatusOf('awaiting_customer_signature')).toBe('awaiting_customer');
    expect(publicStatusOf('funds_refused')).toBe('declined');
    expect(publicStatusOf('funds_transferred')).toBe('completed');
  });
});
