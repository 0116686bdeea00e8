import { isMpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import {
  isFinalSaleState,
  type SaleEventKind,
  salePublicStatusOf,
  saleStateMachine,
  saleStates,
  stepSale,
} from './state-machine.ts';

const events: readonly SaleEventKind[] = [
  'claimed',
  'claim_mismatched',
  'payment_requested',
  'payment_request_failed',
  'payment_completed',
  'payment_mismatched',
  'payment_declined',
  'payment_failed',
  'payment_expired',
  'payment_cancelled',
  'code_expired',
  'cancelled',
];

describe("the till's sale table", () => {
  it('reaches every state from waiting, and only paid says paid', () => {
    const reached = new Set(['waiting']);
    let frontier = ['waiting'];
    while (frontier.length > 0) {
      frontier = frontier.flatMap((state) =>
        saleStateMachine[state as keyof typeof saleStateMachine].next.filter((next) => {
          if (reached.has(next)) return false;
          reached.add(next);
          return true;
        }),
      );
    }
    expect([...reached].sort()).toEqual([...saleStates].sort());
    expect(saleStates.filter((state) => salePublicStatusOf(state) === 'paid')).toEqual(['paid']);
  });

  it('is paid only by a completed payment, and nothing moves a sale that has its outcome', () => {
    for (const state of saleStates) {
      for (const event of events) {
        let next: string;
        try {
          next = stepSale(state, event).next;
        } catch (error) {
          expect(isMpayError(error, 'PAYMENT_STATE_INVALID'), `${state} + ${event}`).toBe(true);
          continue;
        }
        if (next === 'paid' && state !== 'paid') expect(event).toBe('payment_completed');
        if (isFinalSaleState(state)) expect(next, `${state} + ${event}`).toBe(state);
      }
    }
  });

  it('ignores a repeated outcome and refuses a contradicting one', () => {
    expect(stepSale('paid', 'payment_completed').changed).toBe(false);
    expect(stepSale('requested', 'payment_requested').changed).toBe(false);
    const refusal = (state: Parameters<typeof stepSale>[0], event: SaleEventKind) => {
      try {
        stepSale(state, event);
        return undefined;
      } catch (error) {
        if (!isMpayError(error)) throw error;
        return `${error.code}: ${error.detail ?? ''}`;
      }
    };
    expect(refusal('paid', 'payment_declined')).toBe(
      'PAYMENT_STATE_INVALID: payment_declined is not allowed in paid',
    );
    expect(refusal('declined', 'payment_completed')).toMatch(/^PAYMENT_STATE_INVALID: /);
    // A customer still being asked cannot be withdrawn here without the FSP (cancel.ts asks it).
    expect(refusal('requested', 'cancelled')).toMatch(/^PAYMENT_STATE_INVALID: /);
  });
});
