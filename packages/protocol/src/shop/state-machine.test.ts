import { describe, expect, it } from 'vitest';
import { isMpayError } from '../errors/index.ts';
import { createAmount } from '../money/index.ts';
import { readPaymentNotice } from './payment-notice.ts';
import {
  assertOrderTransition,
  initialOrderState,
  isFinalOrderState,
  isOrderState,
  type OrderEventKind,
  type OrderState,
  orderEventKinds,
  orderPublicStatusOf,
  orderStateMachine,
  orderStates,
  shipmentStatusOf,
} from './state-machine.ts';
import { stepOrder } from './step.ts';

/**
 * The whole table written out by hand, one line per state with a cell per
 * event (in the order of `orderEventKinds`): a next state, `=` for an event
 * the state ignores (acknowledged, no change), `x` for one it refuses.
 */
const events = [
  'payment_requested',
  'payment_request_failed',
  'payment_completed',
  'payment_mismatched',
  'payment_declined',
  'payment_failed',
  'payment_expired',
  'payment_cancelled',
  'packed',
  'shipped',
  'delivered',
] as const satisfies readonly OrderEventKind[];

type Cell = OrderState | '=' | 'x';
const outcomes = ['paid', 'on_hold', 'payment_failed', 'payment_failed', 'cancelled', 'cancelled'] as const;
const table: Record<OrderState, readonly Cell[]> = {
  //                       requested            request_failed            completed … cancelled   packed    shipped    delivered
  placed: ['payment_requested', 'payment_request_failed', ...outcomes, 'x', 'x', 'x'],
  payment_requested: ['=', '=', ...outcomes, 'x', 'x', 'x'],
  payment_request_failed: ['=', '=', ...outcomes, 'x', 'x', 'x'],
  paid: ['=', 'x', '=', 'x', 'x', 'x', 'x', 'x', 'packed', 'x', 'x'],
  packed: ['=', 'x', '=', 'x', 'x', 'x', 'x', 'x', '=', 'shipped', 'x'],
  shipped: ['=', 'x', '=', 'x', 'x', 'x', 'x', 'x', 'x', '=', 'delivered'],
  delivered: ['=', 'x', '=', 'x', 'x', 'x', 'x', 'x', 'x', 'x', '='],
  payment_failed: ['=', '=', 'x', 'x', '=', '=', 'x', 'x', 'x', 'x', 'x'],
  cancelled: ['=', '=', 'x', 'x', 'x', 'x', '=', '=', 'x', 'x', 'x'],
  on_hold: ['=', '=', 'x', '=', 'x', 'x', 'x', 'x', 'x', 'x', 'x'],
};

function outcomeOf(state: OrderState, event: OrderEventKind): Cell {
  try {
    const result = stepOrder(state, event);
    expect(result.from).toBe(state);
    if (!result.changed) {
      expect(result.next).toBe(state);
      expect(result.effects).toEqual([]);
      return '=';
    }
    return result.next;
  } catch (error) {
    if (isMpayError(error, 'ORDER_STATE_INVALID')) return 'x';
    throw error;
  }
}

