import { type ErrorCode, MpayError } from '../errors/index.ts';
import type { PublicStatus } from '../payment/index.ts';
import type { MacroMessageKind, MacroParty, MacroStepNumber } from './messages.ts';

/**
 * The macro payment of seed 002 ("An Architectural Design for Secure Mobile
 * Remote Macro-Payments", §4.2) as data: the paper's twelve steps transcribed
 * (`macroSteps`), its failure paths (`macroFailurePaths`), and one state per
 * step point with the transitions the paper allows (`macroStateMachine`).
 * `stepMacro` (step.ts) runs it.
 */

// ---------------------------------------------------------------------------
// §4.2 transcribed.

/** One message of §4.2: who sends it to whom, in the paper's notation, and what mpay sends for it. */
export interface MacroStepMessage {
  readonly from: MacroParty;
  readonly to: MacroParty;
  /** The paper's message, in its notation (E_SP{…}_{A-B}, FT[…]_{A-B}). */
  readonly paper: string;
  /** The content mpay sends for it (messages.ts). */
  readonly message: MacroMessageKind;
  /** The paper's condition for it ("If ABal_C is sufficient then"), when it has one. */
  readonly condition?: string;
}

/** One of the twelve steps of §4.2. */
export interface MacroStep {
  readonly number: MacroStepNumber;
  /** A short name for it (the trace prints it). */
  readonly name: string;
  /** The party that acts. */
  readonly sender: MacroParty;
  /** The party that receives its message; the sender itself for a local step (3 and 5). */
  readonly receiver: MacroParty;
  /** The paper's line, in its notation: the message, or the computation of a local step. */
  readonly paper: string;
  /** The paper's computations in this step (ID_T = create_TranId(ID_C), SID_T = CreateSession(ID_T)). */
  readonly computes: readonly string[];
  /** The messages of this step, in order (none for a local step; step 6 has two, step 12 two with the forward). */
  readonly messages: readonly MacroStepMessage[];
  /** How mpay protects this step's messages (the E_SP of the paper hardened: DESIGN.md). */
  readonly mpay: string;
}

const sealedToClient =
  'sealed (authenticated encryption) under the C–MPASP channel key derived at registration, opened only ' +
  "through the MPASP's try-counting OPAQUE login with the mPIN: never a key derived from the mPIN alone";
const sealedClientBank =
  "signed with the client's device key bound at the CB, sealed under the C–CB channel key";

