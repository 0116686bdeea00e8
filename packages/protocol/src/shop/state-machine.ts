import { MpayError } from '../errors/index.ts';

/**
 * The merchant shop's order, from checkout to delivery (iMS §2.1, mobile
 * e-commerce): the customer's shopping cart becomes an order, the merchant's
 * automated service asks the FSP for the payment, and "if the merchant
 * receives a positive confirmation, the supplier is authorized to initiate
 * shipment of products or services to the customer".
 */

/** What the customer (and the merchant's list) is told about an order. */
export type OrderPublicStatus =
  | 'awaiting_payment'
  | 'paid'
  | 'packed'
  | 'shipped'
  | 'delivered'
  | 'payment_failed'
  | 'cancelled'
  | 'on_hold';

/** Where the goods are, once the payment allowed shipment. */
export type ShipmentStatus = 'preparing' | 'packed' | 'shipped' | 'delivered';

export type OrderState =
  | 'placed' // the cart was checked out; the signed payment request to the FSP is queued (iMS §2.1 "initiates a financial message")
  | 'payment_requested' // the FSP accepted the request and asks the customer on the phone
  | 'payment_request_failed' // the FSP refused the request, or the shop gave up asking within its window
  | 'paid' // the FSP's signed notification said completed, for this order's amount and payer: shipment authorised
  | 'packed' // the operator packed the goods
  | 'shipped' // handed to the courier
  | 'delivered' // the courier delivered
  | 'payment_failed' // the FSP notified declined or failed: nothing was paid
  | 'cancelled' // the FSP notified expired or cancelled: nothing was paid
  | 'on_hold'; // a completed payment did not match the order (amount, currency or payer): nothing ships, the operator decides

/** What happens to an order; each is one step. */
export type OrderEventKind =
  | 'payment_requested' // the FSP accepted the merchant's signed request (iMS step 1)
  | 'payment_request_failed' // the FSP refused the request for good, or the shop's window to ask ran out
  | 'payment_completed' // verified webhook: completed, amount, currency and payer equal the order's (iMS step 9)
  | 'payment_mismatched' // verified webhook: completed, but for another amount, currency or payer
  | 'payment_declined' // verified webhook: declined (by the customer, or refused by the customer's bank)
  | 'payment_failed' // verified webhook: the bank failed the order for good
  | 'payment_expired' // verified webhook: nobody answered in time
  | 'payment_cancelled' // verified webhook: the merchant withdrew the request
  | 'packed' // operator action
  | 'shipped' // operator action (courier and tracking reference)
  | 'delivered'; // courier action

/**
 * What a transition asks the service to do in the same transaction:
 *   authorise_shipment  open the shipment (the supplier may now ship: iMS §2.1)
 *   advance_shipment    record the shipment's new status (carrier, tracking reference, time)
 *   hold_for_operator   record why the order is held and alert the operator; nothing ships
 */
export type OrderEffect = 'authorise_shipment' | 'advance_shipment' | 'hold_for_operator';

interface OrderTransition {
  readonly to: OrderState;
  readonly effects: readonly OrderEffect[];
  /** Where the step comes from (kept in the order's history). */
  readonly step: string;
}

interface OrderStateDefinition {
  readonly publicStatus: OrderPublicStatus;
  /** The shipment's status in this state; null while nothing may ship. */
  readonly shipment: ShipmentStatus | null;
  readonly on: Readonly<Partial<Record<OrderEventKind, OrderTransition>>>;
  /**
   * Events acknowledged without a change: a redelivered webhook, a late
   * answer to a request already settled, an operator's retried action.
   */
  readonly ignores: readonly OrderEventKind[];
  /** The states `on` leads to (derived). */
  readonly next: readonly OrderState[];
  /** No transition leaves it (derived). */
  readonly final: boolean;
}

const paymentOutcomes = (): Partial<Record<OrderEventKind, OrderTransition>> => ({
  payment_completed: {
    to: 'paid',
    effects: ['authorise_shipment'],
    step: 'iMS §2.1: positive confirmation, shipment authorised',
  },
  payment_mismatched: {
    to: 'on_hold',
    effects: ['hold_for_operator'],
    step: 'completed payment does not match the order',
  },
  payment_declined: { to: 'payment_failed', effects: [], step: 'payment declined' },
  payment_failed: { to: 'payment_failed', effects: [], step: 'payment failed' },
  payment_expired: { to: 'cancelled', effects: [], step: 'payment request expired' },
  payment_cancelled: { to: 'cancelled', effects: [], step: 'payment request cancelled' },
});

