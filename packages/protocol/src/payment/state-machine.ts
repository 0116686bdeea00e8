import { MpayError } from '../errors/index.ts';

/** What a customer or merchant is told about a payment. */
export type PublicStatus =
  | 'requested'
  | 'awaiting_customer'
  | 'authorised'
  | 'completed'
  | 'declined'
  | 'expired'
  | 'failed'
  | 'refunded';

/**
 * The internal states of an iMS payment, named after the steps of the iMS
 * paper (section 2 flows, section 5 steps 1–10) that lead into them.
 */
export type PaymentState =
  | 'merchant_request_verified' // step 1: FSP received the merchant's signed message and verified the source
  | 'awaiting_customer_signature' // steps 1–3: FSP countersigned, encrypted and sent it to the customer's device
  | 'customer_signature_verified' // steps 6–7: FSP validated the customer's signature; bank transfer requested
  | 'funds_transferred' // step 8: the bank acknowledged the transfer; merchant notified, receipt issued (9–10)
  | 'customer_declined'
  | 'funds_refused' // the bank refused the transfer (insufficient funds, limits, closed account)
  | 'request_expired'
  | 'transfer_failed';

interface StateDefinition {
  readonly publicStatus: PublicStatus;
  readonly next: readonly PaymentState[];
  readonly final: boolean;
}

/** The payment protocol as data: state → allowed next states → public status. */
export const paymentStateMachine: Readonly<Record<PaymentState, StateDefinition>> = Object.freeze({
  merchant_request_verified: {
    publicStatus: 'requested',
    next: ['awaiting_customer_signature', 'request_expired', 'transfer_failed'],
    final: false,
  },
  awaiting_customer_signature: {
    publicStatus: 'awaiting_customer',
    next: ['customer_signature_verified', 'customer_declined', 'request_expired'],
    final: false,
  },
  customer_signature_verified: {
    publicStatus: 'authorised',
    next: ['funds_transferred', 'funds_refused', 'transfer_failed'],
    final: false,
  },
  funds_transferred: { publicStatus: 'completed', next: [], final: true },
  customer_declined: { publicStatus: 'declined', next: [], final: true },
  funds_refused: { publicStatus: 'declined', next: [], final: true },
  request_expired: { publicStatus: 'expired', next: [], final: true },
  transfer_failed: { publicStatus: 'failed', next: [], final: true },
});

export const initialPaymentState: PaymentState = 'merchant_request_verified';

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
