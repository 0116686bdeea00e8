import { assert, type ErrorCode, isErrorCode, MpayError } from '../errors/index.ts';
import { parseTransactionId } from '../ims/fields.ts';
import { type Amount, amountEquals } from '../money/index.ts';
import { defaultMacroLimits, type MacroLimits } from './limits.ts';
import {
  amountOfMacroAmount,
  bankOfParty,
  type MacroAmount,
  type MacroParty,
  type MacroStepNumber,
  macroMessageRoutes,
  type PAppRespContent,
  type PayAckContent,
  type PaymentRequestContent,
  parseInstant,
  type SecretAnswerContent,
} from './messages.ts';
import {
  type MacroEffect,
  type MacroState,
  type MacroTransition,
  type MacroTransitionName,
  macroStateMachine,
} from './state-machine.ts';

/**
 * A macro payment as the protocol knows it: its state and what the steps so
 * far established, named after the paper. Plain data: a service stores it
 * (with its history of step results) and passes it back to `stepMacro`.
 * Fields a later step establishes are null before it.
 */
export interface MacroPayment {
  readonly state: MacroState;
  /** The client's id of its step-1 message (the challenge repeats it). */
  readonly requestId: string;
  /** ID_C */
  readonly clientId: string;
  /** The MPASP that accepted step 1. */
  readonly mpaspId: string;
  /** AmtInfo_c */
  readonly amount: Amount;
  /** h(TransactionData), from step 1 */
  readonly transactionDataHash: string;
  /** T_EXP: fixed when step 1 is accepted; bounds the client's part, steps 2–7. */
  readonly expiresAt: Date;
  /** ID_T = create_TranId(ID_C) (step 2) */
  readonly transactionId: string | null;
  /** T_iS (step 2) */
  readonly challengedAt: Date | null;
  /** Failed decryption tries of the challenge so far (step 3). */
  readonly challengeOpenFailures: number;
  /** SID_T = CreateSession(ID_T) (step 5) */
  readonly sessionId: string | null;
  /** ID_CB from GetClientInfo(ID_C, ID_CB) (step 5) */
  readonly clientBankId: string | null;
  /** ID_M, from the client's verified consent (step 7) */
  readonly merchantId: string | null;
  /** ID_MB, from the client's verified consent (step 7) */
  readonly merchantBankId: string | null;
  /** In a failure state: the stable code its parties were told. */
  readonly outcome: ErrorCode | null;
}

/**
 * Step 1, C → MPASP: the client's payment request, opened and validated
 * (parsePaymentRequestContent) by the party that received it.
 */
export interface PaymentRequestEvent {
  readonly kind: 'payment_request';
  readonly receivedBy: MacroParty;
  readonly content: PaymentRequestContent;
}

/**
 * What happens to a macro payment, named after the paper's messages. A
 * message event carries the validated content and the party that received
 * it; the step function checks both against the payment. The other events
 * are the result of a check a service made (a verifier, a balance, a ledger).
 */
export type MacroEvent =
  /** Step 2: ID_T = create_TranId(ID_C); T_iS is the step's `now`. */
  | { readonly kind: 'challenge_created'; readonly transactionId: string }
  /** Step 3: the client opened the challenge (the MPASP released its channel key). */
  | { readonly kind: 'challenge_opened'; readonly transactionId: string }
  /** Step 3: a failed decryption try (the MPASP counts them: the key is released only through it). */
  | { readonly kind: 'challenge_open_failed'; readonly transactionId: string }
  /** Step 4: E_SP{ID_T, SAns}, received. */
  | { readonly kind: 'secret_answer'; readonly receivedBy: MacroParty; readonly content: SecretAnswerContent }
  /** Step 5: SAns valid; SID_T = CreateSession(ID_T), ID_CB from GetClientInfo(ID_C, ID_CB). */
  | { readonly kind: 'secret_checked'; readonly sessionId: string; readonly clientBankId: string }
  /** Step 5, else: SAns not valid, send_failure_msg1. */
  | { readonly kind: 'failure_msg1' }
  /** Step 6: ABal_C is sufficient. */
  | { readonly kind: 'balance_checked' }
  /** Step 6, else (or the hold refused at step 8): send_failure_msg2. */
  | { readonly kind: 'failure_msg2' }
  /** Step 7: PApp_Resp, its signature verified at the CB under a key the CB bound to the account. */
  | { readonly kind: 'papp_resp'; readonly receivedBy: MacroParty; readonly content: PAppRespContent }
  /** Step 8: the CB held AmtInfo_c on the client's account (only in `approved`: macroHoldStates). */
  | { readonly kind: 'funds_held' }
  /** Step 9: the MB credited the account it binds to ID_M. */
  | { readonly kind: 'ft_credited' }
  /** Step 8: the MB refused FT, with its code (PAYEE_UNKNOWN, FUNDS_TRANSFER_EXPIRED, …). */
  | { readonly kind: 'ft_refused'; readonly code: ErrorCode }
  /** Step 10: Pay_Ack, its MB signature verified at the CB. */
  | { readonly kind: 'pay_ack'; readonly receivedBy: MacroParty; readonly content: PayAckContent }
  /** Steps 11–12: the CB posted its hold. */
  | { readonly kind: 'funds_posted' }
  /** The expiry sweep: T_EXP passed. */
  | { readonly kind: 'expiry_due' };

