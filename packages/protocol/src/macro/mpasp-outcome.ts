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
 *   refused FT (the hold released), with its code → `refused_by_mb`;
 * - `declined`: the client bank's signed word that the client's PApp_Resp
 *   declined (step 7; nothing was held) → `declined_by_client`, PAYMENT_DECLINED
 *   (the table's approval_requested.on.papp_resp_declined), and the MPASP
 *   tells the client;
 * - `refused_at_cb`: the client bank's signed word that it refused the
 *   payment order an approval placed, before any money moved, with its code
 *   → `failed_balance` (the table's approved.on.failure_msg2: "the hold is
 *   refused (ABal_C fell since step 6): CB → MPASP: send_failure_msg2"), and
 *   the MPASP forwards failure_msg2 to the client. The client bank answers
 *   every refusal of that order with send_failure_msg2 (not only a short
 *   balance: a debit limit, a payee its directory does not know), and the
 *   table has no other state for the CB refusing after the approval: not
 *   `refused_by_mb` (no FT reached the merchant bank), not
 *   `declined_by_client` (the client approved). So the state is the table's,
 *   and the outcome is the bank's own code (INSUFFICIENT_FUNDS for the hold,
 *   LIMIT_EXCEEDED, PAYEE_UNKNOWN, …), so that the client is told the true
 *   reason; the public status is `declined` either way.
 *
 * T_EXP does not apply here: the client bank takes PApp_Resp (approve or
 * decline) only before T_EXP, so an outcome learnt after it answers a
 * PApp_Resp made in time. Pure; the service persists the result with
 * applyMacroStep.
 */
export type ClientBankOutcome =
  | {
      readonly kind: 'pay_confirm';
      readonly receivedBy: MacroParty;
      readonly content: PayConfirmToMpaspContent;
    }
  | { readonly kind: 'ft_refused'; readonly code: ErrorCode }
  | { readonly kind: 'declined' }
  | { readonly kind: 'refused_at_cb'; readonly code: ErrorCode };

/**
 * The client bank's states of one SID_T, as its signed statement of the
 * session names them (services/bank GET /macro/sessions/:sessionId/outcome):
 * PApp_Req made and not answered yet, PApp_Resp declined, refused
 * (send_failure_msg2, at step 6 or at the order's placement), approved (the
 * payment order placed: its statement tells the rest).
 */
export type ClientBankSessionState = 'approval_requested' | 'declined' | 'refused' | 'approved';

export const clientBankSessionStates: readonly ClientBankSessionState[] = Object.freeze([
  'approval_requested',
  'declined',
  'refused',
  'approved',
]);

export function isClientBankSessionState(value: unknown): value is ClientBankSessionState {
  return typeof value === 'string' && (clientBankSessionStates as readonly string[]).includes(value);
}

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
  declined: {
    name: 'papp_resp_declined_received',
    to: 'declined_by_client',
    step: 7,
    via: macroStateMachine.approval_requested.on.papp_resp_declined,
    words: "the CB's signed word that the client's PApp_Resp declined; the MPASP tells the client",
  },
  refused_at_cb: {
    name: 'failure_msg2_received',
    to: 'failed_balance',
    step: 8,
    via: macroStateMachine.approved.on.failure_msg2,
    words:
      "the CB's signed word that it refused the approved payment's order (send_failure_msg2); the MPASP tells the client",
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
  } else if (outcome.kind === 'declined') {
    established = {};
  } else {
    assert(isErrorCode(outcome.code), `${outcome.kind} carries a catalogue code`);
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
