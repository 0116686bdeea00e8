import { MpayError } from '../errors/index.ts';

/**
 * The security procedure for mobile payments of the iMS paper, §5 (Figure 4),
 * step by step, with who does what. The services name their code after these
 * numbers; `mpay demo --custody` prints them as they happen.
 */
export const custodySteps = Object.freeze({
  1: "the merchant's signed, encrypted message; the FSP verifies the source, signs, encrypts and redirects it to custody",
  2: "custody validates the message source and sends it to the designated customer's device",
  3: 'the device verifies the source, otherwise the procedure terminates',
  4: "the customer enters the PIN, protected with a session secret under custody's key; the delegate authorisation is bound to the hash of that exact message",
  5: 'the encrypted authorisation is sent to custody',
  6: "custody validates the source, checks the PIN and signs that one message with the customer's key; then to the FSP",
  7: "the FSP validates the signature and orders the customer's bank",
  8: 'the FSP is acknowledged after the transfer of funds',
  9: 'the merchant receives the notification',
  10: 'the customer receives a digital receipt',
} as const);

export type CustodyStep = keyof typeof custodySteps;

/**
 * A message custody holds for a custody customer, from the FSP's redirect to
 * its outcome.
 */
export type CustodyMessageState =
  | 'sent_to_device' // step 2: the FSP's message validated and forwarded to the customer's devices
  | 'signed' // step 6: the PIN checked, the customer's consent signed in the HSM, sent to the FSP
  | 'declined' // step 6 for a decline: the customer's signed decline sent to the FSP
  | 'receipted' // step 10: the FSP's receipt received and forwarded to the devices
  | 'closed'; // the FSP's outcome without a transfer (refused, expired, cancelled)

export type CustodyMessageEvent =
  | 'delegate_confirmed' // step 6: a valid PIN authorisation for this message, decision confirm
  | 'delegate_declined' // step 6: a valid PIN authorisation for this message, decision decline
  | 'fsp_receipt' // step 10: the FSP's signed receipt
  | 'fsp_outcome'; // the FSP's signed outcome of a payment that did not transfer

/**
 * What a transition asks custody to do, in the same transaction:
 *   send_to_fsp      the delegate signature (or decline), encrypted to the FSP (step 6 → 7)
 *   log_signature    the delegate signature to the third-party log, with custody's key id
 *   forward_receipt  the receipt to the customer's devices (step 10)
 *   forward_outcome  the outcome to the customer's devices
 */
export type CustodyMessageEffect = 'send_to_fsp' | 'log_signature' | 'forward_receipt' | 'forward_outcome';

interface CustodyTransition {
  readonly to: CustodyMessageState;
  readonly effects: readonly CustodyMessageEffect[];
}

const table: Readonly<Record<CustodyMessageState, Partial<Record<CustodyMessageEvent, CustodyTransition>>>> =
  {
    sent_to_device: {
      delegate_confirmed: { to: 'signed', effects: ['send_to_fsp', 'log_signature'] },
      delegate_declined: { to: 'declined', effects: ['send_to_fsp', 'log_signature'] },
      fsp_outcome: { to: 'closed', effects: ['forward_outcome'] },
    },
    signed: {
      fsp_receipt: { to: 'receipted', effects: ['forward_receipt'] },
      fsp_outcome: { to: 'closed', effects: ['forward_outcome'] },
    },
    declined: {
      fsp_outcome: { to: 'closed', effects: ['forward_outcome'] },
    },
    receipted: {},
    closed: {},
  };

/** Whether a PIN authorisation may still be asked for a message in this state (only once, before any answer). */
export function custodyMessageAwaitsCustomer(state: CustodyMessageState): boolean {
  return state === 'sent_to_device';
}

/**
 * The pure step of a custody message: the next state and the effects, or
 * PAYMENT_STATE_INVALID when the event does not apply (a second PIN
 * authorisation for one message, a receipt for a declined one).
 */
export function stepCustodyMessage(
  state: CustodyMessageState,
  event: CustodyMessageEvent,
): CustodyTransition {
  const transition = table[state][event];
  if (transition === undefined) throw new MpayError('PAYMENT_STATE_INVALID', `${event} in ${state}`);
  return transition;
}

export const custodyMessageStates: readonly CustodyMessageState[] = Object.freeze(
  Object.keys(table) as CustodyMessageState[],
);
