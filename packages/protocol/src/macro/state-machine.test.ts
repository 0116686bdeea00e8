import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ErrorCode, isMpayError } from '../errors/index.ts';
import { macroMessageRoutes } from './messages.ts';
import {
  assertMacroTransition,
  expiringMacroStates,
  initialMacroState,
  isFinalMacroState,
  isMacroState,
  isMoneyMovingEffect,
  type MacroState,
  macroFailurePaths,
  macroHoldStates,
  macroPublicStatusOf,
  macroStateMachine,
  macroStates,
  macroSteps,
} from './state-machine.ts';

/**
 * Seed 002 §4.2, copied from the seed file as it is (LaTeX notation, one step
 * per item); the text between steps 5 and 6 has its non-breaking spaces
 * written as spaces. The table in state-machine.ts is written in plain
 * notation; `plain` turns this into that notation, so that the table is
 * compared with the paper and not with itself.
 */
const section42 = String.raw`
- 1)  $C \rightarrow MPASP: E_{SP}\{ID_C, AmtInfo_c, h(TransactionData)\}_{C-MPASP}$
- 2)  $ID_T = create\_TranId(ID_C)$
 $MPASP \rightarrow C: E_{SP}\{ID_T, T_{iS}, SQn\}_{C-MPASP}$  [where  $T_{iS}$  is the timestamp at C for which the value is assigned by MPASP]
- 3)  $C: D_{SP}\{ID_T, SQn\}_{C-MPASP}$  [ $T_{EXP} (T_{EXP} > T_{iS})$  is the timestamp and it expires when the client tries more than the given timestamp value]
- 4)  $C \rightarrow MPASP: E_{SP}\{ID_T, SAns\}_{C-MPASP}$
- 5)  $MPASP: SAns = D_{SP}\{E_{SP}\{ID_T, SAns\}_{C-MPASP}\}_{C-MPASP}$
 If  $SAns$  is valid then
 {
         $SID_T = CreateSession(ID_T)$
         $SID_T = GetClientInfo(ID_C, ID_{CB})$
 }
 else
         $MPASP \rightarrow C: send\_failure\_msg1$
- 6)  $MPASP \rightarrow CB: E_{SP}\{SID_T, ID_C, AmtInfo_c, h(TransactionData)\}_{MPASP-CB}$
 If  $ABal_C$  is sufficient then
         $CB \rightarrow C: E_{SP}\{SID_T, AmtInfo_c, PApp_{Req}\}_{C-CB}$
 else
         $CB \rightarrow MPASP: send\_failure\_msg2$
- 7)  $C \rightarrow CB: E_{SP}\{SID_T, AmtInfo_c, PApp_{Resp}\}_{C-CB}$
- 8)  $CB \rightarrow MB: FT[SID_T, ID_M, ID_{CB}, AmtInfo_c]_{CB-MB}$
- 9)  $MB \rightarrow M: E_{SP}\{SID_T, Pay_{Confirm}, ID_C, AmtInfo_c\}_{MB-M}$
- 10)  $MB \rightarrow CB: [SID_T, Pay_{Ack}, ID_C, ID_M, AmtInfo_c]_{CB-MB}$
- 11)  $CB \rightarrow C: E_{SP}\{SID_T, Pay_{Confirm}, ID_M, AmtInfo_c\}_{CB-C}$
- 12)  $CB \rightarrow MPASP: E_{SP}\{SID_T, Pay_{Confirm}, ID_M, AmtInfo_c\}_{MPASP-CB}$
`;

/** Two sentences of seed 002 §3 that the protocol relies on. */
const section3 = [
  'If the client tries to decrypt the message more than 3 times, the message will be deleted at client device.',
  'Finally, the MPASP server forwards the same message to the client and the payment transaction is completed successfully.',
];

const seedFile = new URL('../../../../../shared/seeds/002_55f9708baed9c00b.txt', import.meta.url);

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The paper's LaTeX in plain notation: E_{SP}\{…\}_{C-MPASP} → E_SP{…}_{C-MPASP}, \rightarrow → →. */
function plain(latex: string): string {
  return collapse(
    latex
      .replace(/\\rightarrow/g, '→')
      .replace(/\\([{}_])/g, '$1')
      .replace(/_\{([A-Za-z]+)\}/g, '_$1')
      .replace(/\$/g, ''),
  );
}

/** The plain text of each step of §4.2, by number. */
const paperSteps: ReadonlyMap<number, string> = new Map(
  section42
    .split(/^- (?=\d+\))/m)
    .filter((item) => item.trim() !== '')
    .map((item) => {
      const match = /^(\d+)\)([\s\S]*)$/.exec(item);
      if (match === null) throw new Error(`not a step: ${item}`);
      return [Number(match[1]), plain(match[2]!)];
    }),
);

