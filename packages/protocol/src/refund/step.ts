import { MpayError } from '../errors/index.ts';
import {
  type RefundEffect,
  type RefundEventKind,
  type RefundState,
  refundStateMachine,
} from './state-machine.ts';

export interface RefundStepResult {
  readonly from: RefundState;
  readonly next: RefundState;
  readonly effects: readonly RefundEffect[];
  /** Where the step comes from (kept with the event in the refund's history). */
  readonly step: string;
}

/**
 * The refund protocol's one step: given the refund's state and an event, the
 * next state and the effects to persist with it. Pure: the service persists
 * `next` and `effects` in one transaction and delivers the effects from its
 * outbox. An event the table does not allow in this state (a second answer
 * after the outcome, an acceptance after the refund completed) throws
 * PAYMENT_STATE_INVALID ("expected …, got …").
 */
export function stepRefund(
  refund: { readonly state: RefundState },
  event: RefundEventKind,
): RefundStepResult {
  const transition = refundStateMachine[refund.state].on[event];
  if (transition === undefined) {
    throw new MpayError('PAYMENT_STATE_INVALID', `refund: ${event} is not allowed in ${refund.state}`);
  }
  return Object.freeze({
    from: refund.state,
    next: transition.to,
    effects: transition.effects,
    step: transition.step,
  });
}
