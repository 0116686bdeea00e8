import { describe, expect, it } from 'vitest';
import { canonicalize } from '../canonical/index.ts';
import { type ErrorCode, isMpayError } from '../errors/index.ts';
import { createAmount } from '../money/index.ts';
import { merchantRefundContent } from './signed-content.ts';
import {
  assertRefundTransition,
  awaitingBankRefundStates,
  initialRefundStep,
  isFinalRefundState,
  isRefundState,
  type RefundEventKind,
  type RefundState,
  refundEventKinds,
  refundStateMachine,
  refundStates,
  refundStatusOf,
  reservingRefundStates,
} from './state-machine.ts';
import { stepRefund } from './step.ts';

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
const expected: Record<string, RefundState> = {
  'merchant_refund_verified bank_accepted': 'merchant_bank_ordered',
  'merchant_refund_verified bank_refunded': 'funds_returned',
  'merchant_refund_verified bank_refused': 'refund_refused',
  'merchant_refund_verified bank_failed': 'refund_failed',
  'merchant_bank_ordered bank_refunded': 'funds_returned',
  'merchant_bank_ordered bank_refused': 'refund_refused',
  'merchant_bank_ordered bank_failed': 'refund_failed',
};

describe('refund step function', () => {
  it('allows exactly the transitions of the table, and refuses every other (state, event) pair', () => {
    let allowed = 0;
    for (const state of refundStates) {
      for (const event of refundEventKinds) {
        const want = expected[`${state} ${event}`];
        if (want !== undefined) {
          const result = stepRefund({ state }, event);
          expect(result.next, `${state} + ${event}`).toBe(want);
          expect(result.from).toBe(state);
          allowed += 1;
        } else {
          expect(
            refusal(() => stepRefund({ state }, event)),
            `${state} + ${event}`,
          ).toBe('PAYMENT_STATE_INVALID');
        }
      }
    }
    expect(allowed).toBe(Object.keys(expected).length);
    expect(refundStates.length * refundEventKinds.length).toBe(20);
  });

  it('asks for the effects: the order when it starts, both parties told and the log on completion, the merchant and the log otherwise', () => {
    expect(initialRefundStep.next).toBe('merchant_refund_verified');
    expect(initialRefundStep.effects).toEqual(['order_refund']);
    const at = (state: RefundState, event: RefundEventKind) => stepRefund({ state }, event).effects;
    expect(at('merchant_refund_verified', 'bank_accepted')).toEqual([]);
    for (const from of ['merchant_refund_verified', 'merchant_bank_ordered'] as const) {
      expect(at(from, 'bank_refunded')).toEqual(['notify_merchant', 'notify_customer', 'log_outcome']);
      expect(at(from, 'bank_refused')).toEqual(['notify_merchant', 'log_outcome']);
      expect(at(from, 'bank_failed')).toEqual(['notify_merchant', 'log_outcome']);
    }
    // Only a completed refund asks for the customer's receipt: it is the one that gives money back.
    for (const state of refundStates)
      for (const event of refundEventKinds) {
        const transition = refundStateMachine[state].on[event];
        if (transition?.effects.includes('notify_customer')) expect(transition.to).toBe('funds_returned');
      }
  });

  it('names the step of every transition, and is frozen', () => {
    for (const state of refundStates)
      for (const transition of Object.values(refundStateMachine[state].on))
        expect(transition?.step).toMatch(/\S/);
    const result = stepRefund({ state: 'merchant_bank_ordered' }, 'bank_refunded');
    expect(Object.isFrozen(result)).toBe(true);
    expect(Object.isFrozen(refundStateMachine.merchant_bank_ordered.on)).toBe(true);
    expect(Object.isFrozen(refundStateMachine.merchant_bank_ordered.on.bank_refunded)).toBe(true);
    expect(Object.isFrozen(initialRefundStep.effects)).toBe(true);
  });
});