export type MacroEventKind = MacroEvent['kind'];

export const macroEventKinds: readonly MacroEventKind[] = Object.freeze([
  'challenge_created',
  'challenge_opened',
  'challenge_open_failed',
  'secret_answer',
  'secret_checked',
  'failure_msg1',
  'balance_checked',
  'failure_msg2',
  'papp_resp',
  'funds_held',
  'ft_credited',
  'ft_refused',
  'pay_ack',
  'funds_posted',
  'expiry_due',
]);

/** The transitions an event may take, before time and content decide which one. */
const transitionsOf: Readonly<Record<MacroEventKind, readonly MacroTransitionName[]>> = {
  challenge_created: ['challenge_created'],
  challenge_opened: ['challenge_opened'],
  challenge_open_failed: ['challenge_open_failed', 'challenge_tries_exhausted'],
  secret_answer: ['secret_answer'],
  secret_checked: ['secret_checked'],
  failure_msg1: ['failure_msg1'],
  balance_checked: ['balance_checked'],
  failure_msg2: ['failure_msg2'],
  papp_resp: ['papp_resp_approved', 'papp_resp_declined'],
  funds_held: ['funds_held'],
  ft_credited: ['ft_credited'],
  ft_refused: ['ft_refused'],
  pay_ack: ['pay_ack'],
  funds_posted: ['funds_posted'],
  expiry_due: ['expired'],
};

/**
 * The MPASP's view of steps 7–11, which happen between the client, its bank
 * and the merchant's bank: it learns their end at step 12 (mpasp-outcome.ts).
 */
export type MacroOutcomeTransitionName =
  | 'pay_confirm_received'
  | 'ft_refused_received'
  | 'papp_resp_declined_received'
  | 'failure_msg2_received';

export interface MacroStepResult {
  /** The state before (null for step 1, which creates the payment). */
  readonly from: MacroState | null;
  /** The payment after the step. */
  readonly payment: MacroPayment;
  /** What the services must do, persisted with `payment` in one transaction. */
  readonly effects: readonly MacroEffect[];
  readonly transition: MacroTransitionName | 'payment_request' | MacroOutcomeTransitionName;
  /** The paper's step number and words (kept with the event in the payment's history). */
  readonly step: MacroStepNumber;
  readonly name: string;
}

/** The answer to an event a closed payment receives, by its state; PAYMENT_STATE_INVALID otherwise. */
const refusalByState: Readonly<Partial<Record<MacroState, ErrorCode>>> = {
  expired: 'PAYMENT_EXPIRED',
  tries_exhausted: 'MACRO_CHALLENGE_DELETED',
};

function mismatch(holds: boolean, field: string): void {
  if (!holds) throw new MpayError('PAYMENT_MESSAGE_MISMATCH', field);
}

/** A message is accepted only by the party the paper sends it to (PApp_Resp at the CB, never at the MPASP). */
function checkRecipient(kind: keyof typeof macroMessageRoutes, receivedBy: MacroParty): void {
  if (receivedBy !== macroMessageRoutes[kind].to) throw new MpayError('MACRO_RECIPIENT_INVALID', kind);
}

function sameAmount(amount: MacroAmount, expected: Amount): boolean {
  return amountEquals(amountOfMacroAmount(amount), expected);
}

function assertDate(value: Date, name: string): number {
  assert(value instanceof Date && !Number.isNaN(value.getTime()), `${name} is a valid Date`);
  return value.getTime();
}