/** The twelve steps of §4.2, as the paper writes them. */
export const macroSteps: readonly MacroStep[] = deepFreeze([
  {
    number: 1,
    name: 'payment request',
    sender: 'C',
    receiver: 'MPASP',
    paper: 'E_SP{ID_C, AmtInfo_c, h(TransactionData)}_{C-MPASP}',
    computes: [],
    messages: [
      {
        from: 'C',
        to: 'MPASP',
        paper: 'E_SP{ID_C, AmtInfo_c, h(TransactionData)}_{C-MPASP}',
        message: 'macro_payment_request',
      },
    ],
    mpay: sealedToClient,
  },
  {
    number: 2,
    name: 'secret question',
    sender: 'MPASP',
    receiver: 'C',
    paper: 'E_SP{ID_T, T_iS, SQn}_{C-MPASP}',
    computes: ['ID_T = create_TranId(ID_C)'],
    messages: [
      { from: 'MPASP', to: 'C', paper: 'E_SP{ID_T, T_iS, SQn}_{C-MPASP}', message: 'macro_challenge' },
    ],
    mpay: `${sealedToClient}; only the real MPASP can seal it (§5.1.1)`,
  },
  {
    number: 3,
    name: 'secret question opened',
    sender: 'C',
    receiver: 'C',
    paper: 'D_SP{ID_T, SQn}_{C-MPASP}',
    computes: ['T_EXP (T_EXP > T_iS)'],
    messages: [],
    mpay: 'the device unlocks the channel key through the MPASP, which counts the tries (3, then deleted) and refuses after T_EXP',
  },
  {
    number: 4,
    name: 'secret answer',
    sender: 'C',
    receiver: 'MPASP',
    paper: 'E_SP{ID_T, SAns}_{C-MPASP}',
    computes: [],
    messages: [
      { from: 'C', to: 'MPASP', paper: 'E_SP{ID_T, SAns}_{C-MPASP}', message: 'macro_secret_answer' },
    ],
    mpay: sealedToClient,
  },
  {
    number: 5,
    name: 'secret answer checked, session created',
    sender: 'MPASP',
    receiver: 'MPASP',
    paper: 'SAns = D_SP{E_SP{ID_T, SAns}_{C-MPASP}}_{C-MPASP}',
    computes: ['SID_T = CreateSession(ID_T)', 'SID_T = GetClientInfo(ID_C, ID_CB)'],
    messages: [],
    mpay: 'SAns checked against a slow salted verifier; the answer is never stored',
  },
  {
    number: 6,
    name: 'payment request to the client bank, approval request',
    sender: 'MPASP',
    receiver: 'CB',
    paper: 'E_SP{SID_T, ID_C, AmtInfo_c, h(TransactionData)}_{MPASP-CB}',
    computes: [],
    messages: [
      {
        from: 'MPASP',
        to: 'CB',
        paper: 'E_SP{SID_T, ID_C, AmtInfo_c, h(TransactionData)}_{MPASP-CB}',
        message: 'macro_client_bank_request',
      },
      {
        from: 'CB',
        to: 'C',
        paper: 'E_SP{SID_T, AmtInfo_c, PApp_Req}_{C-CB}',
        message: 'macro_papp_req',
        condition: 'If ABal_C is sufficient then',
      },
    ],
    mpay: 'MPASP → CB signed by the MPASP (JWS, audience the CB); PApp_Req signed by the CB and sealed to the client',
  },
  {
    number: 7,
    name: 'payment approval',
    sender: 'C',
    receiver: 'CB',
    paper: 'E_SP{SID_T, AmtInfo_c, PApp_Resp}_{C-CB}',
    computes: [],
    messages: [
      { from: 'C', to: 'CB', paper: 'E_SP{SID_T, AmtInfo_c, PApp_Resp}_{C-CB}', message: 'macro_papp_resp' },
    ],
    mpay: `${sealedClientBank}; verified at the CB before any money moves`,
  },
  {
    number: 8,
    name: 'funds transfer',
    sender: 'CB',
    receiver: 'MB',
    paper: 'FT[SID_T, ID_M, ID_CB, AmtInfo_c]_{CB-MB}',
    computes: [],
    messages: [
      {
        from: 'CB',
        to: 'MB',
        paper: 'FT[SID_T, ID_M, ID_CB, AmtInfo_c]_{CB-MB}',
        message: 'macro_funds_transfer',
      },
    ],
    mpay: "the CB's hold, then its signed interbank funds transfer naming ID_M (never an account)",
  },
  {
    number: 9,
    name: 'payment confirmation to the merchant',
    sender: 'MB',
    receiver: 'M',
    paper: 'E_SP{SID_T, Pay_Confirm, ID_C, AmtInfo_c}_{MB-M}',
    computes: [],
    messages: [
      {
        from: 'MB',
        to: 'M',
        paper: 'E_SP{SID_T, Pay_Confirm, ID_C, AmtInfo_c}_{MB-M}',
        message: 'macro_pay_confirm_to_merchant',
      },
    ],
    mpay: 'signed by the MB',
  },
  {
    number: 10,
    name: 'payment acknowledgement',
    sender: 'MB',
    receiver: 'CB',
    paper: '[SID_T, Pay_Ack, ID_C, ID_M, AmtInfo_c]_{CB-MB}',
    computes: [],
    messages: [
      {
        from: 'MB',
        to: 'CB',
        paper: '[SID_T, Pay_Ack, ID_C, ID_M, AmtInfo_c]_{CB-MB}',
        message: 'macro_pay_ack',
      },
    ],
    mpay: "the MB's signed answer to the funds transfer, binding SID_T, ID_C, ID_M and AmtInfo_c",
  },
  {
    number: 11,
    name: 'payment confirmation to the client',
    sender: 'CB',
    receiver: 'C',
    paper: 'E_SP{SID_T, Pay_Confirm, ID_M, AmtInfo_c}_{CB-C}',
    computes: [],
    messages: [
      {
        from: 'CB',
        to: 'C',
        paper: 'E_SP{SID_T, Pay_Confirm, ID_M, AmtInfo_c}_{CB-C}',
        message: 'macro_pay_confirm_to_client',
      },
    ],
    mpay: 'signed by the CB, sealed to the client',
  },
  {
    number: 12,
    name: 'payment confirmation to the MPASP',
    sender: 'CB',
    receiver: 'MPASP',
    paper: 'E_SP{SID_T, Pay_Confirm, ID_M, AmtInfo_c}_{MPASP-CB}',
    computes: [],
    messages: [
      {
        from: 'CB',
        to: 'MPASP',
        paper: 'E_SP{SID_T, Pay_Confirm, ID_M, AmtInfo_c}_{MPASP-CB}',
        message: 'macro_pay_confirm_to_mpasp',
      },
      {
        from: 'MPASP',
        to: 'C',
        paper: 'Pay_Confirm',
        message: 'macro_pay_confirm_to_mpasp',
        condition: '§3: "Finally, the MPASP server forwards the same message to the client"',
      },
    ],
    mpay: "signed by the CB; the MPASP forwards the CB's signed confirmation to the client, sealed",
  },
] satisfies MacroStep[]);

