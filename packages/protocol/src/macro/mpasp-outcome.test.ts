import { describe, expect, it } from 'vitest';
import { type ErrorCode, isMpayError } from '../errors/index.ts';
import { createAmount } from '../money/index.ts';
import { macroAmountOf, type PayConfirmToMpaspContent } from './messages.ts';
import {
  clientBankSessionStates,
  isClientBankSessionState,
  learnClientBankOutcome,
} from './mpasp-outcome.ts';
import { parties, paymentRequest, seconds, sessionId, transactionId } from './scenario.test-helper.ts';
import { type MacroPayment, startMacro, stepMacro } from './step.ts';

function refusal(run: () => unknown): [ErrorCode | 'none', string | undefined] {
  try {
    run();
    return ['none', undefined];
  } catch (error) {
    if (isMpayError(error)) return [error.code, error.detail];
    throw error;
  }
}

/** The MPASP's copy after the client bank's answer to step 6: approval_requested. */
function awaitingApproval(): MacroPayment {
  let payment = startMacro(
    { kind: 'payment_request', receivedBy: 'MPASP', content: paymentRequest() },
    seconds(0),
  ).payment;
  payment = stepMacro(payment, { kind: 'challenge_created', transactionId }, seconds(1)).payment;
  payment = stepMacro(payment, { kind: 'challenge_opened', transactionId }, seconds(2)).payment;
  payment = stepMacro(
    payment,
    {
      kind: 'secret_answer',
      receivedBy: 'MPASP',
      content: {
        kind: 'macro_secret_answer',
        from: payment.clientId,
        to: payment.mpaspId,
        transactionId,
        amount: macroAmountOf(payment.amount),
        expiresAt: payment.expiresAt.toISOString(),
        secretAnswer: 'Ohrid',
      },
    },
    seconds(3),
  ).payment;
  payment = stepMacro(
    payment,
    { kind: 'secret_checked', sessionId, clientBankId: parties.clientBank },
    seconds(4),
  ).payment;
  payment = stepMacro(payment, { kind: 'balance_checked' }, seconds(5)).payment;
  expect(payment.state).toBe('approval_requested');
  return payment;
}

function payConfirm(
  payment: MacroPayment,
  overrides: Partial<PayConfirmToMpaspContent> = {},
): PayConfirmToMpaspContent {
  return {
    kind: 'macro_pay_confirm_to_mpasp',
    from: parties.clientBank,
    to: parties.mpasp,
    sessionId,
    merchantId: parties.merchant,
    amount: macroAmountOf(payment.amount),
    expiresAt: payment.expiresAt.toISOString(),
    ...overrides,
  };
}