function state(
  publicStatus: OrderPublicStatus,
  shipment: ShipmentStatus | null,
  on: Partial<Record<OrderEventKind, OrderTransition>>,
  ignores: readonly OrderEventKind[],
): OrderStateDefinition {
  const transitions = Object.freeze(
    Object.fromEntries(Object.entries(on).map(([event, transition]) => [event, Object.freeze(transition)])),
  );
  for (const event of ignores) {
    if (Object.hasOwn(transitions, event))
      throw new Error(`assertion failed: ${event} is both a transition and ignored`);
  }
  const next = Object.freeze([...new Set(Object.values(on).map((transition) => transition.to))]);
  return Object.freeze({
    publicStatus,
    shipment,
    on: transitions,
    ignores: Object.freeze([...ignores]),
    next,
    final: next.length === 0,
  });
}

/** The order protocol as data: state → event → next state and effects, plus what the customer sees. */
export const orderStateMachine: Readonly<Record<OrderState, OrderStateDefinition>> = Object.freeze({
  placed: state(
    'awaiting_payment',
    null,
    {
      payment_requested: {
        to: 'payment_requested',
        effects: [],
        step: 'iMS step 1: FSP accepted the request',
      },
      payment_request_failed: { to: 'payment_request_failed', effects: [], step: 'payment request refused' },
      // A notification can overtake the FSP's answer to the request (a lost answer, a crash in between).
      ...paymentOutcomes(),
    },
    [],
  ),
  payment_requested: state('awaiting_payment', null, paymentOutcomes(), [
    'payment_requested',
    'payment_request_failed',
  ]),
  // The shop stopped asking, yet the FSP may have received a request whose answer was lost:
  // its signed outcome still decides, so a payment that went through is shipped, not lost.
  payment_request_failed: state('payment_failed', null, paymentOutcomes(), [
    'payment_requested',
    'payment_request_failed',
  ]),
  paid: state(
    'paid',
    'preparing',
    { packed: { to: 'packed', effects: ['advance_shipment'], step: 'operator packed the goods' } },
    ['payment_requested', 'payment_completed'],
  ),
  packed: state(
    'packed',
    'packed',
    { shipped: { to: 'shipped', effects: ['advance_shipment'], step: 'handed to the courier' } },
    ['payment_requested', 'payment_completed', 'packed'],
  ),
  shipped: state(
    'shipped',
    'shipped',
    { delivered: { to: 'delivered', effects: ['advance_shipment'], step: 'courier delivered' } },
    ['payment_requested', 'payment_completed', 'shipped'],
  ),
  delivered: state('delivered', 'delivered', {}, ['payment_requested', 'payment_completed', 'delivered']),
  payment_failed: state('payment_failed', null, {}, [
    'payment_requested',
    'payment_request_failed',
    'payment_declined',
    'payment_failed',
  ]),
  cancelled: state('cancelled', null, {}, [
    'payment_requested',
    'payment_request_failed',
    'payment_expired',
    'payment_cancelled',
  ]),
  on_hold: state('on_hold', null, {}, ['payment_requested', 'payment_request_failed', 'payment_mismatched']),
});

export const initialOrderState: OrderState = 'placed';

export const orderStates: readonly OrderState[] = Object.freeze(
  Object.keys(orderStateMachine) as OrderState[],
);

export const orderEventKinds: readonly OrderEventKind[] = Object.freeze([
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
]);

/** The events the merchant's operator (or courier) sends; the others come from the FSP. */
export const shipmentActionEvents: readonly OrderEventKind[] = Object.freeze([
  'packed',
  'shipped',
  'delivered',
]);

export function isOrderState(value: unknown): value is OrderState {
  return typeof value === 'string' && Object.hasOwn(orderStateMachine, value);
}

export function orderPublicStatusOf(state: OrderState): OrderPublicStatus {
  return orderStateMachine[state].publicStatus;
}

export function shipmentStatusOf(state: OrderState): ShipmentStatus | null {
  return orderStateMachine[state].shipment;
}

export function isFinalOrderState(state: OrderState): boolean {
  return orderStateMachine[state].final;
}

/** Guards a stored transition: throws ORDER_STATE_INVALID if the table does not allow it. */
export function assertOrderTransition(from: OrderState, to: OrderState): void {
  if (!orderStateMachine[from].next.includes(to)) {
    throw new MpayError('ORDER_STATE_INVALID', `${from} → ${to} is not allowed`);
  }
}
