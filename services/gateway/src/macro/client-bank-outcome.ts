import { errorFromAnswer, requestAnswer, signRequest } from '@mpay/http-client';
import {
  amountOfMacroAmount,
  type ClientBankOutcome,
  isErrorCode,
  isMpayError,
  learnClientBankOutcome,
  type MacroAmount,
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
 * The MPASP learns the client bank's outcome by asking it, in two reads,
 * each answered with the bank's signed statement (bankStatement: that bank's
 * key, to this FSP, for the id asked about). Only a statement that verifies
 * and names this payment is acted on; anything else is asked again later.
 *
 * First the session: GET /macro/sessions/:sessionId/outcome, which the
 * client bank answers only to the MPASP that sent step 6 for SID_T, signed
 * for SID_T (`macroSession`: sessionId, transactionId, amount and T_EXP
 * checked against this payment):
 *
 * - approval_requested: the client has not answered PApp_Req yet → asked
 *   again later; after T_EXP and a grace for the banks' clocks the client
 *   bank takes no PApp_Resp any more (it refuses one after its T_EXP), so
 *   the payment is expired, with that statement kept;
 * - declined (PApp_Resp said decline; nothing was held) → the core's
 *   `declined` → `declined_by_client`, PAYMENT_DECLINED;
 * - refused (send_failure_msg2 when the order an approval placed was
 *   refused: the hold, a limit, the payee) → the core's `refused_at_cb`
 *   with the bank's code → `failed_balance` (mpasp-outcome.ts says why);
 * - approved: the payment order is placed, under the id the MPASP derives
 *   itself (the core's macroOrderId(ID_CB, SID_T), which the statement must
 *   name), so the second read is GET /payment-orders/:id, the bank's signed
 *   statement of the order (`paymentOrder`, amount and currency checked):
 *   - completed → Pay_Confirm (the core's PayConfirmToMpaspContent with ID_M
 *     from the statement) → `completed`; the client reads it in
 *     GET /macro/payments/:transactionId;
 *   - refused (the merchant bank refused FT, the hold released) →
 *     `refused_by_mb` with the bank's code;
 *   - sending → asked again later.
 *
 * Anything else (the bank unreachable, MACRO_APPROVAL_UNKNOWN, a statement
 * that does not verify or names another payment) is asked again later, past
 * T_EXP too: the MPASP closes a payment only on the bank's signed word,
 * expiry included, since an approval it has not heard of may have moved money.
 *
 * Each outcome is stepped and recorded with the bank's statement (of the
 * order for an approval, else of the session) in one transaction, guarded
 * by the state; nothing is held open while asking.
 */

type Learnt =
  | { readonly kind: 'outcome'; readonly outcome: ClientBankOutcome; readonly statement: string }
  /** The client bank's signed word that PApp_Req is still unanswered. */
  | { readonly kind: 'approval_requested'; readonly statement: string; readonly issuedAt: Date }
  | { readonly kind: 'not_yet'; readonly reason: string };

const answerInvalid: Learnt = { kind: 'not_yet', reason: 'BANK_ANSWER_INVALID' };

/** A GET to the client bank signed by the MPASP (the FSP); the answer read within the macro limit. */
async function askBank(
  macro: MacroContext,
  bank: BankRecord,
  path: string,
): Promise<{ readonly status: number; readonly body: unknown }> {
  const { fsp, limits } = macro.gateway;
  const authorization = await signRequest(
    { method: 'GET', path, body: '' },
    { issuer: fsp.id, audience: bank.id, key: fsp.signing.privateJwk },
  );
  return requestAnswer(
    `${bank.url}${path}`,
    {
      headers: { authorization },
      timeoutMs: limits.bankTimeoutMs,
      responseBytesMax: macro.limits.clientBankAnswerBytesMax,
    },
    'BANK_UNAVAILABLE',
  );
}

function objectOf(body: unknown): Readonly<Record<string, unknown>> {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};
}

/** The signed amount is this payment's, compared in minor units after parsing the decimal text. */
function sameAmount(signed: unknown, payment: MacroPayment): boolean {
  try {
    const amount = amountOfMacroAmount(signed as MacroAmount);
    return amount.currency === payment.amount.currency && amount.minor === payment.amount.minor;
  } catch {
    return false;
  }
}

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
    return answerInvalid;
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