function refusal(run: () => unknown): ErrorCode | 'none' {
  try {
    run();
    return 'none';
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
}

describe('§4.2 transcribed (macroSteps)', () => {
  it.skipIf(!existsSync(seedFile))('quotes the seed verbatim (when the seed is at ../shared/seeds)', () => {
    const seed = collapse(readFileSync(seedFile, 'utf8'));
    for (const item of section42.split(/^- /m).filter((text) => text.trim() !== ''))
      expect(seed).toContain(collapse(`- ${item}`));
    for (const sentence of section3) expect(seed).toContain(sentence);
  });

  it('has the twelve steps, numbered 1 to 12, as the paper', () => {
    expect([...paperSteps.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(macroSteps.map((step) => step.number)).toEqual([...paperSteps.keys()]);
  });

  it.each(macroSteps.map((step) => [step.number, step] as const))(
    'step %i: sender, receiver and message as the paper writes them',
    (number, step) => {
      const paper = paperSteps.get(number)!;
      const arrow =
        step.sender === step.receiver ? `${step.sender}: ` : `${step.sender} → ${step.receiver}: `;
      expect(paper).toContain(`${arrow}${step.paper}`);
      for (const computation of step.computes) expect(paper).toContain(computation);
      expect(step.messages.length === 0).toBe(step.sender === step.receiver);
      for (const message of step.messages) {
        if (message.condition?.startsWith('§3') === true) {
          // The MPASP's forward to the client is §3's, not §4.2's: it forwards the CB's own content.
          expect(step.messages[0]!.message).toBe(message.message);
          expect(section3.some((sentence) => message.condition!.includes(sentence.slice(0, 60)))).toBe(true);
          expect(paper).toContain(message.paper);
          continue;
        }
        const route = macroMessageRoutes[message.message];
        expect([route.from, route.to], message.message).toEqual([message.from, message.to]);
        expect(paper).toContain(`${message.from} → ${message.to}: ${message.paper}`);
        if (message.condition !== undefined) expect(paper).toContain(message.condition);
      }
    },
  );

  it('lets no message stand in two steps: each content kind has one step, except the forward of step 12', () => {
    const kinds = macroSteps.flatMap((step) => step.messages.map((message) => message.message));
    expect(kinds.filter((kind, index) => kinds.indexOf(kind) !== index)).toEqual([
      'macro_pay_confirm_to_mpasp',
    ]);
  });

  it("quotes each failure path with the paper's words, at its step", () => {
    const all = [...paperSteps.values()].join(' ');
    for (const path of macroFailurePaths) {
      if (path.name === 'tries') expect(section3).toContain(path.paper);
      else expect(paperSteps.get(path.step)).toContain(path.paper);
      expect(macroStateMachine[path.state].step).toBe(path.step);
      expect(isFinalMacroState(path.state)).toBe(true);
      for (const message of path.messages.slice(0, 1))
        expect(all).toContain(
          `${message.from} → ${message.to}: send_${message.message.slice('macro_'.length)}`,
        );
    }
    expect(macroFailurePaths.map((path) => path.name)).toEqual([
      'failure_msg1',
      'failure_msg2',
      'expiry',
      'tries',
    ]);
  });
});

/** The table written out by hand: every allowed (state, transition) → next state. */
const expected: Record<string, MacroState> = {
  'requested challenge_created': 'challenged',
  'requested expired': 'expired',
  'challenged challenge_opened': 'challenge_opened',
  'challenged challenge_open_failed': 'challenged',
  'challenged challenge_tries_exhausted': 'tries_exhausted',
  'challenged expired': 'expired',
  'challenge_opened secret_answer': 'answered',
  'challenge_opened expired': 'expired',
  'answered secret_checked': 'session_created',
  'answered failure_msg1': 'failed_secret',
  'answered expired': 'expired',
  'session_created balance_checked': 'approval_requested',
  'session_created failure_msg2': 'failed_balance',
  'session_created expired': 'expired',
  'approval_requested papp_resp_approved': 'approved',
  'approval_requested papp_resp_declined': 'declined_by_client',
  'approval_requested expired': 'expired',
  'approved funds_held': 'funds_transfer_sent',
  'approved failure_msg2': 'failed_balance',
  'funds_transfer_sent ft_credited': 'merchant_confirmed',
  'funds_transfer_sent ft_refused': 'refused_by_mb',
  'merchant_confirmed pay_ack': 'acknowledged',
  'acknowledged funds_posted': 'completed',
};

describe('the macro state table', () => {
  it('holds exactly the transitions written out by hand', () => {
    const actual: Record<string, MacroState> = {};
    for (const state of macroStates)
      for (const [name, transition] of Object.entries(macroStateMachine[state].on))
        actual[`${state} ${name}`] = transition!.to;
    expect(actual).toEqual(expected);
  });

  it('has one state per step point of §4.2 on the way to completion, in order', () => {
    const path: MacroState[] = [
      'requested',
      'challenged',
      'challenge_opened',
      'answered',
      'session_created',
      'approval_requested',
      'approved',
      'funds_transfer_sent',
      'merchant_confirmed',
      'acknowledged',
      'completed',
    ];
    expect(path.map((state) => macroStateMachine[state].step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12]);
    for (let index = 1; index < path.length; index++) assertMacroTransition(path[index - 1]!, path[index]!);
    expect(initialMacroState).toBe('requested');
  });

  it('assertMacroTransition allows exactly the next states of the table', () => {
    for (const from of macroStates)
      for (const to of macroStates) {
        const allowed = Object.values(macroStateMachine[from].on).some((transition) => transition?.to === to);
        expect(refusal(() => assertMacroTransition(from, to)) === 'none', `${from} → ${to}`).toBe(allowed);
      }
  });

  it('final states have no way out, every state is reachable, and every failure state has its code', () => {
    const reached = new Set<MacroState>([initialMacroState]);
    const queue: MacroState[] = [initialMacroState];
    for (let state = queue.shift(); state !== undefined; state = queue.shift())
      for (const next of macroStateMachine[state].next) {
        if (!reached.has(next)) queue.push(next);
        reached.add(next);
      }
    expect([...reached].sort()).toEqual([...macroStates].sort());
    for (const state of macroStates) {
      const definition = macroStateMachine[state];
      expect(isFinalMacroState(state)).toBe(definition.next.length === 0);
      expect(definition.outcome !== null, state).toBe(definition.final && state !== 'completed');
    }
    expect(macroStateMachine.failed_secret.outcome).toBe('AUTHENTICATION_FAILED');
    expect(macroStateMachine.failed_balance.outcome).toBe('INSUFFICIENT_FUNDS');
    expect(macroStateMachine.tries_exhausted.outcome).toBe('MACRO_CHALLENGE_DELETED');
    expect(macroStateMachine.expired.outcome).toBe('PAYMENT_EXPIRED');
  });

  it('maps every state to a public status of the design', () => {
    expect(Object.fromEntries(macroStates.map((state) => [state, macroPublicStatusOf(state)]))).toEqual({
      requested: 'requested',
      challenged: 'awaiting_customer',
      challenge_opened: 'awaiting_customer',
      answered: 'requested',
      session_created: 'requested',
      approval_requested: 'awaiting_customer',
      approved: 'authorised',
      funds_transfer_sent: 'authorised',
      merchant_confirmed: 'authorised',
      acknowledged: 'authorised',
      completed: 'completed',
      failed_secret: 'declined',
      failed_balance: 'declined',
      tries_exhausted: 'failed',
      expired: 'expired',
      declined_by_client: 'declined',
      refused_by_mb: 'declined',
    });
    expect(isMacroState('approved')).toBe(true);
    expect(isMacroState('toString')).toBe(false);
  });

  it('expires exactly the states before the approval, and lets only `approved` hold money', () => {
    expect(expiringMacroStates).toEqual([
      'requested',
      'challenged',
      'challenge_opened',
      'answered',
      'session_created',
      'approval_requested',
    ]);
    expect(macroHoldStates).toEqual(['approved']);
  });

  it('asks for money to move only after `approved`: the FT from it, the hold posted or released later', () => {
    const afterApproval = new Set<MacroState>(['approved']);
    for (const state of ['approved', 'funds_transfer_sent', 'merchant_confirmed', 'acknowledged'] as const)
      for (const next of macroStateMachine[state].next) afterApproval.add(next);
    for (const state of macroStates)
      for (const transition of Object.values(macroStateMachine[state].on)) {
        const moving = transition!.effects.filter(isMoneyMovingEffect);
        if (moving.length > 0) expect(afterApproval.has(state), state).toBe(true);
        for (const effect of moving)
          if (effect.kind === 'send') expect(state, 'the FT leaves only from approved').toBe('approved');
      }
    // PApp_Req is sent only on the balance check, and failure_msg2 never follows an approval request.
    const pAppReq = macroStates.flatMap((state) =>
      Object.entries(macroStateMachine[state].on)
        .filter(([, transition]) =>
          transition!.effects.some((effect) => effect.kind === 'send' && effect.message === 'macro_papp_req'),
        )
        .map(([name]) => `${state} ${name}`),
    );
    expect(pAppReq).toEqual(['session_created balance_checked']);
    expect(macroStateMachine.approval_requested.on.failure_msg2).toBeUndefined();
  });

  it('is frozen all the way down', () => {
    expect(Object.isFrozen(macroStateMachine)).toBe(true);
    expect(Object.isFrozen(macroStateMachine.approved.on.funds_held)).toBe(true);
    expect(Object.isFrozen(macroStateMachine.approved.on.funds_held!.effects[0])).toBe(true);
    expect(Object.isFrozen(macroSteps[5]!.messages[1])).toBe(true);
    expect(Object.isFrozen(macroFailurePaths[1]!.messages)).toBe(true);
  });
});