/**
 * Step 1 (C → MPASP: E_SP{ID_C, AmtInfo_c, h(TransactionData)}_{C-MPASP}):
 * the MPASP accepts the client's validated payment request and fixes T_EXP
 * = now + transactionLifetimeSeconds. Throws MACRO_RECIPIENT_INVALID if it
 * reached another party, MESSAGE_EXPIRED if its own expiry has passed.
 */
export function startMacro(
  event: PaymentRequestEvent,
  now: Date,
  limits: MacroLimits = defaultMacroLimits,
): MacroStepResult {
  const nowMs = assertDate(now, 'now');
  assert(event.kind === 'payment_request' && event.content.kind === 'macro_payment_request', 'step 1');
  checkRecipient('macro_payment_request', event.receivedBy);
  const { content } = event;
  if (Date.parse(parseInstant(content.expiresAt, 'expiresAt')) <= nowMs) {
    throw new MpayError('MESSAGE_EXPIRED', 'expiresAt');
  }
  const payment: MacroPayment = Object.freeze({
    state: 'requested',
    requestId: content.requestId,
    clientId: content.from,
    mpaspId: content.to,
    amount: amountOfMacroAmount(content.amount),
    transactionDataHash: content.transactionDataHash,
    expiresAt: new Date(nowMs + limits.transactionLifetimeSeconds * 1_000),
    transactionId: null,
    challengedAt: null,
    challengeOpenFailures: 0,
    sessionId: null,
    clientBankId: null,
    merchantId: null,
    merchantBankId: null,
    outcome: null,
  });
  return Object.freeze({
    from: null,
    payment,
    effects: Object.freeze([]),
    transition: 'payment_request',
    step: 1,
    name: 'C → MPASP: E_SP{ID_C, AmtInfo_c, h(TransactionData)}_{C-MPASP}',
  });
}

/**
 * The checks of a message event against the payment (recipient first, then
 * every field it names), and what the event establishes. Throws
 * MACRO_RECIPIENT_INVALID or PAYMENT_MESSAGE_MISMATCH (with the field)
 * without changing anything.
 */
function checkEvent(payment: MacroPayment, event: MacroEvent, nowMs: number): Partial<MacroPayment> {
  const expiresAt = payment.expiresAt.toISOString();
  switch (event.kind) {
    case 'challenge_created':
      parseTransactionId(event.transactionId, 'transactionId');
      return { transactionId: event.transactionId, challengedAt: new Date(nowMs) };
    case 'challenge_opened':
    case 'challenge_open_failed':
      mismatch(event.transactionId === payment.transactionId, 'transactionId');
      return {};
    case 'secret_answer': {
      checkRecipient('macro_secret_answer', event.receivedBy);
      const { content } = event;
      mismatch(content.kind === 'macro_secret_answer', 'kind');
      mismatch(content.from === payment.clientId, 'from');
      mismatch(content.to === payment.mpaspId, 'to');
      mismatch(content.transactionId === payment.transactionId, 'transactionId');
      mismatch(sameAmount(content.amount, payment.amount), 'amount');
      mismatch(content.expiresAt === expiresAt, 'expiresAt');
      return {};
    }
    case 'secret_checked':
      parseTransactionId(event.sessionId, 'sessionId');
      mismatch(event.sessionId !== payment.transactionId, 'sessionId');
      mismatch(event.clientBankId === bankOfParty(payment.clientId), 'clientBankId');
      return { sessionId: event.sessionId, clientBankId: event.clientBankId };
    case 'papp_resp': {
      checkRecipient('macro_papp_resp', event.receivedBy);
      const { content } = event;
      mismatch(content.kind === 'macro_papp_resp', 'kind');
      mismatch(content.from === payment.clientId, 'from');
      mismatch(content.to === payment.clientBankId, 'to');
      mismatch(content.sessionId === payment.sessionId, 'sessionId');
      mismatch(content.transactionId === payment.transactionId, 'transactionId');
      mismatch(sameAmount(content.amount, payment.amount), 'amount');
      mismatch(content.transactionDataHash === payment.transactionDataHash, 'transactionDataHash');
      mismatch(content.expiresAt === expiresAt, 'expiresAt');
      return content.decision === 'approve'
        ? { merchantId: content.merchantId, merchantBankId: content.merchantBankId }
        : {};
    }
    case 'ft_refused':
      assert(isErrorCode(event.code), 'ft_refused carries a catalogue code');
      return { outcome: event.code };
    case 'pay_ack': {
      checkRecipient('macro_pay_ack', event.receivedBy);
      const { content } = event;
      mismatch(content.kind === 'macro_pay_ack', 'kind');
      mismatch(content.from === payment.merchantBankId, 'from');
      mismatch(content.to === payment.clientBankId, 'to');
      mismatch(content.sessionId === payment.sessionId, 'sessionId');
      mismatch(content.clientId === payment.clientId, 'clientId');
      mismatch(content.merchantId === payment.merchantId, 'merchantId');
      mismatch(sameAmount(content.amount, payment.amount), 'amount');
      if (Date.parse(content.expiresAt) <= nowMs) throw new MpayError('MESSAGE_EXPIRED', 'expiresAt');
      return {};
    }
    default:
      return {};
  }
}