// ---------------------------------------------------------------------------
// The states.

/**
 * The states of a macro payment, one per step point of §4.2 (the step the
 * state stands after is `macroStateMachine[state].step`).
 */
export type MacroState =
  | 'requested' // 1: the MPASP opened E_SP{ID_C, AmtInfo_c, h(TransactionData)} and identified the client (MSISDN)
  | 'challenged' // 2: ID_T created, E_SP{ID_T, T_iS, SQn} sent to the client
  | 'challenge_opened' // 3: the client opened D_SP{ID_T, SQn} before T_EXP
  | 'answered' // 4: E_SP{ID_T, SAns} received before T_EXP
  | 'session_created' // 5: SAns valid, SID_T = CreateSession(ID_T), GetClientInfo; the PR to the CB queued (6)
  | 'approval_requested' // 6: ABal_C sufficient, PApp_Req sent to the client
  | 'approved' // 7: PApp_Resp (approve) verified at the CB: the one state from which money may move
  | 'funds_transfer_sent' // 8: the CB held AmtInfo_c and sent FT[SID_T, ID_M, ID_CB, AmtInfo_c] to the MB
  | 'merchant_confirmed' // 9: the MB credited the merchant and sent Pay_Confirm to M (and Pay_Ack to the CB)
  | 'acknowledged' // 10: Pay_Ack verified at the CB; the hold is being posted
  | 'completed' // 11–12: Pay_Confirm sent to the client and to the MPASP, which forwards it
  | 'failed_secret' // 5: SAns not valid, send_failure_msg1
  | 'failed_balance' // 6 (or 8): ABal_C insufficient, send_failure_msg2
  | 'tries_exhausted' // 3: more than the allowed decryption tries, the message deleted at the device
  | 'expired' // 3: T_EXP passed before the client's approval
  | 'declined_by_client' // 7: PApp_Resp says decline
  | 'refused_by_mb'; // 8: the MB refused the FT (merchant unknown there, deadline passed); the hold released

/** What a user is told (the design's public statuses that a macro payment can have). */
export type MacroPublicStatus = Extract<
  PublicStatus,
  'requested' | 'awaiting_customer' | 'authorised' | 'completed' | 'declined' | 'expired' | 'failed'
>;

/**
 * What happens to a macro payment, by name: the events of step.ts, with
 * `papp_resp` split by its decision, a failed decryption split by whether it
 * was the last allowed, and every event after T_EXP (before the approval)
 * becoming `expired`.
 */
export type MacroTransitionName =
  | 'challenge_created'
  | 'challenge_opened'
  | 'challenge_open_failed'
  | 'challenge_tries_exhausted'
  | 'secret_answer'
  | 'secret_checked'
  | 'failure_msg1'
  | 'balance_checked'
  | 'failure_msg2'
  | 'papp_resp_approved'
  | 'papp_resp_declined'
  | 'funds_held'
  | 'ft_credited'
  | 'ft_refused'
  | 'pay_ack'
  | 'funds_posted'
  | 'expired';

/**
 * What a transition asks the services to do, persisted with the new state in
 * one transaction and delivered from an outbox:
 *   send              the paper's message of step `step` from `from` to `to` (content kind `message`)
 *   delete_challenge  the device deletes the challenge; the MPASP forgets its channel key for ID_T (step 3)
 *   release_hold      the CB voids its hold on the client's account (the MB refused the FT)
 *   post_hold         the CB posts its hold: the client's money leaves for good (after Pay_Ack)
 *   notify_outcome    mpay, beyond the paper: `from` tells `to` an outcome the paper sends no message for
 */
