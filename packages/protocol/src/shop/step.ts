import { MpayError } from '../errors/index.ts';
import {
  type OrderEffect,
  type OrderEventKind,
  type OrderState,
  orderStateMachine,
} from './state-machine.ts';

export interface OrderStepResult {
  readonly from: OrderState;
  readonly next: OrderState;
  readonly effects: readonly OrderEffect[];
  /** Where the step comes from (kept with the event in the order's history). */
  readonly step: string;
  /** False when the state ignores the event (a redelivery, a late answer, a retried action). */
  readonly changed: boolean;
}

/**
 * The order protocol's one step: given the order's state and an event, the
 * next state and the effects to persist with it. Pure: the shop persists
 * `next` and `effects` in one transaction. An event the state ignores
 * returns the state unchanged with no effects; any other event the table
 * does not list throws ORDER_STATE_INVALID ("… is not allowed in …").
 */
export function stepOrder(state: OrderState, event: OrderEventKind): OrderStepResult {
  const definition = orderStateMachine[state];
  const transition = definition.on[event];
  if (transition !== undefined) {
    return Object.freeze({
      from: state,
      next: transition.to,
      effects: transition.effects,
      step: transition.step,
      changed: true,
    });
  }
  if (definition.ignores.includes(event)) {
    return Object.freeze({ from: state, next: state, effects: [], step: `${event} ignored`, changed: false });
  }
  throw new MpayError('ORDER_STATE_INVALID', `${event} is not allowed in ${state}`);
}
