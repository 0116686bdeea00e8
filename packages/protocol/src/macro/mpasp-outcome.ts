import { assert, type ErrorCode, isErrorCode, MpayError } from '../errors/index.ts';
import { amountEquals } from '../money/index.ts';
import {
  amountOfMacroAmount,
  bankOfParty,
  type MacroParty,
  type MacroStepNumber,
  macroMessageRoutes,
  type PayConfirmToMpaspContent,
} from './messages.ts';
import { type MacroEffect, type MacroState, macroStateMachine } from './state-machine.ts';
import type { MacroOutcomeTransitionName, MacroPayment, MacroStepResult } from './step.ts';

/**
 * Step 12 as the MPASP lives it. Steps 7–11 happen between the client, its
 * bank and the merchant's bank (the paper sends the MPASP nothing in
 * between): the MPASP's copy of the payment stays in `approval_requested`
 * from the client bank's answer to step 6 until it learns how the banks
 * ended, then moves straight to the state the client bank reached:
 *
 * - `pay_confirm`: CB → MPASP: E_SP{SID_T, Pay_Confirm, ID_M, AmtInfo_c}_{MPASP-CB},
 *   its signature verified by the MPASP under the client bank's key →
 *   `completed`, and the MPASP forwards it to the client (the table's step-12
 *   effect whose sender is the MPASP);
 * - `ft_refused`: the client bank's signed word that the merchant bank
 *   refused FT (the hold released), with its code → `refused_by_mb`.
 *
 * T_EXP does not apply here: the client bank takes PApp_Resp only before
 * T_EXP, so an outcome learnt after it answers an approval made in time.
 * Pure; the service persists the result with applyMacroStep.
 */
export type ClientBankOutcome =
  | {
      readonly kind: 'pay_confirm';
      readonly receivedBy: MacroParty;
      readonly content: PayConfirmToMpaspContent;
    }
  | { readonly kind: 'ft_refused'; readonly code: ErrorCode };

/** The state the MPASP's copy waits in while the banks run steps 7–11. */
export const macroOutcomeAwaitingState: MacroState = 'approval_requested';

/** Where each outcome leads, and the client-bank transition of the table it stands for. */
const outcomes = {
  pay_confirm: {
    name: 'pay_confirm_received',
    to: 'completed',
    step: 12,
    via: macroStateMachine.acknowledged.on.funds_posted,
    words:
      'CB → MPASP: E_SP{SID_T, Pay_Confirm, ID_M, AmtInfo_c}_{MPASP-CB}; the MPASP forwards it to the client',
  },
  ft_refused: {
    name: 'ft_refused_received',
    to: 'refused_by_mb',
    step: 8,
    via: macroStateMachine.funds_transfer_sent.on.ft_refused,
    words: "the CB's signed word that the MB refused FT (the hold released); the MPASP tells the client",
  },
} as const satisfies Record<
  ClientBankOutcome['kind'],
  { name: MacroOutcomeTransitionName; to: MacroState; step: MacroStepNumber; via: unknown; words: string }
>;

/** States reachable from `from` through the table (from excluded unless on a cycle). */
function reachableFrom(from: MacroState): Set<MacroState> {
  const reached = new Set<MacroState>();
  const queue: MacroState[] = [...macroStateMachine[from].next];
  for (let state = queue.shift(); state !== undefined; state = queue.shift()) {
    if (reached.has(state)) continue;
    reached.add(state);
    queue.push(...macroStateMachine[state].next);
  }
  return reached;
}

function mismatch(holds: boolean, field: string): void {
  if (!holds) throw new MpayError('PAYMENT_MESSAGE_MISMATCH', field);
}

/** The fields Pay_Confirm establishes at the MPASP, after checking it names this payment. */
function checkPayConfirm(
  payment: MacroPayment,
  receivedBy: MacroParty,
  content: PayConfirmToMpaspContent,
): Partial<MacroPayment> {
  if (receivedBy !== macroMessageRoutes.macro_pay_confirm_to_mpasp.to) {
    throw new MpayError('MACRO_RECIPIENT_INVALID', 'macro_pay_confirm_to_mpasp');
  }
  mismatch(content.kind === 'macro_pay_confirm_to_mpasp', 'kind');
  mismatch(content.from === payment.clientBankId, 'from');
  mismatch(content.to === payment.mpaspId, 'to');
  mismatch(content.sessionId === payment.sessionId, 'sessionId');
  mismatch(amountEquals(amountOfMacroAmount(content.amount), payment.amount), 'amount');
  mismatch(content.expiresAt === payment.expiresAt.toISOString(), 'expiresAt');
  return { merchantId: content.merchantId, merchantBankId: bankOfParty(content.merchantId) };
}

/**
 * The MPASP's step 12: the payment after the client bank's outcome, with the
 * MPASP's own effects (the table's effects of the same end whose sender is
 * the MPASP). Refused without change: PAYMENT_STATE_INVALID outside
 * `approval_requested` (a second report, one before step 6's answer),
 * MACRO_RECIPIENT_INVALID, PAYMENT_MESSAGE_MISMATCH with the field.
 */
export function learnClientBankOutcome(
  payment: MacroPayment,
  outcome: ClientBankOutcome,
  now: Date,
): MacroStepResult {
  assert(now instanceof Date && !Number.isNaN(now.getTime()), 'now is a valid Date');
  if (payment.state !== macroOutcomeAwaitingState) {
    throw new MpayError('PAYMENT_STATE_INVALID', `${outcome.kind} is not allowed in ${payment.state}`);
  }
  const target = outcomes[outcome.kind];
  assert(reachableFrom(payment.state).has(target.to), `${target.to} follows ${payment.state} in the table`);
  assert(target.via?.to === target.to, `the table leads to ${target.to}`);
  let established: Partial<MacroPayment>;
  if (outcome.kind === 'pay_confirm') {
    established = checkPayConfirm(payment, outcome.receivedBy, outcome.content);
  } else {
    assert(isErrorCode(outcome.code), 'ft_refused carries a catalogue code');
    established = { outcome: outcome.code };
  }
  // The banks' own effects (the hold posted or released, their messages) happened at the banks.
  const effects: readonly MacroEffect[] = target.via.effects.filter(
    (effect) => 'from' in effect && effect.from === 'MPASP',
  );
  const next: MacroPayment = Object.freeze({
    ...payment,
    ...established,
    state: target.to,
    outcome: established.outcome ?? macroStateMachine[target.to].outcome,
  });
  return Object.freeze({
    from: payment.state,
    payment: next,
    effects: Object.freeze(effects),
    transition: target.name,
    step: target.step,
    name: target.words,
  });
}