export type MacroEffect =
  | {
      readonly kind: 'send';
      readonly step: MacroStepNumber;
      readonly from: MacroParty;
      readonly to: MacroParty;
      readonly message: MacroMessageKind;
    }
  | { readonly kind: 'delete_challenge'; readonly step: 3 }
  | { readonly kind: 'release_hold'; readonly step: 8 }
  | { readonly kind: 'post_hold'; readonly step: 10 }
  | {
      readonly kind: 'notify_outcome';
      readonly from: MacroParty;
      readonly to: MacroParty;
      readonly status: MacroPublicStatus;
    };

export interface MacroTransition {
  readonly to: MacroState;
  /** The paper's step number. */
  readonly step: MacroStepNumber;
  /** The paper's words for it (kept with the event in the payment's history). */
  readonly name: string;
  readonly effects: readonly MacroEffect[];
}

export interface MacroStateDefinition {
  /** The step of §4.2 the state stands after. */
  readonly step: MacroStepNumber;
  readonly publicStatus: MacroPublicStatus;
  /** T_EXP applies: the client has not approved yet, and every event at or after T_EXP expires it. */
  readonly expires: boolean;
  /** For a failure state: the stable code its parties are told. */
  readonly outcome: ErrorCode | null;
  readonly on: Readonly<Partial<Record<MacroTransitionName, MacroTransition>>>;
  /** The states `on` leads to (derived). */
  readonly next: readonly MacroState[];
  /** No transition leaves it (derived). */
  readonly final: boolean;
}

function send(
  step: MacroStepNumber,
  from: MacroParty,
  to: MacroParty,
  message: MacroMessageKind,
): MacroEffect {
  return { kind: 'send', step, from, to, message };
}

function notify(from: MacroParty, to: MacroParty, status: MacroPublicStatus): MacroEffect {
  return { kind: 'notify_outcome', from, to, status };
}

/** send_failure_msg2 to the MPASP, which tells the client (the paper stops at the MPASP). */
function failureMsg2(step: 6 | 8, name: string): MacroTransition {
  return {
    to: 'failed_balance',
    step,
    name,
    effects: [
      send(step, 'CB', 'MPASP', 'macro_failure_msg2'),
      send(step, 'MPASP', 'C', 'macro_failure_msg2'),
    ],
  };
}

const expiry: MacroTransition = {
  to: 'expired',
  step: 3,
  name: 'T_EXP passed: "it expires when the client tries more than the given timestamp value"',
  effects: [notify('MPASP', 'C', 'expired')],
};

interface StateOptions {
  readonly expires?: boolean;
  readonly outcome?: ErrorCode;
}

function state(
  step: MacroStepNumber,
  publicStatus: MacroPublicStatus,
  on: Partial<Record<MacroTransitionName, MacroTransition>> = {},
  options: StateOptions = {},
): MacroStateDefinition {
  const expires = options.expires === true;
  const all: Partial<Record<MacroTransitionName, MacroTransition>> = expires
    ? { ...on, expired: expiry }
    : on;
  const transitions = Object.freeze(
    Object.fromEntries(Object.entries(all).map(([name, transition]) => [name, deepFreeze(transition)])),
  );
  const next = Object.freeze([...new Set(Object.values(all).map((transition) => transition.to))]);
  return Object.freeze({
    step,
    publicStatus,
    expires,
    outcome: options.outcome ?? null,
    on: transitions,
    next,
    final: next.length === 0,
  });
}

const beforeApproval = { expires: true } as const;