describe('refund state table', () => {
  it('assertRefundTransition allows exactly the next states of the table', () => {
    for (const from of refundStates)
      for (const to of refundStates) {
        const allowed = Object.values(refundStateMachine[from].on).some(
          (transition) => transition?.to === to,
        );
        expect(refusal(() => assertRefundTransition(from, to)) === 'none', `${from} → ${to}`).toBe(allowed);
      }
  });

  it('final states have no way out, and every state is reachable from the first', () => {
    const reached = new Set<RefundState>([initialRefundStep.next]);
    const queue: RefundState[] = [initialRefundStep.next];
    for (let state = queue.shift(); state !== undefined; state = queue.shift())
      for (const next of refundStateMachine[state].next) {
        if (!reached.has(next)) queue.push(next);
        reached.add(next);
      }
    expect([...reached].sort()).toEqual([...refundStates].sort());
    for (const state of refundStates)
      expect(isFinalRefundState(state)).toBe(refundStateMachine[state].next.length === 0);
  });

  it('derives which refunds wait for the bank and which count against the original from the table', () => {
    expect([...awaitingBankRefundStates].sort()).toEqual([
      'merchant_bank_ordered',
      'merchant_refund_verified',
    ]);
    expect([...reservingRefundStates].sort()).toEqual([
      'funds_returned',
      'merchant_bank_ordered',
      'merchant_refund_verified',
    ]);
  });

  it('maps the internal states to what a merchant is told', () => {
    expect(refundStates.map(refundStatusOf)).toEqual([
      'requested',
      'ordered',
      'completed',
      'refused',
      'failed',
    ]);
    expect(isRefundState('funds_returned')).toBe(true);
    expect(isRefundState('toString')).toBe(false);
    expect(isRefundState('funds_transferred')).toBe(false);
  });
});

describe("the merchant's signed refund content", () => {
  const refund = {
    refundId: '5f0e4c9a-1d2b-4c3d-8e4f-0a1b2c3d4e5f',
    paymentId: '0b1c2d3e-4f50-4617-8a9b-0c1d2e3f4a5b',
    merchantId: 'merkur.trade@merchant.ybank',
    customerId: 'john.bernard@person.xbank',
    amount: createAmount('EUR', 5_00n),
  };

  it('names the refund, the payment, merchant as payer, customer as payee, and the canonical amount', () => {
    expect(merchantRefundContent(refund)).toEqual({
      signer: 'merchant',
      kind: 'refund',
      refundId: refund.refundId,
      paymentId: refund.paymentId,
      payer: refund.merchantId,
      payee: refund.customerId,
      amount: { currency: 'EUR', value: '5.00' },
    });
  });

  it('is never the content of another message, and differs for any other refund', () => {
    const content = canonicalize(merchantRefundContent(refund));
    expect(content).not.toContain('"decision"');
    expect(content).not.toContain('"transactionId"');
    for (const other of [
      { ...refund, refundId: '5f0e4c9a-1d2b-4c3d-8e4f-0a1b2c3d4e50' },
      { ...refund, paymentId: '0b1c2d3e-4f50-4617-8a9b-0c1d2e3f4a50' },
      { ...refund, amount: createAmount('EUR', 5_01n) },
      { ...refund, amount: createAmount('USD', 5_00n) },
      { ...refund, customerId: 'mila.novak@person.xbank' },
    ])
      expect(canonicalize(merchantRefundContent(other))).not.toBe(content);
  });

  it('refuses a payer that is not a merchant, a payee that is not a person, and ids that are not UUIDs', () => {
    expect(refusal(() => merchantRefundContent({ ...refund, merchantId: refund.customerId }))).toBe(
      'PARTY_ID_INVALID',
    );
    expect(refusal(() => merchantRefundContent({ ...refund, customerId: refund.merchantId }))).toBe(
      'PARTY_ID_INVALID',
    );
    expect(refusal(() => merchantRefundContent({ ...refund, refundId: 'not-a-uuid' }))).toBe(
      'REQUEST_INVALID',
    );
    expect(
      refusal(() => merchantRefundContent({ ...refund, paymentId: refund.paymentId.toUpperCase() })),
    ).toBe('REQUEST_INVALID');
  });
});
