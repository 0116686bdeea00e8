import { type ErrorCode, MpayError } from '../errors/index.ts';
import {
  type PaymentEffect,
  type PaymentEventKind,
  type PaymentState,
  paymentStateMachine,
} from './state-machine.ts';

/** What the step function needs to know of a payment. */
export interface PaymentStepInput {
  readonly state: PaymentState;
  readonly expiresAt: Date;
}

export interface PaymentStepResult {
  readonly from: PaymentState;
  readonly next: PaymentState;
  readonly effects: readonly PaymentEffect[];
  /** Where the paper describes the step (kept with the event in the payment's history). */
  readonly step: string;
}

/** Events only the customer sends: refused once the request has expired. */
const customerEvents: ReadonlySet<PaymentEventKind> = new Set(['customer_confirmed', 'customer_declined']);

/** The answer to an event the payment's state no longer allows, by the state it is in. */
const refusalByState: Readonly<Partial<Record<PaymentState, ErrorCode>>> = {
  request_expired: 'PAYMENT_EXPIRED',
  merchant_cancelled: 'PAYMENT_CANCELLED',
};

/**
 * The payment protocol's one step: given the payment's state, an event and
 * the time, the next state and the effects to persist with it. Pure: the
 * service persists `next` and `effects` in one transaction and delivers the
 * effects from its outbox. Throws PAYMENT_EXPIRED for a customer's answer at
 * or after the expiry, and for an event the table does not allow in this
 * state PAYMENT_STATE_INVALID ("expected …, got …"), or the code that says why
 * the payment is closed (PAYMENT_EXPIRED, PAYMENT_CANCELLED).
 */
export function stepPayment(
  payment: PaymentStepInput,
  event: PaymentEventKind,
  now: Date,
): PaymentStepResult {
  const definition = paymentStateMachine[payment.state];
  const transition = definition.on[event];
  if (transition === undefined) {
    throw new MpayError(
      refusalByState[payment.state] ?? 'PAYMENT_STATE_INVALID',
      `${event} is not allowed in ${payment.state}`,
    );
  }
  const expired = now.getTime() >= payment.expiresAt.getTime();
  if (event === 'expiry_due' && !expired) {
    throw new MpayError('PAYMENT_STATE_INVALID', `expiry_due before ${payment.expiresAt.toISOString()}`);
  }
  if (customerEvents.has(event) && expired) throw new MpayError('PAYMENT_EXPIRED');
  return Object.freeze({
    from: payment.state,
    next: transition.to,
    effects: transition.effects,
    step: transition.step,
  });
}
