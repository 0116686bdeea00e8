import { errorFromAnswer, requestAnswer, signRequest } from '@mpay/http-client';
import {
  type ClientBankOutcome,
  type ErrorCode,
  isErrorCode,
  isMpayError,
  learnClientBankOutcome,
  type MacroPayment,
  macroAmountOf,
  macroOrderId,
  parsePayConfirmToMpaspContent,
  retryDelayMs,
  stepMacro,
} from '@mpay/protocol';
import { bankStatement } from '../banks/client.ts';
import { type BankRecord, findBank } from '../registry/banks.ts';
import {
  claimDueOutcomeChecks,
  recordClientBankOutcome,
  rescheduleOutcomeCheck,
  type WatchedClientBankOutcome,
} from './client-bank-store.ts';
import type { MacroContext } from './context.ts';
import { coreMacroLimits } from './limits.ts';
import { applyMacroStep, findMacroPayment, lockMacroPayment, sha256 } from './payment-store.ts';

/**
 * Step 12 of seed 002 §4.2 at the MPASP:
 *
 *   CB → MPASP: E_SP{SID_T, Pay_Confirm, ID_M, AmtInfo_c}_{MPASP-CB};
 *   "Finally, the MPASP server forwards the same message to the client" (§3)
 *
 * The MPASP learns the client bank's outcome by asking it: the client bank
 * places one payment order per approved SID_T under an id the MPASP derives
 * itself (the core's macroOrderId(ID_CB, SID_T)), ordered on the MPASP's
 * behalf, so GET /payment-orders/:id answers the MPASP with the bank's
 * signed statement of the order (bankStatement: that bank's key, to this
 * FSP, for the order id). Only a statement that verifies and names this
 * payment's amount and currency is acted on:
 *
 * - completed → Pay_Confirm (the core's PayConfirmToMpaspContent with ID_M
 *   from the statement) → `completed`; the client reads it in
 *   GET /macro/payments/:transactionId;
 * - refused (the merchant bank refused FT, the hold released) → `refused_by_mb`
 *   with the bank's code;
 * - sending → asked again later;
 * - no such order (TRANSFER_UNKNOWN): the client has not approved yet; after
 *   T_EXP and a grace for the banks' clocks, no order can appear any more
 *   (the client bank takes PApp_Resp only before T_EXP), so the payment is
 *   expired. A decline or a refusal at the order's placement leaves no order
 *   either, and so reads as expired here, not as declined or refused: the
 *   client bank has no signed per-session answer for the MPASP yet.
 *
 * Each outcome is stepped and recorded with the bank's statement in one
 * transaction, guarded by the state; nothing is held open while asking.
 */

type Learnt =
  | { readonly kind: 'outcome'; readonly outcome: ClientBankOutcome; readonly statement: string }
  | { readonly kind: 'no_order' }
  | { readonly kind: 'not_yet'; readonly reason: string };

const noOrderCode: ErrorCode = 'TRANSFER_UNKNOWN';

/** The bank's signed statement of a finished order, checked against this payment; BANK_ANSWER_INVALID otherwise. */
async function outcomeOfStatement(
  macro: MacroContext,
  bank: BankRecord,
  payment: MacroPayment,
  orderId: string,
  state: 'completed' | 'refused',
  signed: unknown,
): Promise<Learnt> {
  const { jws, answer } = await bankStatement(macro.gateway.fsp, bank, signed, orderId, 'paymentOrder');
  const sessionId = payment.sessionId;
  if (
    sessionId === null ||
    answer.id !== orderId ||
    answer.state !== state ||
    answer.amount !== payment.amount.minor.toString() ||
    answer.currency !== payment.amount.currency ||
    typeof answer.payeeId !== 'string'
  ) {
    return { kind: 'not_yet', reason: 'BANK_ANSWER_INVALID' };
  }
  if (state === 'refused') {
    const code = isErrorCode(answer.refusalCode) ? answer.refusalCode : 'PAYMENT_DECLINED';
    return { kind: 'outcome', outcome: { kind: 'ft_refused', code }, statement: jws };
  }
  const content = parsePayConfirmToMpaspContent(
    {
      kind: 'macro_pay_confirm_to_mpasp',
      from: bank.id,
      to: payment.mpaspId,
      sessionId,
      merchantId: answer.payeeId,
      amount: macroAmountOf(payment.amount),
      expiresAt: payment.expiresAt.toISOString(),
    },
    sha256,
  );
  return { kind: 'outcome', outcome: { kind: 'pay_confirm', receivedBy: 'MPASP', content }, statement: jws };
}