/** The second read, for an approved session: the payment order's signed statement. */
async function askOrder(
  macro: MacroContext,
  bank: BankRecord,
  payment: MacroPayment,
  orderId: string,
): Promise<Learnt> {
  const answer = await askBank(macro, bank, `/payment-orders/${orderId}`);
  // An approved session has its order (the bank writes both in one transaction): none is not an outcome.
  if (answer.status !== 200)
    return { kind: 'not_yet', reason: errorFromAnswer(answer.body, answer.status).code };
  const order = objectOf(answer.body);
  if (order.id !== orderId) return answerInvalid;
  if (order.state === 'completed' || order.state === 'refused')
    return await outcomeOfStatement(macro, bank, payment, orderId, order.state, order.bankAnswer);
  return { kind: 'not_yet', reason: `order ${String(order.state)}` };
}

/**
 * The first read: the client bank's signed statement of SID_T, checked to
 * name this payment, and what it means for the MPASP. Never throws for the
 * bank's sake.
 */
async function askSession(
  macro: MacroContext,
  bank: BankRecord,
  payment: MacroPayment,
  sessionId: string,
): Promise<Learnt> {
  try {
    const answer = await askBank(macro, bank, `/macro/sessions/${sessionId}/outcome`);
    if (answer.status !== 200)
      return { kind: 'not_yet', reason: errorFromAnswer(answer.body, answer.status).code };
    const {
      jws,
      answer: session,
      issuedAt,
    } = await bankStatement(
      macro.gateway.fsp,
      bank,
      objectOf(answer.body).statement,
      sessionId,
      'macroSession',
      macro.gateway.clock,
    );
    if (
      session.sessionId !== sessionId ||
      session.transactionId !== payment.transactionId ||
      session.expiresAt !== payment.expiresAt.toISOString() ||
      !sameAmount(session.amount, payment)
    ) {
      return answerInvalid;
    }
    switch (session.state) {
      case 'approval_requested':
        return { kind: 'approval_requested', statement: jws, issuedAt };
      case 'declined':
        return { kind: 'outcome', outcome: { kind: 'declined' }, statement: jws };
      case 'refused': {
        if (typeof session.refusalCode !== 'string') return answerInvalid;
        const code = isErrorCode(session.refusalCode) ? session.refusalCode : 'PAYMENT_DECLINED';
        return { kind: 'outcome', outcome: { kind: 'refused_at_cb', code }, statement: jws };
      }
      case 'approved': {
        const orderId = macroOrderId(bank.id, sessionId, sha256);
        if (session.orderId !== orderId) return answerInvalid;
        return await askOrder(macro, bank, payment, orderId);
      }
      default:
        return answerInvalid;
    }
  } catch (error) {
    return { kind: 'not_yet', reason: isMpayError(error) ? error.code : 'BANK_UNAVAILABLE' };
  }
}

/**
 * After T_EXP the client bank takes no PApp_Resp any more (it checks T_EXP on
 * its own clock, inside the approval's transaction): an unanswered session
 * stays so. Only a statement the bank signed at or after T_EXP says so (an
 * older one, replayed or delayed, may predate an approval), and only once the
 * grace on the MPASP's clock has passed too.
 */
function pastGrace(macro: MacroContext, payment: MacroPayment, statementIssuedAt: Date, now: Date): boolean {
  return (
    statementIssuedAt.getTime() >= payment.expiresAt.getTime() &&
    now.getTime() >= payment.expiresAt.getTime() + macro.limits.clientBankOutcomeGraceSeconds * 1_000
  );
}

async function checkOne(macro: MacroContext, watched: WatchedClientBankOutcome): Promise<void> {
  const { gateway } = macro;
  const stored = await findMacroPayment(gateway.database, watched.transactionId);
  if (stored === undefined) throw new Error('assertion failed: a watched request has its payment');
  let learnt: Learnt;
  try {
    const bank = await findBank(gateway.database, watched.clientBankId);
    learnt = await askSession(macro, bank, stored.payment, watched.sessionId);
  } catch (error) {
    learnt = { kind: 'not_yet', reason: isMpayError(error) ? error.code : 'BANK_UNKNOWN' };
  }
  const now = gateway.clock();
  if (
    learnt.kind === 'not_yet' ||
    (learnt.kind === 'approval_requested' && !pastGrace(macro, stored.payment, learnt.issuedAt, now))
  ) {
    const delayMs = Math.min(
      retryDelayMs(watched.outcomeChecks + 1, gateway.limits),
      macro.limits.clientBankOutcomeCheckIntervalMsMax,
    );
    const reason = learnt.kind === 'not_yet' ? learnt.reason : learnt.kind;
    await rescheduleOutcomeCheck(
      gateway.database,
      watched.sessionId,
      reason,
      new Date(now.getTime() + delayMs),
      gateway.outboxLeaseOwner,
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
    // Kept as evidence: the order's statement, the session's, or for an expiry the bank's word that it stayed unanswered.
    await recordClientBankOutcome(sql, watched.sessionId, learnt.statement, now);
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
    gateway.outboxLeaseOwner,
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
