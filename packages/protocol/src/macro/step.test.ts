import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ErrorCode, isMpayError } from '../errors/index.ts';
import { createAmount } from '../money/index.ts';
import { createMacroLimits, defaultMacroLimits } from './limits.ts';
import { type MacroMessageKind, type MacroParty, macroAmountOf } from './messages.ts';
import {
  pAppResp,
  parties,
  payAck,
  paymentRequest,
  seconds,
  secretAnswer,
  sessionId,
  transactionId,
} from './scenario.test-helper.ts';
import {
  isMoneyMovingEffect,
  type MacroEffect,
  type MacroState,
  macroFailurePaths,
  macroPublicStatusOf,
  macroStateMachine,
  macroStates,
  macroSteps,
} from './state-machine.ts';
import {
  type MacroEvent,
  type MacroEventKind,
  type MacroPayment,
  type MacroStepResult,
  macroEventKinds,
  startMacro,
  stepMacro,
} from './step.ts';

function refusal(run: () => unknown): ErrorCode | 'none' {
  try {
    run();
    return 'none';
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
}

function failure(run: () => unknown): [ErrorCode | 'none', string | undefined] {
  try {
    run();
    return ['none', undefined];
  } catch (error) {
    if (isMpayError(error)) return [error.code, error.detail];
    throw error;
  }
}

/** T_EXP of every payment started at seconds(0) with the default limits. */
const expiry = seconds(defaultMacroLimits.transactionLifetimeSeconds);

function started(): MacroPayment {
  return startMacro({ kind: 'payment_request', receivedBy: 'MPASP', content: paymentRequest() }, seconds(0))
    .payment;
}

/** A valid event of `kind` for `payment` (what a correct party sends or reports next). */
function validEvent(kind: MacroEventKind, payment: MacroPayment, now: Date): MacroEvent {
  switch (kind) {
    case 'challenge_created':
      return { kind, transactionId };
    case 'challenge_opened':
    case 'challenge_open_failed':
      return { kind, transactionId: payment.transactionId ?? transactionId };
    case 'secret_answer':
      return { kind, receivedBy: 'MPASP', content: secretAnswer(payment) };
    case 'secret_checked':
      return { kind, sessionId, clientBankId: parties.clientBank };
    case 'papp_resp':
      return { kind, receivedBy: 'CB', content: pAppResp(payment) };
    case 'ft_refused':
      return { kind, code: 'PAYEE_UNKNOWN' };
    case 'pay_ack':
      return { kind, receivedBy: 'CB', content: payAck(payment, now) };
    default:
      return { kind } as MacroEvent;
  }
}

/** The event that takes each state of a successful payment one step further. */
const happyNext: Partial<Record<MacroState, MacroEventKind>> = {
  requested: 'challenge_created',
  challenged: 'challenge_opened',
  challenge_opened: 'secret_answer',
  answered: 'secret_checked',
  session_created: 'balance_checked',
  approval_requested: 'papp_resp',
  approved: 'funds_held',
  funds_transfer_sent: 'ft_credited',
  merchant_confirmed: 'pay_ack',
  acknowledged: 'funds_posted',
};

interface TraceLine {
  readonly step: number;
  readonly from: MacroParty;
  readonly to: MacroParty;
  readonly message: MacroMessageKind;
}

/** The client's own messages: they drive the machine as events; the services' messages are its effects. */
const clientMessages: Partial<Record<MacroEventKind, TraceLine>> = {
  secret_answer: { step: 4, from: 'C', to: 'MPASP', message: 'macro_secret_answer' },
  papp_resp: { step: 7, from: 'C', to: 'CB', message: 'macro_papp_resp' },
};

function sends(effects: readonly MacroEffect[]): TraceLine[] {
  return effects.flatMap((effect) =>
    effect.kind === 'send'
      ? [{ step: effect.step, from: effect.from, to: effect.to, message: effect.message }]
      : [],
  );
}

/** Runs the successful payment from step 1, one event a second; the results and the message trace. */
function runToEnd(until?: MacroState): { results: MacroStepResult[]; trace: TraceLine[] } {
  const first = startMacro(
    { kind: 'payment_request', receivedBy: 'MPASP', content: paymentRequest() },
    seconds(0),
  );
  const results = [first];
  const trace: TraceLine[] = [{ step: 1, from: 'C', to: 'MPASP', message: 'macro_payment_request' }];
  let payment = first.payment;
  for (let second = 1; happyNext[payment.state] !== undefined && payment.state !== until; second++) {
    const kind = happyNext[payment.state]!;
    const result = stepMacro(payment, validEvent(kind, payment, seconds(second)), seconds(second));
    const own = clientMessages[kind];
    if (own !== undefined) trace.push(own);
    trace.push(...sends(result.effects));
    results.push(result);
    payment = result.payment;
  }
  return { results, trace };
}

function reach(state: MacroState): MacroPayment {
  const { results } = runToEnd(state);
  const payment = results.at(-1)!.payment;
  expect(payment.state).toBe(state);
  return payment;
}

describe('a successful macro payment, step by step', () => {
  it('sends the messages of §4.2 in the order of the table, each from and to the parties the paper names', () => {
    const { trace } = runToEnd();
    const table = macroSteps.flatMap((step) =>
      step.messages.map((message) => ({
        step: step.number,
        from: message.from,
        to: message.to,
        message: message.message,
      })),
    );
    expect(trace).toEqual(table);
  });

  it('passes every step of the paper in order, local steps 3 and 5 included, and ends completed', () => {
    const { results } = runToEnd();
    expect(results.map((result) => result.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(results.map((result) => result.transition)).toEqual([
      'payment_request',
      'challenge_created',
      'challenge_opened',
      'secret_answer',
      'secret_checked',
      'balance_checked',
      'papp_resp_approved',
      'funds_held',
      'ft_credited',
      'pay_ack',
      'funds_posted',
    ]);
    expect(results.map((result) => macroPublicStatusOf(result.payment.state))).toEqual([
      'requested',
      'awaiting_customer',
      'awaiting_customer',
      'requested',
      'requested',
      'awaiting_customer',
      'authorised',
      'authorised',
      'authorised',
      'authorised',
      'completed',
    ]);
    for (const result of results) expect(result.name).toMatch(/\S/);
  });

  it('records what each step establishes, with the paper names, and nothing secret', () => {
    const { results } = runToEnd();
    const payment = results.at(-1)!.payment;
    expect(payment).toEqual({
      state: 'completed',
      requestId: paymentRequest().requestId,
      clientId: parties.client,
      mpaspId: parties.mpasp,
      amount: createAmount('EUR', 1_250_00n),
      transactionDataHash: paymentRequest().transactionDataHash,
      expiresAt: expiry,
      transactionId,
      challengedAt: seconds(1),
      challengeOpenFailures: 0,
      sessionId,
      clientBankId: parties.clientBank,
      merchantId: parties.merchant,
      merchantBankId: parties.merchantBank,
      outcome: null,
    });
    const text = JSON.stringify(results, (_key, value) => (typeof value === 'bigint' ? `${value}` : value));
    expect(text).toContain(sessionId);
    expect(text).not.toContain('Ohrid');
    for (const result of results) {
      expect(Object.isFrozen(result)).toBe(true);
      expect(Object.isFrozen(result.payment)).toBe(true);
    }
  });

  it('moves money only from `approved` on: the FT, then the hold posted after Pay_Ack', () => {
    const { results } = runToEnd();
    const moving = results.flatMap((result) =>
      result.effects.filter(isMoneyMovingEffect).map((effect) => [result.from, effect.kind]),
    );
    expect(moving).toEqual([
      ['approved', 'send'],
      ['merchant_confirmed', 'post_hold'],
    ]);
  });
});

describe('the failure paths of the paper', () => {
  function runFailure(name: (typeof macroFailurePaths)[number]['name']): MacroStepResult[] {
    switch (name) {
      case 'failure_msg1': {
        const payment = reach('answered');
        return [stepMacro(payment, { kind: 'failure_msg1' }, seconds(30))];
      }
      case 'failure_msg2': {
        const payment = reach('session_created');
        return [stepMacro(payment, { kind: 'failure_msg2' }, seconds(30))];
      }
      case 'expiry': {
        const payment = reach('challenge_opened');
        return [stepMacro(payment, validEvent('secret_answer', payment, expiry), expiry)];
      }
      case 'tries': {
        let payment = reach('challenged');
        const results: MacroStepResult[] = [];
        for (let attempt = 0; attempt < 3; attempt++) {
          const result = stepMacro(
            payment,
            validEvent('challenge_open_failed', payment, seconds(5)),
            seconds(5),
          );
          results.push(result);
          payment = result.payment;
        }
        return results;
      }
    }
  }

  it.each(macroFailurePaths.map((path) => [path.name, path] as const))(
    '%s ends where the table says, sends what the table says, and moves no money',
    (name, path) => {
      const results = runFailure(name);
      const last = results.at(-1)!;
      expect(last.payment.state).toBe(path.state);
      expect(last.step).toBe(path.step);
      expect(sends(last.effects).map(({ from, to, message }) => ({ from, to, message }))).toEqual(
        path.messages,
      );
      expect(last.payment.outcome).toBe(macroStateMachine[path.state].outcome);
      expect(results.flatMap((result) => result.effects).filter(isMoneyMovingEffect)).toEqual([]);
    },
  );

  it('asks no approval before the balance check: failure_msg2 comes from the session, PApp_Req only after', () => {
    const session = reach('session_created');
    expect(
      refusal(() => stepMacro(session, validEvent('papp_resp', session, seconds(30)), seconds(30))),
    ).toBe('PAYMENT_STATE_INVALID');
    const asked = stepMacro(
      reach('answered'),
      validEvent('secret_checked', session, seconds(30)),
      seconds(30),
    );
    expect(sends(asked.effects).map((line) => line.message)).toEqual(['macro_client_bank_request']);
    const approval = reach('approval_requested');
    expect(refusal(() => stepMacro(approval, { kind: 'failure_msg2' }, seconds(30)))).toBe(
      'PAYMENT_STATE_INVALID',
    );
  });

  it('sends failure_msg2 again when the hold is refused after the approval (step 8), moving no money', () => {
    const result = stepMacro(reach('approved'), { kind: 'failure_msg2' }, seconds(30));
    expect(result.payment.state).toBe('failed_balance');
    expect(sends(result.effects).map((line) => [line.step, line.from, line.to, line.message])).toEqual([
      [8, 'CB', 'MPASP', 'macro_failure_msg2'],
      [8, 'MPASP', 'C', 'macro_failure_msg2'],
    ]);
    expect(result.effects.filter(isMoneyMovingEffect)).toEqual([]);
  });

  it('releases the hold when the merchant bank refuses the FT, keeping its code', () => {
    const result = stepMacro(
      reach('funds_transfer_sent'),
      { kind: 'ft_refused', code: 'PAYEE_UNKNOWN' },
      seconds(30),
    );
    expect(result.payment.state).toBe('refused_by_mb');
    expect(result.payment.outcome).toBe('PAYEE_UNKNOWN');
    expect(result.effects.filter(isMoneyMovingEffect)).toEqual([{ kind: 'release_hold', step: 8 }]);
    const expired = stepMacro(
      reach('funds_transfer_sent'),
      { kind: 'ft_refused', code: 'FUNDS_TRANSFER_EXPIRED' },
      seconds(30),
    );
    expect(expired.payment.outcome).toBe('FUNDS_TRANSFER_EXPIRED');
  });

  it('closes a declined approval without money', () => {
    const approval = reach('approval_requested');
    const result = stepMacro(
      approval,
      { kind: 'papp_resp', receivedBy: 'CB', content: pAppResp(approval, { decision: 'decline' }) },
      seconds(30),
    );
    expect(result.payment.state).toBe('declined_by_client');
    expect(result.payment.outcome).toBe('PAYMENT_DECLINED');
    expect(result.payment.merchantId).toBeNull();
    expect(result.effects.filter(isMoneyMovingEffect)).toEqual([]);
  });
});

describe('T_EXP', () => {
  it('fixes T_EXP at step 1 from the limit, and names it in the challenge step (T_EXP > T_iS)', () => {
    const limits = createMacroLimits({ transactionLifetimeSeconds: 60 });
    const first = startMacro(
      { kind: 'payment_request', receivedBy: 'MPASP', content: paymentRequest() },
      seconds(0),
      limits,
    );
    expect(first.payment.expiresAt).toEqual(seconds(60));
    const late = stepMacro(
      first.payment,
      validEvent('challenge_created', first.payment, seconds(60)),
      seconds(60),
    );
    expect(late.payment.state).toBe('expired');
    expect(late.payment.transactionId).toBeNull();
  });

  it('expires every state before the approval for any event at or after T_EXP, and takes it a millisecond before', () => {
    const justBefore = new Date(expiry.getTime() - 1);
    for (const [state, kind] of Object.entries(happyNext) as [MacroState, MacroEventKind][]) {
      const payment = reach(state);
      const expiring = macroStateMachine[state].expires;
      const atExpiry = stepMacro(payment, validEvent(kind, payment, expiry), expiry);
      expect(atExpiry.payment.state, state).toBe(expiring ? 'expired' : macroStateMachine[state].next[0]);
      if (expiring) {
        expect(atExpiry.transition).toBe('expired');
        expect(atExpiry.payment.outcome).toBe('PAYMENT_EXPIRED');
        expect(atExpiry.effects.filter(isMoneyMovingEffect)).toEqual([]);
        expect(stepMacro(payment, validEvent(kind, payment, justBefore), justBefore).payment.state).not.toBe(
          'expired',
        );
        expect(stepMacro(payment, { kind: 'expiry_due' }, expiry).payment.state).toBe('expired');
        expect(refusal(() => stepMacro(payment, { kind: 'expiry_due' }, justBefore))).toBe(
          'PAYMENT_STATE_INVALID',
        );
      } else {
        expect(refusal(() => stepMacro(payment, { kind: 'expiry_due' }, expiry))).toBe(
          'PAYMENT_STATE_INVALID',
        );
      }
    }
  });

  it('refuses anything after expiry with PAYMENT_EXPIRED, and a PApp_Resp after T_EXP moves no money', () => {
    const approval = reach('approval_requested');
    const late = stepMacro(approval, validEvent('papp_resp', approval, seconds(301)), seconds(301));
    expect(late.payment.state).toBe('expired');
    expect(late.payment.merchantId).toBeNull();
    for (const kind of macroEventKinds)
      expect(
        refusal(() => stepMacro(late.payment, validEvent(kind, late.payment, seconds(302)), seconds(302))),
        kind,
      ).toBe('PAYMENT_EXPIRED');
  });
});

describe('the three tries of step 3', () => {
  it('deletes the challenge on the third failed try, refuses a fourth, and lets two failures be followed by success', () => {
    let payment = reach('challenged');
    const results: MacroStepResult[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const result = stepMacro(payment, validEvent('challenge_open_failed', payment, seconds(5)), seconds(5));
      results.push(result);
      payment = result.payment;
    }
    expect(results.map((result) => [result.payment.state, result.payment.challengeOpenFailures])).toEqual([
      ['challenged', 1],
      ['challenged', 2],
      ['tries_exhausted', 3],
    ]);
    expect(results.map((result) => result.effects)).toEqual([
      [],
      [],
      [{ kind: 'delete_challenge', step: 3 }],
    ]);
    for (const kind of ['challenge_open_failed', 'challenge_opened', 'secret_answer'] as const)
      expect(
        refusal(() => stepMacro(payment, validEvent(kind, payment, seconds(6)), seconds(6))),
        kind,
      ).toBe('MACRO_CHALLENGE_DELETED');
    const second = results[1]!.payment;
    expect(
      stepMacro(second, validEvent('challenge_opened', second, seconds(6)), seconds(6)).payment.state,
    ).toBe('challenge_opened');
  });

  it('counts against a lower limit when configured, and refuses limits outside their range', () => {
    const payment = reach('challenged');
    const once = stepMacro(
      payment,
      validEvent('challenge_open_failed', payment, seconds(5)),
      seconds(5),
      createMacroLimits({ challengeOpenTriesMax: 1 }),
    );
    expect(once.payment.state).toBe('tries_exhausted');
    expect(() => createMacroLimits({ challengeOpenTriesMax: 4 })).toThrow(/challengeOpenTriesMax/);
    expect(() => createMacroLimits({ challengeOpenTriesMax: 0 })).toThrow(/challengeOpenTriesMax/);
    expect(() => createMacroLimits({ transactionLifetimeSeconds: 1.5 })).toThrow(
      /transactionLifetimeSeconds/,
    );
    expect(() => createMacroLimits({ transactionLifetimeSeconds: 3_600 })).toThrow(
      /transactionLifetimeSeconds/,
    );
    expect(Object.isFrozen(createMacroLimits())).toBe(true);
  });

  it('refuses a try for another transaction without counting it', () => {
    const payment = reach('challenged');
    expect(
      failure(() =>
        stepMacro(payment, { kind: 'challenge_open_failed', transactionId: sessionId }, seconds(5)),
      ),
    ).toEqual(['PAYMENT_MESSAGE_MISMATCH', 'transactionId']);
  });
});

describe('what bad input gets', () => {
  it('refuses a PApp_Resp for another amount, session, client, transaction, TransactionData or expiry', () => {
    const approval = reach('approval_requested');
    const cases: [Parameters<typeof pAppResp>[1], string][] = [
      [{ amount: macroAmountOf(createAmount('EUR', 1_250_01n)) }, 'amount'],
      [{ amount: macroAmountOf(createAmount('USD', 1_250_00n)) }, 'amount'],
      [{ sessionId: transactionId }, 'sessionId'],
      [{ from: 'C000000000077.xbank' }, 'from'],
      [{ transactionId: sessionId }, 'transactionId'],
      [{ transactionDataHash: 'f'.repeat(64) }, 'transactionDataHash'],
      [{ expiresAt: seconds(299).toISOString() }, 'expiresAt'],
      [{ to: 'ybank' }, 'to'],
    ];
    for (const [change, field] of cases) {
      const event: MacroEvent = { kind: 'papp_resp', receivedBy: 'CB', content: pAppResp(approval, change) };
      expect(
        failure(() => stepMacro(approval, event, seconds(30))),
        field,
      ).toEqual(['PAYMENT_MESSAGE_MISMATCH', field]);
      // A mismatched message changes nothing, even after T_EXP.
      expect(failure(() => stepMacro(approval, event, seconds(400)))[0]).toBe('PAYMENT_MESSAGE_MISMATCH');
    }
  });

  it('refuses a PApp_Resp sent to the MPASP instead of the CB, and a replayed one', () => {
    const approval = reach('approval_requested');
    const content = pAppResp(approval);
    for (const receivedBy of ['MPASP', 'MB', 'M', 'C'] as const)
      expect(
        failure(() => stepMacro(approval, { kind: 'papp_resp', receivedBy, content }, seconds(30))),
      ).toEqual(['MACRO_RECIPIENT_INVALID', 'macro_papp_resp']);
    const approved = stepMacro(
      approval,
      { kind: 'papp_resp', receivedBy: 'CB', content },
      seconds(30),
    ).payment;
    for (const payment of [approved, reach('completed')])
      expect(
        refusal(() => stepMacro(payment, { kind: 'papp_resp', receivedBy: 'CB', content }, seconds(31))),
        payment.state,
      ).toBe('PAYMENT_STATE_INVALID');
  });

  it('refuses a secret answer for another transaction, client or amount, or sent to the CB', () => {
    const opened = reach('challenge_opened');
    const cases: [Parameters<typeof secretAnswer>[1], string][] = [
      [{ transactionId: sessionId }, 'transactionId'],
      [{ from: 'C000000000077.xbank' }, 'from'],
      [{ to: 'fsp.other' }, 'to'],
      [{ amount: macroAmountOf(createAmount('EUR', 1n)) }, 'amount'],
      [{ expiresAt: seconds(600).toISOString() }, 'expiresAt'],
    ];
    for (const [change, field] of cases)
      expect(
        failure(() =>
          stepMacro(
            opened,
            { kind: 'secret_answer', receivedBy: 'MPASP', content: secretAnswer(opened, change) },
            seconds(20),
          ),
        ),
      ).toEqual(['PAYMENT_MESSAGE_MISMATCH', field]);
    expect(
      refusal(() =>
        stepMacro(
          opened,
          { kind: 'secret_answer', receivedBy: 'CB', content: secretAnswer(opened) },
          seconds(20),
        ),
      ),
    ).toBe('MACRO_RECIPIENT_INVALID');
  });

  it('refuses GetClientInfo naming another bank than the client’s, and a session id equal to ID_T', () => {
    const answered = reach('answered');
    expect(
      failure(() =>
        stepMacro(answered, { kind: 'secret_checked', sessionId, clientBankId: 'ybank' }, seconds(21)),
      ),
    ).toEqual(['PAYMENT_MESSAGE_MISMATCH', 'clientBankId']);
    expect(
      failure(() =>
        stepMacro(
          answered,
          { kind: 'secret_checked', sessionId: transactionId, clientBankId: 'xbank' },
          seconds(21),
        ),
      ),
    ).toEqual(['PAYMENT_MESSAGE_MISMATCH', 'sessionId']);
  });

  it('refuses a Pay_Ack with another amount, session, client, merchant or bank, a stale one, or one to the MPASP', () => {
    const confirmed = reach('merchant_confirmed');
    const cases: [Parameters<typeof payAck>[2], string][] = [
      [{ amount: macroAmountOf(createAmount('EUR', 1_249_99n)) }, 'amount'],
      [{ sessionId: transactionId }, 'sessionId'],
      [{ clientId: 'C000000000077.xbank' }, 'clientId'],
      [{ merchantId: 'other.shop@merchant.ybank' }, 'merchantId'],
      [{ from: 'zbank' }, 'from'],
      [{ to: 'zbank' }, 'to'],
    ];
    for (const [change, field] of cases)
      expect(
        failure(() =>
          stepMacro(
            confirmed,
            { kind: 'pay_ack', receivedBy: 'CB', content: payAck(confirmed, seconds(40), change) },
            seconds(40),
          ),
        ),
      ).toEqual(['PAYMENT_MESSAGE_MISMATCH', field]);
    const stale = payAck(confirmed, seconds(40), { expiresAt: seconds(40).toISOString() });
    expect(
      refusal(() => stepMacro(confirmed, { kind: 'pay_ack', receivedBy: 'CB', content: stale }, seconds(40))),
    ).toBe('MESSAGE_EXPIRED');
    const content = payAck(confirmed, seconds(40));
    expect(
      refusal(() => stepMacro(confirmed, { kind: 'pay_ack', receivedBy: 'MPASP', content }, seconds(40))),
    ).toBe('MACRO_RECIPIENT_INVALID');
    // The banks' steps are not bound by T_EXP: the client approved in time.
    const late = new Date(expiry.getTime() + 3_600_000);
    const acknowledged = stepMacro(
      confirmed,
      { kind: 'pay_ack', receivedBy: 'CB', content: payAck(confirmed, late) },
      late,
    );
    expect(acknowledged.payment.state).toBe('acknowledged');
  });

  it('refuses a payment request that reached another party than the MPASP, or arrives after its own expiry', () => {
    const content = paymentRequest();
    expect(
      refusal(() => startMacro({ kind: 'payment_request', receivedBy: 'CB', content }, seconds(0))),
    ).toBe('MACRO_RECIPIENT_INVALID');
    expect(
      refusal(() => startMacro({ kind: 'payment_request', receivedBy: 'MPASP', content }, seconds(60))),
    ).toBe('MESSAGE_EXPIRED');
  });

  it('takes every event only in the states of the table, and refuses it elsewhere with a stable code', () => {
    const payments = new Map<MacroState, MacroPayment>();
    for (const result of runToEnd().results) payments.set(result.payment.state, result.payment);
    const answered = payments.get('answered')!;
    payments.set('failed_secret', stepMacro(answered, { kind: 'failure_msg1' }, seconds(30)).payment);
    let allowed = 0;
    for (const [state, payment] of payments)
      for (const kind of macroEventKinds) {
        const now = kind === 'expiry_due' ? expiry : seconds(30);
        const takes = Object.keys(macroStateMachine[state].on).some(
          (name) =>
            name === kind || name.startsWith(`${kind}_`) || (kind === 'expiry_due' && name === 'expired'),
        );
        const code = refusal(() => stepMacro(payment, validEvent(kind, payment, now), now));
        if (takes) {
          expect(code, `${state} + ${kind}`).toBe('none');
          allowed += 1;
        } else expect(['PAYMENT_STATE_INVALID'], `${state} + ${kind}`).toContain(code);
      }
    expect(payments.size).toBe(12);
    expect(allowed).toBe(21);
    // Funds are held only in `approved`.
    for (const state of macroStates)
      if (state !== 'approved' && payments.has(state))
        expect(refusal(() => stepMacro(payments.get(state)!, { kind: 'funds_held' }, seconds(30)))).not.toBe(
          'none',
        );
  });
});

/** How a random event may be wrong. */
type Corruption = 'none' | 'amount' | 'session' | 'client' | 'recipient' | 'transaction' | 'hash' | 'decline';

function randomEvent(
  kind: MacroEventKind,
  payment: MacroPayment,
  now: Date,
  corruption: Corruption,
): MacroEvent {
  const event = validEvent(kind, payment, now);
  if (corruption === 'none') return event;
  const otherAmount = macroAmountOf(createAmount('EUR', 1n));
  switch (event.kind) {
    case 'challenge_opened':
    case 'challenge_open_failed':
      return { ...event, transactionId: sessionId };
    case 'secret_checked':
      return { ...event, clientBankId: 'ybank' };
    case 'secret_answer': {
      if (corruption === 'recipient') return { ...event, receivedBy: 'CB' };
      const change = { amount: { amount: otherAmount }, client: { from: 'C000000000077.xbank' } }[
        corruption as 'amount' | 'client'
      ] ?? { transactionId: sessionId };
      return { ...event, content: secretAnswer(payment, change) };
    }
    case 'papp_resp': {
      if (corruption === 'recipient') return { ...event, receivedBy: 'MPASP' };
      const change = {
        amount: { amount: otherAmount },
        session: { sessionId: transactionId },
        client: { from: 'C000000000077.xbank' },
        transaction: { transactionId: sessionId },
        hash: { transactionDataHash: 'e'.repeat(64) },
        decline: { decision: 'decline' as const },
      }[corruption as Exclude<Corruption, 'none' | 'recipient'>];
      return { ...event, content: pAppResp(payment, change) };
    }
    case 'pay_ack':
      if (corruption === 'recipient') return { ...event, receivedBy: 'MPASP' };
      return { ...event, content: payAck(payment, now, { amount: otherAmount }) };
    default:
      return event;
  }
}

/** A corruption that makes the event wrong (a decline is a valid answer; plain events have nothing to corrupt). */
function isWrong(kind: MacroEventKind, corruption: Corruption): boolean {
  const carriesData = [
    'challenge_opened',
    'challenge_open_failed',
    'secret_checked',
    'secret_answer',
    'papp_resp',
    'pay_ack',
  ].includes(kind);
  return carriesData && corruption !== 'none' && corruption !== 'decline';
}

describe('property: no money without a correct SAns, a passed balance check and a verified approval before T_EXP', () => {
  const step = fc.record({
    kind: fc.oneof(
      { weight: 4, arbitrary: fc.constant('next' as const) },
      { weight: 1, arbitrary: fc.constantFrom(...macroEventKinds) },
    ),
    delayMs: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 30_000 }) },
      { weight: 1, arbitrary: fc.integer({ min: 30_000, max: 200_000 }) },
    ),
    corruption: fc.oneof(
      { weight: 5, arbitrary: fc.constant<Corruption>('none') },
      {
        weight: 1,
        arbitrary: fc.constantFrom<Corruption>(
          'amount',
          'session',
          'client',
          'recipient',
          'transaction',
          'hash',
          'decline',
        ),
      },
    ),
  });

  it('holds for random event sequences (a wrong message never changes anything)', () => {
    let reachedMoney = 0;
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        let payment = started();
        let nowMs = seconds(0).getTime();
        const expiresAtMs = seconds(0).getTime() + defaultMacroLimits.transactionLifetimeSeconds * 1_000;
        // What the oracle itself saw accepted, in order; independent of the step function's names.
        let secretAnswerOk = false;
        let secretChecked = false;
        let balanceChecked = false;
        let approvedOk = false;
        for (const { kind: chosen, delayMs, corruption } of steps) {
          nowMs += delayMs;
          const now = new Date(nowMs);
          const kind = chosen === 'next' ? (happyNext[payment.state] ?? 'expiry_due') : chosen;
          const before = payment;
          let result: MacroStepResult;
          try {
            result = stepMacro(payment, randomEvent(kind, payment, now, corruption), now);
          } catch (error) {
            if (!isMpayError(error)) throw error;
            continue;
          }
          expect(isWrong(kind, corruption), `accepted a wrong ${kind} (${corruption})`).toBe(false);
          const inTime = nowMs < expiresAtMs;
          if (kind === 'secret_answer' && inTime) secretAnswerOk = true;
          if (kind === 'secret_checked' && secretAnswerOk && inTime) secretChecked = true;
          if (kind === 'balance_checked' && secretChecked && inTime) balanceChecked = true;
          if (kind === 'papp_resp' && corruption !== 'decline' && balanceChecked && inTime) approvedOk = true;
          payment = result.payment;
          const movesMoney =
            result.effects.some(isMoneyMovingEffect) ||
            ['approved', 'funds_transfer_sent', 'merchant_confirmed', 'acknowledged', 'completed'].includes(
              payment.state,
            );
          if (movesMoney) {
            reachedMoney += 1;
            expect(approvedOk, `money in ${payment.state} from ${before.state}`).toBe(true);
            expect(payment.merchantId).toBe(parties.merchant);
          }
          expect(payment.challengeOpenFailures).toBeLessThanOrEqual(defaultMacroLimits.challengeOpenTriesMax);
        }
      }),
      { numRuns: 500 },
    );
    // The property is only worth something if random runs do reach the money.
    expect(reachedMoney).toBeGreaterThan(50);
  });
});
