import { MpayError } from '../errors/index.ts';

/** What a customer or merchant is told about a payment. */
export type PublicStatus =
  | 'requested'
  | 'awaiting_customer'
  | 'authorised'
  | 'completed'
  | 'declined'
  | 'cancelled'
  | 'expired'
  | 'failed'
  | 'refunded'
  | 'partially_refunded';

/**
 * The internal states of an iMS payment, named after the steps of the iMS
 * paper (section 2 flows, section 5 steps 1–10) that lead into them.
 */
export type PaymentState =
  | 'merchant_request_verified' // step 1: FSP received the merchant's signed message and verified the source
  | 'awaiting_customer_signature' // steps 1–3: FSP countersigned, encrypted and sent it to the customer's device
  | 'customer_signature_verified' // steps 4–6: FSP verified the customer's signature; the order to the bank is queued (7)
  | 'funds_transferred' // steps 7–8: the customer's bank verified the signature and paid; merchant notified, receipt issued (9–10)
  | 'customer_declined' // the customer declined with a signed decline
  | 'merchant_cancelled' // the merchant withdrew the request before the customer answered
  | 'funds_refused' // the customer's bank refused (no consent it could verify, funds, limits, payee unknown)
  | 'request_expired' // nobody answered in time
  | 'transfer_failed'; // the bank failed the order for good (not a decision on the payment)

/** What happens to a payment; each event is one step of the protocol. */
export type PaymentEventKind =
  | 'countersigned' // iMS steps 1–2: the FSP filled in the payer's account, countersigned, encrypted to the device
  | 'customer_confirmed' // iMS steps 4–6: the customer's signature over the exact message verified at the FSP
  | 'customer_declined' // the customer's signed decline verified at the FSP
  | 'merchant_cancelled' // the merchant's signed cancellation
  | 'expiry_due' // the request's expiry passed without an answer
  | 'bank_transferred' // iMS step 8: the customer's bank answered, signed, that it paid
  | 'bank_refused' // the customer's bank answered, signed, that it refuses
  | 'bank_failed'; // the bank answered with an error that no retry will change

/**
 * What a transition asks the service to do, in the same transaction as the
 * state change (an outbox row each, delivered with retries):
 *   push_request    send the countersigned, encrypted request to the customer's device (iMS step 2)
 *   order_transfer  ask the customer's bank to pay, forwarding the customer's signature (iMS step 7)
 *   issue_receipt   sign the customer's receipt (iMS step 10)
 *   notify_merchant the merchant's signed notification (iMS step 9)
 *   notify_customer the outcome (receipt or status) to the customer's device
 *   log_outcome     the outcome's signed messages to the third-party transaction log
 */
export type PaymentEffect =
  | 'push_request'
  | 'order_transfer'
  | 'issue_receipt'
  | 'notify_merchant'
  | 'notify_customer'
  | 'log_outcome';

interface Transition {
  readonly to: PaymentState;
  readonly effects: readonly PaymentEffect[];
  /** Where the paper describes this step. */
  readonly step: string;
}

interface StateDefinition {
  readonly publicStatus: PublicStatus;
  readonly final: boolean;
  /** True when `expiry_due` applies: the customer has not answered yet. */
  readonly expires: boolean;
  readonly on: Readonly<Partial<Record<PaymentEventKind, Transition>>>;
  /** The states `on` leads to (derived). */
  readonly next: readonly PaymentState[];
}

/** Every outcome is notified to both parties and logged, whichever it is. */
const outcome: readonly PaymentEffect[] = ['notify_merchant', 'notify_customer', 'log_outcome'];

function state(
  publicStatus: PublicStatus,
  on: Partial<Record<PaymentEventKind, Transition>> = {},
): StateDefinition {
  const transitions = Object.freeze(
    Object.fromEntries(Object.entries(on).map(([k, t]) => [k, Object.freeze(t)])),
  );
  const next = Object.freeze([...new Set(Object.values(on).map((transition) => transition.to))]);
  return Object.freeze({
    publicStatus,
    final: next.length === 0,
    expires: 'expiry_due' in on,
    on: transitions,
    next,
  });
}

/** The payment protocol as data: state → event → next state and effects, plus the public status. */
export const paymentStateMachine: Readonly<Record<PaymentState, StateDefinition>> = Object.freeze({
  merchant_request_verified: state('requested', {
    countersigned: { to: 'awaiting_customer_signature', effects: ['push_request'], step: 'iMS §5 steps 1–2' },
    merchant_cancelled: { to: 'merchant_cancelled', effects: outcome, step: 'cancellation' },
    expiry_due: { to: 'request_expired', effects: outcome, step: 'expiry' },
  }),
  awaiting_customer_signature: state('awaiting_customer', {
    customer_confirmed: {
      to: 'customer_signature_verified',
      effects: ['order_transfer'],
      step: 'iMS §5 steps 4–7',
    },
    customer_declined: { to: 'customer_declined', effects: outcome, step: 'decline' },
    merchant_cancelled: { to: 'merchant_cancelled', effects: outcome, step: 'cancellation' },
    expiry_due: { to: 'request_expired', effects: outcome, step: 'expiry' },
  }),
  customer_signature_verified: state('authorised', {
    bank_transferred: {
      to: 'funds_transferred',
      effects: ['issue_receipt', ...outcome],
      step: 'iMS §5 steps 8–10',
    },
    bank_refused: { to: 'funds_refused', effects: outcome, step: 'iMS §5 step 8 (refused)' },
    bank_failed: { to: 'transfer_failed', effects: outcome, step: 'iMS §5 step 8 (failed)' },
  }),
  funds_transferred: state('completed'),
  customer_declined: state('declined'),
  merchant_cancelled: state('cancelled'),
  funds_refused: state('declined'),
  request_expired: state('expired'),
  transfer_failed: state('failed'),
});

export const initialPaymentState: PaymentState = 'merchant_request_verified';

export const paymentStates: readonly PaymentState[] = Object.freeze(
  Object.keys(paymentStateMachine) as PaymentState[],
);

export const paymentEventKinds: readonly PaymentEventKind[] = Object.freeze([
  'countersigned',
  'customer_confirmed',
  'customer_declined',
  'merchant_cancelled',
  'expiry_due',
  'bank_transferred',
  'bank_refused',
  'bank_failed',
]);

export function isPaymentState(value: unknown): value is PaymentState {
  return typeof value === 'string' && Object.hasOwn(paymentStateMachine, value);
}

/** Guards a transition: throws PAYMENT_STATE_INVALID ("expected …, got …") if it is not allowed. */
export function assertTransition(from: PaymentState, to: PaymentState): void {
  if (!paymentStateMachine[from].next.includes(to)) {
    throw new MpayError('PAYMENT_STATE_INVALID', `${from} → ${to} is not allowed`);
  }
}

export function publicStatusOf(state: PaymentState): PublicStatus {
  return paymentStateMachine[state].publicStatus;
}

export function isFinalState(state: PaymentState): boolean {
  return paymentStateMachine[state].final;
}

/** The states in which an unanswered request expires (what the expiry sweep looks for). */
export const expiringPaymentStates: readonly PaymentState[] = Object.freeze(
  paymentStates.filter((candidate) => paymentStateMachine[candidate].expires),
);

/** The states waiting for the customer's bank (what the bank-order outbox settles). */
export const awaitingBankPaymentStates: readonly PaymentState[] = Object.freeze(
  paymentStates.filter((candidate) => 'bank_transferred' in paymentStateMachine[candidate].on),
);