describe('the order and shipment step function', () => {
  it('lists every event and every state', () => {
    expect([...orderEventKinds]).toEqual([...events]);
    expect(Object.keys(table).sort()).toEqual([...orderStates].sort());
    expect(initialOrderState).toBe('placed');
  });

  it.each(orderStates.map((state) => [state]))('%s: every event gives the cell of the table', (state) => {
    const row = table[state];
    expect(row).toHaveLength(events.length);
    events.forEach((event, index) => {
      expect(outcomeOf(state, event), `${state} + ${event}`).toBe(row[index]);
    });
  });

  it('authorises shipment on the positive confirmation only, and holds a mismatched payment for the operator', () => {
    for (const from of ['placed', 'payment_requested', 'payment_request_failed'] as const) {
      expect(stepOrder(from, 'payment_completed').effects).toEqual(['authorise_shipment']);
      expect(stepOrder(from, 'payment_mismatched').effects).toEqual(['hold_for_operator']);
      for (const event of [
        'payment_declined',
        'payment_failed',
        'payment_expired',
        'payment_cancelled',
      ] as const)
        expect(stepOrder(from, event).effects).toEqual([]);
    }
    const authorising = orderStates.flatMap((state) =>
      orderEventKinds.filter((event) =>
        orderStateMachine[state].on[event]?.effects.includes('authorise_shipment'),
      ),
    );
    expect(new Set(authorising)).toEqual(new Set(['payment_completed']));
    for (const [from, event] of [
      ['paid', 'packed'],
      ['packed', 'shipped'],
      ['shipped', 'delivered'],
    ] as const) {
      expect(stepOrder(from, event).effects).toEqual(['advance_shipment']);
    }
  });

  it('names a shipment status only once the order is paid', () => {
    expect(orderStates.map((state) => [state, shipmentStatusOf(state)])).toEqual([
      ['placed', null],
      ['payment_requested', null],
      ['payment_request_failed', null],
      ['paid', 'preparing'],
      ['packed', 'packed'],
      ['shipped', 'shipped'],
      ['delivered', 'delivered'],
      ['payment_failed', null],
      ['cancelled', null],
      ['on_hold', null],
    ]);
    expect(orderPublicStatusOf('placed')).toBe('awaiting_payment');
    expect(orderPublicStatusOf('payment_requested')).toBe('awaiting_payment');
    expect(orderPublicStatusOf('payment_request_failed')).toBe('payment_failed');
  });

  it('derives final states and guards stored transitions with the same table', () => {
    expect(orderStates.filter(isFinalOrderState)).toEqual([
      'delivered',
      'payment_failed',
      'cancelled',
      'on_hold',
    ]);
    expect(() => assertOrderTransition('paid', 'packed')).not.toThrow();
    expect(() => assertOrderTransition('paid', 'delivered')).toThrow(
      expect.objectContaining({ code: 'ORDER_STATE_INVALID', detail: 'paid → delivered is not allowed' }),
    );
    expect(isOrderState('paid')).toBe(true);
    expect(isOrderState('toString')).toBe(false);
    expect(Object.isFrozen(orderStateMachine)).toBe(true);
    expect(Object.isFrozen(orderStateMachine.paid.on)).toBe(true);
  });
});

describe('reading a payment notification against its order', () => {
  const terms = { amount: createAmount('EUR', 31_50n), payer: 'john.bernard@person.xbank' };
  const notice = (
    status: string,
    change: Partial<{ currency: string; minor: bigint; payer: string }> = {},
  ) => ({
    status,
    amount: { currency: change.currency ?? 'EUR', minor: change.minor ?? 31_50n },
    payer: change.payer ?? 'john.bernard@person.xbank',
  });

  it('is a positive confirmation only for completed with the same currency, amount and payer', () => {
    expect(readPaymentNotice(terms, notice('completed'))).toEqual({
      event: 'payment_completed',
      mismatch: undefined,
    });
    expect(readPaymentNotice(terms, notice('completed', { minor: 31_49n })).mismatch).toBe('amount');
    expect(readPaymentNotice(terms, notice('completed', { minor: 31_51n })).event).toBe('payment_mismatched');
    expect(readPaymentNotice(terms, notice('completed', { currency: 'USD' })).mismatch).toBe('currency');
    expect(readPaymentNotice(terms, notice('completed', { payer: 'mila.novak@person.xbank' })).mismatch).toBe(
      'payer',
    );
    // No request was ever signed for a payer: no completed payment can match it.
    expect(readPaymentNotice({ ...terms, payer: null }, notice('completed')).mismatch).toBe('payer');
  });

  it('maps the other public statuses, and leaves those that change no order alone', () => {
    const events = Object.fromEntries(
      [
        'requested',
        'awaiting_customer',
        'authorised',
        'declined',
        'failed',
        'expired',
        'cancelled',
        'refunded',
        'partially_refunded',
        'constructor',
      ].map((status) => [status, readPaymentNotice(terms, notice(status, { minor: 1n })).event]),
    );
    expect(events).toEqual({
      requested: 'payment_requested',
      awaiting_customer: 'payment_requested',
      authorised: 'payment_requested',
      declined: 'payment_declined',
      failed: 'payment_failed',
      expired: 'payment_expired',
      cancelled: 'payment_cancelled',
      refunded: undefined,
      partially_refunded: undefined,
      constructor: undefined,
    });
  });
});
