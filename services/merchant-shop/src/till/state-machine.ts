import { MpayError } from '@mpay/protocol';

/**
 * A sale at the till (iMS §2.2, m-trade, Figure 2): the till shows a signed
 * QR code; a customer's wallet claims it at the FSP; the FSP tells the
 * merchant who claimed (`trade.claimed`); the merchant sends that customer
 * the ordinary payment request; the FSP's signed notification says how it
 * ended. The table below is the whole protocol of a sale.
 */

/** What the staff's till shows. */
export type SalePublicStatus =
  | 'waiting' // the QR code is shown; nobody claimed it yet
  | 'claimed' // a customer claimed it; the payment request is on the customer's phone
  | 'paid'
  | 'declined'
  | 'expired'
  | 'failed'
  | 'cancelled'
  | 'on_hold';

export type SaleState =
  | 'waiting' // the signed QR code is shown
  | 'claimed' // the FSP's signed claim named the customer; the payment request is being sent
  | 'requested' // the FSP accepted the payment request and asks the customer
  | 'request_failed' // the FSP refused the request, or the shop gave up asking; a signed outcome still decides
  | 'paid' // the FSP's signed notification: completed, for the sale's amount and the claiming customer
  | 'declined' // the customer (or the customer's bank) declined
  | 'failed' // the payment failed at a bank, or the claim did not match the sale
  | 'expired' // nobody claimed the code in time, or the customer did not answer in time
  | 'cancelled' // the staff withdrew the sale
  | 'on_hold'; // a completed payment did not match the sale (amount, currency, payer): the operator decides

export type SaleEventKind =
  | 'claimed' // verified trade.claimed for this sale's code and amount
  | 'claim_mismatched' // verified trade.claimed whose amount differs from the sale's
  | 'payment_requested' // the FSP accepted the payment request (or notified it is awaiting the customer)
  | 'payment_request_failed' // the FSP refused the request for good, or the shop's window to ask ran out
  | 'payment_completed'
  | 'payment_mismatched'
  | 'payment_declined'
  | 'payment_failed'
  | 'payment_expired'
  | 'payment_cancelled'
  | 'code_expired' // the code's lifetime (and the grace for a late claim) passed with no claim
  | 'cancelled'; // the staff withdrew a sale nobody claimed

interface SaleTransition {
  readonly to: SaleState;
  readonly step: string;
}

interface SaleStateDefinition {
  readonly publicStatus: SalePublicStatus;
  readonly on: Readonly<Partial<Record<SaleEventKind, SaleTransition>>>;
  /** Events acknowledged without a change: a redelivered notification, a retried hook or action. */
  readonly ignores: readonly SaleEventKind[];
  readonly next: readonly SaleState[];
  readonly final: boolean;
}

/** The FSP's signed outcome decides from any state that still waits for one. */
const outcomes = (): Partial<Record<SaleEventKind, SaleTransition>> => ({
  payment_completed: { to: 'paid', step: 'iMS §2.2: positive confirmation, the sale is paid' },
  payment_mismatched: { to: 'on_hold', step: 'completed payment does not match the sale' },
  payment_declined: { to: 'declined', step: 'payment declined' },
  payment_failed: { to: 'failed', step: 'payment failed' },
  payment_expired: { to: 'expired', step: 'payment request expired' },
  payment_cancelled: { to: 'cancelled', step: 'payment request cancelled' },
});

function state(
  publicStatus: SalePublicStatus,
  on: Partial<Record<SaleEventKind, SaleTransition>>,
  ignores: readonly SaleEventKind[],
): SaleStateDefinition {
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
    on: transitions,
    ignores: Object.freeze([...ignores]),
    next,
    final: next.length === 0,
  });
}

/** Late or repeated news that changes nothing once a sale has its outcome. */
const settledIgnores: readonly SaleEventKind[] = [
  'claimed',
  'claim_mismatched',
  'payment_requested',
  'payment_request_failed',
  'code_expired',
];

export const saleStateMachine: Readonly<Record<SaleState, SaleStateDefinition>> = Object.freeze({
  waiting: state(
    'waiting',
    {
      claimed: { to: 'claimed', step: 'iMS §2.2: a customer claimed the signed code (FSP trade.claimed)' },
      claim_mismatched: { to: 'failed', step: 'the claimed code does not match the sale' },
      code_expired: { to: 'expired', step: 'nobody claimed the code in time' },
      cancelled: { to: 'cancelled', step: 'the staff withdrew the sale' },
      ...outcomes(),
    },
    [],
  ),
  claimed: state(
    'claimed',
    {
      payment_requested: { to: 'requested', step: 'iMS step 1: the FSP accepted the payment request' },
      payment_request_failed: { to: 'request_failed', step: 'payment request refused' },
      ...outcomes(),
    },
    ['claimed', 'code_expired'],
  ),
  requested: state('claimed', outcomes(), ['claimed', 'payment_requested', 'code_expired']),
  request_failed: state(
    'failed',
    {
      // The request did get through after all (its answer was lost): the FSP's notification says so.
      payment_requested: { to: 'requested', step: 'the FSP is asking the customer after all' },
      ...outcomes(),
    },
    ['claimed', 'payment_request_failed', 'code_expired'],
  ),
  paid: state('paid', {}, [...settledIgnores, 'payment_completed']),
  declined: state('declined', {}, [...settledIgnores, 'payment_declined']),
  failed: state('failed', {}, [...settledIgnores, 'payment_failed']),
  expired: state('expired', {}, [...settledIgnores, 'payment_expired']),
  cancelled: state('cancelled', {}, [...settledIgnores, 'payment_cancelled', 'cancelled']),
  on_hold: state('on_hold', {}, [...settledIgnores, 'payment_mismatched']),
});

export const initialSaleState: SaleState = 'waiting';

export const saleStates: readonly SaleState[] = Object.freeze(Object.keys(saleStateMachine) as SaleState[]);

export function isSaleState(value: unknown): value is SaleState {
  return typeof value === 'string' && Object.hasOwn(saleStateMachine, value);
}

export function salePublicStatusOf(state: SaleState): SalePublicStatus {
  return saleStateMachine[state].publicStatus;
}

export function isFinalSaleState(state: SaleState): boolean {
  return saleStateMachine[state].final;
}

export interface SaleStepResult {
  readonly from: SaleState;
  readonly next: SaleState;
  readonly step: string;
  /** False when the state ignores the event. */
  readonly changed: boolean;
}

/**
 * One step of a sale: the next state for an event. An event the state
 * ignores leaves it unchanged; any other the table does not list is
 * PAYMENT_STATE_INVALID ("… is not allowed in …").
 */
export function stepSale(state: SaleState, event: SaleEventKind): SaleStepResult {
  const definition = saleStateMachine[state];
  const transition = definition.on[event];
  if (transition !== undefined)
    return Object.freeze({ from: state, next: transition.to, step: transition.step, changed: true });
  if (definition.ignores.includes(event))
    return Object.freeze({ from: state, next: state, step: `${event} ignored`, changed: false });
  throw new MpayError('PAYMENT_STATE_INVALID', `${event} is not allowed in ${state}`);
}

/** Guards a stored transition: throws if the table does not allow it. */
export function assertSaleTransition(from: SaleState, to: SaleState): void {
  if (!saleStateMachine[from].next.includes(to))
    throw new Error(`assertion failed: sale ${from} → ${to} is not allowed`);
}