describe('learnClientBankOutcome: step 12 at the MPASP', () => {
  it('completes on Pay_Confirm, records ID_M and ID_MB, and forwards it to the client only', () => {
    const payment = awaitingApproval();
    const result = learnClientBankOutcome(
      payment,
      { kind: 'pay_confirm', receivedBy: 'MPASP', content: payConfirm(payment) },
      seconds(20),
    );
    expect(result.from).toBe('approval_requested');
    expect(result.payment.state).toBe('completed');
    expect(result.payment.outcome).toBeNull();
    expect(result.payment.merchantId).toBe(parties.merchant);
    expect(result.payment.merchantBankId).toBe(parties.merchantBank);
    expect(result.step).toBe(12);
    expect(result.transition).toBe('pay_confirm_received');
    expect(result.effects).toEqual([
      { kind: 'send', step: 12, from: 'MPASP', to: 'C', message: 'macro_pay_confirm_to_mpasp' },
    ]);
    expect(Object.isFrozen(result.payment)).toBe(true);
  });

  it('takes an outcome after T_EXP: the client bank took the approval before it', () => {
    const payment = awaitingApproval();
    const late = new Date(payment.expiresAt.getTime() + 60_000);
    const result = learnClientBankOutcome(
      payment,
      { kind: 'pay_confirm', receivedBy: 'MPASP', content: payConfirm(payment) },
      late,
    );
    expect(result.payment.state).toBe('completed');
  });

  it('closes as refused_by_mb with the bank’s code, telling the client, moving nothing at the MPASP', () => {
    const payment = awaitingApproval();
    const result = learnClientBankOutcome(
      payment,
      { kind: 'ft_refused', code: 'PAYEE_UNKNOWN' },
      seconds(20),
    );
    expect(result.payment.state).toBe('refused_by_mb');
    expect(result.payment.outcome).toBe('PAYEE_UNKNOWN');
    expect(result.step).toBe(8);
    expect(result.effects).toEqual([{ kind: 'notify_outcome', from: 'MPASP', to: 'C', status: 'declined' }]);
  });

  it('closes as declined_by_client with PAYMENT_DECLINED on the client’s decline at the CB, telling the client only', () => {
    const payment = awaitingApproval();
    const result = learnClientBankOutcome(payment, { kind: 'declined' }, seconds(20));
    expect(result.from).toBe('approval_requested');
    expect(result.payment.state).toBe('declined_by_client');
    expect(result.payment.outcome).toBe('PAYMENT_DECLINED');
    expect(result.payment.merchantId).toBeNull();
    expect(result.step).toBe(7);
    expect(result.transition).toBe('papp_resp_declined_received');
    // The table's papp_resp_declined effects are CB → MPASP and MPASP → C: only the MPASP's own is left.
    expect(result.effects).toEqual([{ kind: 'notify_outcome', from: 'MPASP', to: 'C', status: 'declined' }]);
    expect(Object.isFrozen(result.payment)).toBe(true);
  });

  it('closes as failed_balance on a refusal at the order’s placement, keeping the bank’s code, forwarding failure_msg2', () => {
    const payment = awaitingApproval();
    for (const code of ['INSUFFICIENT_FUNDS', 'LIMIT_EXCEEDED', 'PAYEE_UNKNOWN'] as const) {
      const result = learnClientBankOutcome(payment, { kind: 'refused_at_cb', code }, seconds(20));
      expect(result.payment.state).toBe('failed_balance');
      expect(result.payment.outcome).toBe(code);
      expect(result.step).toBe(8);
      expect(result.transition).toBe('failure_msg2_received');
      // approved.on.failure_msg2 sends CB → MPASP and MPASP → C: the MPASP's forward only, no money effect.
      expect(result.effects).toEqual([
        { kind: 'send', step: 8, from: 'MPASP', to: 'C', message: 'macro_failure_msg2' },
      ]);
    }
  });

  it('takes a decline learnt after T_EXP: the client bank took it before', () => {
    const payment = awaitingApproval();
    const late = new Date(payment.expiresAt.getTime() + 60_000);
    expect(learnClientBankOutcome(payment, { kind: 'declined' }, late).payment.state).toBe(
      'declined_by_client',
    );
  });

  it('refuses a Pay_Confirm for another session, amount, bank, MPASP or expiry, or received by another party', () => {
    const payment = awaitingApproval();
    const cases: [Partial<PayConfirmToMpaspContent>, string][] = [
      [{ sessionId: transactionId }, 'sessionId'],
      [{ amount: macroAmountOf(createAmount('EUR', 1n)) }, 'amount'],
      [{ from: 'zbank' }, 'from'],
      [{ to: 'other.mpay' }, 'to'],
      [{ expiresAt: seconds(999).toISOString() }, 'expiresAt'],
    ];
    for (const [change, field] of cases) {
      expect(
        refusal(() =>
          learnClientBankOutcome(
            payment,
            { kind: 'pay_confirm', receivedBy: 'MPASP', content: payConfirm(payment, change) },
            seconds(20),
          ),
        ),
      ).toEqual(['PAYMENT_MESSAGE_MISMATCH', field]);
    }
    expect(
      refusal(() =>
        learnClientBankOutcome(
          payment,
          { kind: 'pay_confirm', receivedBy: 'C', content: payConfirm(payment) },
          seconds(20),
        ),
      )[0],
    ).toBe('MACRO_RECIPIENT_INVALID');
  });

  it('refuses any outcome outside approval_requested: before step 6 was answered, or a second one', () => {
    const payment = awaitingApproval();
    const done = learnClientBankOutcome(
      payment,
      { kind: 'pay_confirm', receivedBy: 'MPASP', content: payConfirm(payment) },
      seconds(20),
    ).payment;
    for (const second of [
      { kind: 'ft_refused', code: 'PAYEE_UNKNOWN' },
      { kind: 'declined' },
      { kind: 'refused_at_cb', code: 'INSUFFICIENT_FUNDS' },
    ] as const) {
      expect(refusal(() => learnClientBankOutcome(done, second, seconds(21)))[0]).toBe(
        'PAYMENT_STATE_INVALID',
      );
    }
    const declined = learnClientBankOutcome(payment, { kind: 'declined' }, seconds(20)).payment;
    expect(
      refusal(() =>
        learnClientBankOutcome(
          declined,
          { kind: 'pay_confirm', receivedBy: 'MPASP', content: payConfirm(payment) },
          seconds(21),
        ),
      )[0],
    ).toBe('PAYMENT_STATE_INVALID');
    const session = { ...payment, state: 'session_created' as const };
    expect(
      refusal(() =>
        learnClientBankOutcome(
          session,
          { kind: 'pay_confirm', receivedBy: 'MPASP', content: payConfirm(payment) },
          seconds(20),
        ),
      )[0],
    ).toBe('PAYMENT_STATE_INVALID');
  });
});

describe('the client bank’s session states', () => {
  it('names exactly the four states and nothing else', () => {
    expect(clientBankSessionStates).toEqual(['approval_requested', 'declined', 'refused', 'approved']);
    for (const state of clientBankSessionStates) expect(isClientBankSessionState(state)).toBe(true);
    for (const other of ['sending', 'completed', 'APPROVED', '', 7, null, undefined])
      expect(isClientBankSessionState(other)).toBe(false);
    expect(Object.isFrozen(clientBankSessionStates)).toBe(true);
  });
});
