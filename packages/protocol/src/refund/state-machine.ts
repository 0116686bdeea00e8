import { MpayError } from '../errors/index.ts';

/** What a merchant (and the customer) is told about a refund. */
export type RefundStatus = 'requested' | 'ordered' | 'completed' | 'refused' | 'failed';

/**
 * The internal states of a refund through the payment chain: the macro
 * payment's interbank steps 8–10 run the other way (the merchant's bank pays
 * the customer's bank back), ordered by the FSP on the merchant's signature.
 */
export type RefundState =
  | 'merchant_refund_verified' // the FSP verified the merchant's signed refund and reserved the amount; the order is queued
  | 'merchant_bank_ordered' // the merchant's bank verified the merchant's signature, debited or held, and is paying back
  | 'funds_returned' // the money is back on the customer's account (the merchant's bank's signed answer)
  | 'refund_refused' // a bank refused (no merchant signature it could verify, funds, more than the original)
  | 'refund_failed'; // a bank answered with an error that no retry will change

/** What happens to a refund; each event is one step of the protocol. */
export type RefundEventKind =
  | 'bank_accepted' // the merchant's bank placed the order: the money is on its way to the customer's bank
  | 'bank_refunded' // the merchant's bank answered, signed, that the customer's bank credited the customer
  | 'bank_refused' // a bank answered, signed, that it refuses
  | 'bank_failed'; // the merchant's bank answered with an error that no retry will change

/**
 * What a step asks the service to do, in the transaction that stores it (an
 * outbox row each, delivered with retries):
 *   order_refund     order the merchant's bank to pay back, forwarding the merchant's signature
 *   notify_merchant  the merchant's signed webhook (`refund.updated`)
 *   notify_customer  the customer's refund receipt, signed by the FSP, pushed to the device
 *   log_outcome      the refund's signed messages to the third-party transaction log
 */
export type RefundEffect = 'order_refund' | 'notify_merchant' | 'notify_customer' | 'log_outcome';

interface RefundTransition {
  readonly to: RefundState;
  readonly effects: readonly RefundEffect[];
  /** Where the step comes from: the macro paper's interbank steps, run in reverse. */
  readonly step: string;
}

interface RefundStateDefinition {
  readonly status: RefundStatus;
  readonly final: boolean;
  readonly on: Readonly<Partial<Record<RefundEventKind, RefundTransition>>>;
  /** The states `on` leads to (derived). */
  readonly next: readonly RefundState[];
}

function state(
  status: RefundStatus,
  on: Partial<Record<RefundEventKind, RefundTransition>> = {},
): RefundStateDefinition {
  const transitions = Object.freeze(
    Object.fromEntries(Object.entries(on).map(([event, transition]) => [event, Object.freeze(transition)])),
  );
  const next = Object.freeze([...new Set(Object.values(on).map((transition) => transition.to))]);
  return Object.freeze({ status, final: next.length === 0, on: transitions, next });
}

/** A completed refund: both parties told (the customer with a signed receipt), and logged. */
const completed: readonly RefundEffect[] = Object.freeze([
  'notify_merchant',
  'notify_customer',
  'log_outcome',
]);
/** A refund that moved no money: the merchant is told and the refusal logged; the customer lost nothing. */
const closed: readonly RefundEffect[] = Object.freeze(['notify_merchant', 'log_outcome']);

/** The outcomes the merchant's bank may answer while the refund waits for it, before or after it accepted. */
const outcomes = {
  bank_refunded: {
    to: 'funds_returned',
    effects: completed,
    step: 'macro §4.2 steps 8–10 reversed: MB → CB funds transfer, CB credits, Pay_Ack',
  },
  bank_refused: { to: 'refund_refused', effects: closed, step: 'refused by a bank' },
  bank_failed: { to: 'refund_failed', effects: closed, step: 'failed at the merchant bank' },
} as const satisfies Partial<Record<RefundEventKind, RefundTransition>>;

/** The refund protocol as data: state → event → next state and effects, plus the status. */
export const refundStateMachine: Readonly<Record<RefundState, RefundStateDefinition>> = Object.freeze({
  merchant_refund_verified: state('requested', {
    bank_accepted: {
      to: 'merchant_bank_ordered',
      effects: [],
      step: 'macro §4.2 step 8 reversed: the merchant bank holds the refund and sends it to the customer bank',
    },
    ...outcomes,
  }),
  merchant_bank_ordered: state('ordered', outcomes),
  funds_returned: state('completed'),
  refund_refused: state('refused'),
  refund_failed: state('failed'),
});

/**
 * How a refund starts: the FSP verified the merchant's signature, that the
 * payment is completed and the merchant's, and that the refunds not refused
 * stay within its amount; it stores the refund in this state and queues the
 * order to the merchant's bank in the same transaction.
 */
export const initialRefundStep = Object.freeze({
  next: 'merchant_refund_verified' as RefundState,
  effects: Object.freeze(['order_refund']) as readonly RefundEffect[],
  step: 'refund requested: the FSP verified the merchant signature and orders the merchant bank',
});

export const refundStates: readonly RefundState[] = Object.freeze(
  Object.keys(refundStateMachine) as RefundState[],
);

export const refundEventKinds: readonly RefundEventKind[] = Object.freeze([
  'bank_accepted',
  'bank_refunded',
  'bank_refused',
  'bank_failed',
]);

export function isRefundState(value: unknown): value is RefundState {
  return typeof value === 'string' && Object.hasOwn(refundStateMachine, value);
}

export function refundStatusOf(refundState: RefundState): RefundStatus {
  return refundStateMachine[refundState].status;
}

export function isFinalRefundState(refundState: RefundState): boolean {
  return refundStateMachine[refundState].final;
}

/** The states in which a refund waits for the merchant's bank (what the refund-order outbox settles). */
export const awaitingBankRefundStates: readonly RefundState[] = Object.freeze(
  refundStates.filter((candidate) => 'bank_refunded' in refundStateMachine[candidate].on),
);

/**
 * The states whose amount counts against the original payment: every refund
 * that has moved money or still may. Refused and failed refunds moved none.
 */
export const reservingRefundStates: readonly RefundState[] = Object.freeze(
  refundStates.filter((candidate) => candidate !== 'refund_refused' && candidate !== 'refund_failed'),
);

/** Guards a transition: throws PAYMENT_STATE_INVALID ("… → … is not allowed") if the table has no such step. */
export function assertRefundTransition(from: RefundState, to: RefundState): void {
  if (!refundStateMachine[from].next.includes(to)) {
    throw new MpayError('PAYMENT_STATE_INVALID', `refund ${from} → ${to} is not allowed`);
  }
}