/** The macro payment as data: state → transition → next state, step and effects, plus the public status. */
export const macroStateMachine: Readonly<Record<MacroState, MacroStateDefinition>> = Object.freeze({
  requested: state(
    1,
    'requested',
    {
      challenge_created: {
        to: 'challenged',
        step: 2,
        name: 'ID_T = create_TranId(ID_C); MPASP → C: E_SP{ID_T, T_iS, SQn}_{C-MPASP}',
        effects: [send(2, 'MPASP', 'C', 'macro_challenge')],
      },
    },
    beforeApproval,
  ),
  challenged: state(
    2,
    'awaiting_customer',
    {
      challenge_opened: {
        to: 'challenge_opened',
        step: 3,
        name: 'C: D_SP{ID_T, SQn}_{C-MPASP}',
        effects: [],
      },
      challenge_open_failed: {
        to: 'challenged',
        step: 3,
        name: 'C: D_SP{ID_T, SQn}_{C-MPASP} failed (a try counted by the MPASP)',
        effects: [],
      },
      challenge_tries_exhausted: {
        to: 'tries_exhausted',
        step: 3,
        name: '"If the client tries to decrypt the message more than 3 times, the message will be deleted at client device"',
        effects: [{ kind: 'delete_challenge', step: 3 }],
      },
    },
    beforeApproval,
  ),
  challenge_opened: state(
    3,
    'awaiting_customer',
    {
      secret_answer: { to: 'answered', step: 4, name: 'C → MPASP: E_SP{ID_T, SAns}_{C-MPASP}', effects: [] },
    },
    beforeApproval,
  ),
  answered: state(
    4,
    'requested',
    {
      secret_checked: {
        to: 'session_created',
        step: 5,
        name: 'SAns is valid: SID_T = CreateSession(ID_T); SID_T = GetClientInfo(ID_C, ID_CB)',
        effects: [send(6, 'MPASP', 'CB', 'macro_client_bank_request')],
      },
      failure_msg1: {
        to: 'failed_secret',
        step: 5,
        name: 'else MPASP → C: send_failure_msg1',
        effects: [send(5, 'MPASP', 'C', 'macro_failure_msg1')],
      },
    },
    beforeApproval,
  ),
  session_created: state(
    5,
    'requested',
    {
      balance_checked: {
        to: 'approval_requested',
        step: 6,
        name: 'If ABal_C is sufficient then CB → C: E_SP{SID_T, AmtInfo_c, PApp_Req}_{C-CB}',
        effects: [send(6, 'CB', 'C', 'macro_papp_req')],
      },
      failure_msg2: failureMsg2(6, 'else CB → MPASP: send_failure_msg2'),
    },
    beforeApproval,
  ),
  approval_requested: state(
    6,
    'awaiting_customer',
    {
      papp_resp_approved: {
        to: 'approved',
        step: 7,
        name: 'C → CB: E_SP{SID_T, AmtInfo_c, PApp_Resp}_{C-CB}',
        effects: [],
      },
      papp_resp_declined: {
        to: 'declined_by_client',
        step: 7,
        name: 'C → CB: PApp_Resp declines (mpay: the client may refuse)',
        effects: [notify('CB', 'MPASP', 'declined'), notify('MPASP', 'C', 'declined')],
      },
    },
    beforeApproval,
  ),
  approved: state(7, 'authorised', {
    funds_held: {
      to: 'funds_transfer_sent',
      step: 8,
      name: 'CB → MB: FT[SID_T, ID_M, ID_CB, AmtInfo_c]_{CB-MB}',
      effects: [send(8, 'CB', 'MB', 'macro_funds_transfer')],
    },
    failure_msg2: failureMsg2(
      8,
      'the hold is refused (ABal_C fell since step 6): CB → MPASP: send_failure_msg2',
    ),
  }),
  funds_transfer_sent: state(8, 'authorised', {
    ft_credited: {
      to: 'merchant_confirmed',
      step: 9,
      name: 'MB → M: E_SP{SID_T, Pay_Confirm, ID_C, AmtInfo_c}_{MB-M}; MB → CB: Pay_Ack',
      effects: [send(9, 'MB', 'M', 'macro_pay_confirm_to_merchant'), send(10, 'MB', 'CB', 'macro_pay_ack')],
    },
    ft_refused: {
      to: 'refused_by_mb',
      step: 8,
      name: 'the MB refuses FT (ID_M unknown at the MB, deadline passed): the CB releases its hold',
      effects: [
        { kind: 'release_hold', step: 8 },
        notify('CB', 'MPASP', 'declined'),
        notify('MPASP', 'C', 'declined'),
      ],
    },
  }),
  merchant_confirmed: state(9, 'authorised', {
    pay_ack: {
      to: 'acknowledged',
      step: 10,
      name: 'MB → CB: [SID_T, Pay_Ack, ID_C, ID_M, AmtInfo_c]_{CB-MB}',
      effects: [{ kind: 'post_hold', step: 10 }],
    },
  }),
  acknowledged: state(10, 'authorised', {
    funds_posted: {
      to: 'completed',
      step: 11,
      name: 'CB → C and CB → MPASP: E_SP{SID_T, Pay_Confirm, ID_M, AmtInfo_c}; the MPASP forwards it to the client',
      effects: [
        send(11, 'CB', 'C', 'macro_pay_confirm_to_client'),
        send(12, 'CB', 'MPASP', 'macro_pay_confirm_to_mpasp'),
        send(12, 'MPASP', 'C', 'macro_pay_confirm_to_mpasp'),
      ],
    },
  }),
  completed: state(12, 'completed'),
  failed_secret: state(5, 'declined', {}, { outcome: 'AUTHENTICATION_FAILED' }),
  failed_balance: state(6, 'declined', {}, { outcome: 'INSUFFICIENT_FUNDS' }),
  tries_exhausted: state(3, 'failed', {}, { outcome: 'MACRO_CHALLENGE_DELETED' }),
  expired: state(3, 'expired', {}, { outcome: 'PAYMENT_EXPIRED' }),
  declined_by_client: state(7, 'declined', {}, { outcome: 'PAYMENT_DECLINED' }),
  refused_by_mb: state(8, 'declined', {}, { outcome: 'PAYEE_UNKNOWN' }),
});