/** Asks the client bank about the payment's order; never throws for the bank's sake. */
async function askOrder(
  macro: MacroContext,
  bank: BankRecord,
  payment: MacroPayment,
  orderId: string,
): Promise<Learnt> {
  const { fsp, limits } = macro.gateway;
  const path = `/payment-orders/${orderId}`;
  try {
    const authorization = await signRequest(
      { method: 'GET', path, body: '' },
      { issuer: fsp.id, audience: bank.id, key: fsp.signing.privateJwk },
    );
    const answer = await requestAnswer(
      `${bank.url}${path}`,
      {
        headers: { authorization },
        timeoutMs: limits.bankTimeoutMs,
        responseBytesMax: macro.limits.clientBankAnswerBytesMax,
      },
      'BANK_UNAVAILABLE',
    );
    if (answer.status !== 200) {
      const { code } = errorFromAnswer(answer.body, answer.status);
      return code === noOrderCode && answer.status === 404
        ? { kind: 'no_order' }
        : { kind: 'not_yet', reason: code };
    }
    const order = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as Record<
      string,
      unknown
    >;
    if (order.id !== orderId) return { kind: 'not_yet', reason: 'BANK_ANSWER_INVALID' };
    if (order.state === 'completed' || order.state === 'refused')
      return await outcomeOfStatement(macro, bank, payment, orderId, order.state, order.bankAnswer);
    return { kind: 'not_yet', reason: `order ${String(order.state)}` };
  } catch (error) {
    return { kind: 'not_yet', reason: isMpayError(error) ? error.code : 'BANK_UNAVAILABLE' };
  }
}

/** After T_EXP and the grace, an approval can no longer reach the client bank, so no order will appear. */
function pastGrace(macro: MacroContext, payment: MacroPayment, now: Date): boolean {
  return now.getTime() >= payment.expiresAt.getTime() + macro.limits.clientBankOutcomeGraceSeconds * 1_000;
}

async function checkOne(macro: MacroContext, watched: WatchedClientBankOutcome): Promise<void> {
  const { gateway } = macro;
  const stored = await findMacroPayment(gateway.database, watched.transactionId);
  if (stored === undefined) throw new Error('assertion failed: a watched request has its payment');
  let learnt: Learnt;
  try {
    const bank = await findBank(gateway.database, watched.clientBankId);
    learnt = await askOrder(macro, bank, stored.payment, macroOrderId(bank.id, watched.sessionId, sha256));
  } catch (error) {
    learnt = { kind: 'not_yet', reason: isMpayError(error) ? error.code : 'BANK_UNKNOWN' };
  }
  const now = gateway.clock();
  if (learnt.kind === 'not_yet' || (learnt.kind === 'no_order' && !pastGrace(macro, stored.payment, now))) {
    const delayMs = Math.min(
      retryDelayMs(watched.outcomeChecks + 1, gateway.limits),
      macro.limits.clientBankOutcomeCheckIntervalMsMax,
    );
    const reason = learnt.kind === 'not_yet' ? learnt.reason : noOrderCode;
    await rescheduleOutcomeCheck(
      gateway.database,
      watched.sessionId,
      reason,
      new Date(now.getTime() + delayMs),
    );
    return;
  }
  await gateway.database.transaction(async (sql) => {
    const locked = await lockMacroPayment(sql, watched.transactionId);
    if (locked === undefined) throw new Error('assertion failed: a watched request has its payment');
    if (locked.payment.state === stored.payment.state) {
      const result =
        learnt.kind === 'outcome'
          ? learnClientBankOutcome(locked.payment, learnt.outcome, now)
          : stepMacro(locked.payment, { kind: 'expiry_due' }, now, coreMacroLimits(macro.limits));
      await applyMacroStep(sql, watched.transactionId, result, now);
    }
    await recordClientBankOutcome(
      sql,
      watched.sessionId,
      learnt.kind === 'outcome' ? learnt.statement : null,
      now,
    );
  });
  gateway.log.info(
    {
      transactionId: watched.transactionId,
      outcome: learnt.kind === 'outcome' ? learnt.outcome.kind : 'expired',
    },
    'macro payment outcome learnt from the client bank',
  );
}

/** Background: asks the client banks about the due payments in approval_requested (a batch per round). */
export async function checkClientBankOutcomes(macro: MacroContext): Promise<number> {
  const { gateway } = macro;
  const now = gateway.clock();
  const due = await claimDueOutcomeChecks(
    gateway.database,
    now,
    new Date(now.getTime() + gateway.limits.outboxLeaseMs),
    macro.limits.clientBankBatchSizeMax,
  );
  for (const watched of due) {
    try {
      await checkOne(macro, watched);
    } catch (error) {
      // One payment's failure does not stop the round; its lease runs out and it is asked again.
      gateway.log.error(
        { transactionId: watched.transactionId, error: String(error) },
        'macro step 12 failed',
      );
    }
  }
  return due.length;
}