/** Which of the event's transitions applies, once the event is accepted and before T_EXP. */
function chooseTransition(
  payment: MacroPayment,
  event: MacroEvent,
  limits: MacroLimits,
): MacroTransitionName {
  switch (event.kind) {
    case 'challenge_open_failed':
      return payment.challengeOpenFailures + 1 >= limits.challengeOpenTriesMax
        ? 'challenge_tries_exhausted'
        : 'challenge_open_failed';
    case 'papp_resp':
      return event.content.decision === 'approve' ? 'papp_resp_approved' : 'papp_resp_declined';
    default:
      return transitionsOf[event.kind][0]!;
  }
}

/**
 * The macro payment's one step: given the payment, an event and the time,
 * the payment after it and the effects to persist with it. Pure: the
 * service persists `payment` and `effects` in one transaction and delivers
 * the effects from its outbox.
 *
 * In order:
 * 1. An event the state does not take is refused: PAYMENT_EXPIRED after
 *    T_EXP, MACRO_CHALLENGE_DELETED after the tries ran out (a 4th try),
 *    PAYMENT_STATE_INVALID otherwise (a replayed PApp_Resp, a PApp_Resp before
 *    the balance check, money before the approval).
 * 2. A message reached the party the paper sends it to, and names this
 *    payment: MACRO_RECIPIENT_INVALID, PAYMENT_MESSAGE_MISMATCH (another
 *    amount, session, client, transaction or expiry). Nothing changes.
 * 3. Before the client's approval (steps 1–7), an event at or after T_EXP
 *    expires the payment instead (a late SAns or PApp_Resp moves no money);
 *    `expiry_due` before T_EXP is PAYMENT_STATE_INVALID.
 * 4. The transition of the table, with the paper's step number and words.
 */
export function stepMacro(
  payment: MacroPayment,
  event: MacroEvent,
  now: Date,
  limits: MacroLimits = defaultMacroLimits,
): MacroStepResult {
  const nowMs = assertDate(now, 'now');
  const definition = macroStateMachine[payment.state];
  assert(definition !== undefined, 'payment.state is a macro state');
  const candidates = transitionsOf[event.kind];
  assert(candidates !== undefined, 'event.kind is a macro event');
  if (!candidates.some((name) => definition.on[name] !== undefined)) {
    throw new MpayError(
      refusalByState[payment.state] ?? 'PAYMENT_STATE_INVALID',
      `${event.kind} is not allowed in ${payment.state}`,
    );
  }
  const established = checkEvent(payment, event, nowMs);
  const late = definition.expires && nowMs >= assertDate(payment.expiresAt, 'expiresAt');
  if (event.kind === 'expiry_due' && !late) {
    throw new MpayError('PAYMENT_STATE_INVALID', `expiry_due before ${payment.expiresAt.toISOString()}`);
  }
  const name: MacroTransitionName = late ? 'expired' : chooseTransition(payment, event, limits);
  const transition: MacroTransition | undefined = definition.on[name];
  assert(transition !== undefined, `${payment.state} has a ${name} transition`);
  const next: MacroPayment = Object.freeze({
    ...payment,
    ...(late ? {} : established),
    ...(name === 'challenge_open_failed' || name === 'challenge_tries_exhausted'
      ? { challengeOpenFailures: payment.challengeOpenFailures + 1 }
      : {}),
    state: transition.to,
    outcome: late ? 'PAYMENT_EXPIRED' : outcomeOf(transition.to, established.outcome ?? null),
  });
  return Object.freeze({
    from: payment.state,
    payment: next,
    effects: transition.effects,
    transition: name,
    step: transition.step,
    name: transition.name,
  });
}

/** The code a failure state's parties are told: the MB's own for its refusal, the table's otherwise. */
function outcomeOf(state: MacroState, given: ErrorCode | null): ErrorCode | null {
  return given ?? macroStateMachine[state].outcome;
}