// ---------------------------------------------------------------------------
// The failure paths, with the paper's words for each.

export interface MacroFailurePath {
  readonly name: 'failure_msg1' | 'failure_msg2' | 'expiry' | 'tries';
  readonly step: MacroStepNumber;
  /** The paper's text for it, verbatim (§4.2, or §3 for the three tries). */
  readonly paper: string;
  readonly state: MacroState;
  /** The messages the path sends (the paper's first; mpay's forward to the client after it). */
  readonly messages: readonly Pick<MacroStepMessage, 'from' | 'to' | 'message'>[];
}

export const macroFailurePaths: readonly MacroFailurePath[] = deepFreeze([
  {
    name: 'failure_msg1',
    step: 5,
    paper: 'else MPASP → C: send_failure_msg1',
    state: 'failed_secret',
    messages: [{ from: 'MPASP', to: 'C', message: 'macro_failure_msg1' }],
  },
  {
    name: 'failure_msg2',
    step: 6,
    paper: 'else CB → MPASP: send_failure_msg2',
    state: 'failed_balance',
    messages: [
      { from: 'CB', to: 'MPASP', message: 'macro_failure_msg2' },
      { from: 'MPASP', to: 'C', message: 'macro_failure_msg2' },
    ],
  },
  {
    name: 'expiry',
    step: 3,
    paper:
      'T_EXP (T_EXP > T_iS) is the timestamp and it expires when the client tries more than the given timestamp value',
    state: 'expired',
    messages: [],
  },
  {
    name: 'tries',
    step: 3,
    paper:
      'If the client tries to decrypt the message more than 3 times, the message will be deleted at client device.',
    state: 'tries_exhausted',
    messages: [],
  },
] satisfies MacroFailurePath[]);

// ---------------------------------------------------------------------------
// Derived lists and guards.

export const macroStates: readonly MacroState[] = Object.freeze(
  Object.keys(macroStateMachine) as MacroState[],
);

export const initialMacroState: MacroState = 'requested';

export function isMacroState(value: unknown): value is MacroState {
  return typeof value === 'string' && Object.hasOwn(macroStateMachine, value);
}

export function macroPublicStatusOf(macroState: MacroState): MacroPublicStatus {
  return macroStateMachine[macroState].publicStatus;
}

export function isFinalMacroState(macroState: MacroState): boolean {
  return macroStateMachine[macroState].final;
}

/** The states T_EXP applies to (what the expiry sweep looks for): everything before the client's approval. */
export const expiringMacroStates: readonly MacroState[] = Object.freeze(
  macroStates.filter((candidate) => macroStateMachine[candidate].expires),
);

/**
 * The states in which the client bank may hold the client's money: only
 * `approved`, the state after PApp_Resp verified. Derived from the table (the
 * states with a `funds_held` transition), so that the bank asks the table and
 * not a list of its own.
 */
export const macroHoldStates: readonly MacroState[] = Object.freeze(
  macroStates.filter((candidate) => 'funds_held' in macroStateMachine[candidate].on),
);

/** Effects that move or release money: the FT of step 8, the hold posted or voided. */
export function isMoneyMovingEffect(effect: MacroEffect): boolean {
  return (
    effect.kind === 'post_hold' ||
    effect.kind === 'release_hold' ||
    (effect.kind === 'send' && effect.message === 'macro_funds_transfer')
  );
}

/** Guards a transition: throws PAYMENT_STATE_INVALID ("… → … is not allowed") if the table has no such step. */
export function assertMacroTransition(from: MacroState, to: MacroState): void {
  if (!macroStateMachine[from].next.includes(to)) {
    throw new MpayError('PAYMENT_STATE_INVALID', `macro ${from} → ${to} is not allowed`);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
