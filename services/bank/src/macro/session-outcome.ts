import { signPayload } from '@mpay/envelope';
import { type ClientBankSessionState, MpayError } from '@mpay/protocol';
import { type MacroApprovalState, selectMacroApproval } from './approvals-store.ts';
import { type MacroContext, macroBankLimits } from './context.ts';

/**
 * Step 12 of seed 002 §4.2 at the client bank, for every end of a session:
 *
 *   CB → MPASP: E_SP{SID_T, Pay_Confirm, ID_M, AmtInfo_c}_{MPASP-CB}
 *
 * The paper sends the MPASP only the confirmation of a completed payment,
 * and the payment order's own statement (GET /payment-orders/:id) carries
 * that. A decline (PApp_Resp with decision 'decline') or a refusal at the
 * order's placement leaves no order, so without this the MPASP could only
 * wait for T_EXP and show the payment as expired. Here the bank signs what
 * it knows of SID_T itself: the state of its approval request, the refusal
 * code of a refused one, the order id of an approved one (whose statement
 * then tells the rest).
 *
 * Only the MPASP that sent step 6 for this SID_T reads it: any other caller
 * is told MACRO_APPROVAL_UNKNOWN, as for a session this bank never saw, so
 * that an FSP learns nothing about another's sessions.
 */

/** What the bank signs about a session: `{ macroSession }` in its JWS, next to the claims. */
export interface SignedMacroSession {
  /** SID_T */
  readonly sessionId: string;
  /** ID_T */
  readonly transactionId: string;
  readonly state: ClientBankSessionState;
  /** AmtInfo_c as the step-6 content carried it (the core's MacroAmount: decimal text). */
  readonly amount: { readonly currency: string; readonly value: string };
  /** T_EXP */
  readonly expiresAt: string;
  /** For `refused`: the stable code (INSUFFICIENT_FUNDS at step 6 or at the hold, LIMIT_EXCEEDED, …). */
  readonly refusalCode?: string;
  /** For `approved`: the payment order's id (macroOrderId). */
  readonly orderId?: string;
}

export interface SessionOutcome {
  readonly sessionId: string;
  readonly state: ClientBankSessionState;
  readonly refusalCode?: string;
  readonly orderId?: string;
  /** The bank's compact JWS over `{ macroSession }`: iss this bank, aud the caller, txn SID_T. */
  readonly statement: string;
}

/** The store's states are the protocol's session states, one for one (checked by the compiler both ways). */
const sessionStateOf: Readonly<Record<MacroApprovalState, ClientBankSessionState>> = Object.freeze({
  approval_requested: 'approval_requested',
  declined: 'declined',
  refused: 'refused',
  approved: 'approved',
});

/**
 * The bank's signed statement of SID_T `sessionId` for `callerId`, the
 * authenticated caller; MACRO_APPROVAL_UNKNOWN unless that caller made the
 * session's step-6 request. Signed afresh on every answer (wall clock, like
 * the order's statement): it says what the bank knows now.
 */
export async function readSessionOutcome(
  context: MacroContext,
  callerId: string,
  sessionId: string,
): Promise<SessionOutcome> {
  const record = await selectMacroApproval(context.database, sessionId);
  if (record === undefined || record.requestedBy !== callerId) throw new MpayError('MACRO_APPROVAL_UNKNOWN');
  const state = sessionStateOf[record.state];
  if ((state === 'refused') !== (record.refusalCode !== null)) {
    throw new Error('assertion failed: a session has a refusal code exactly when it is refused');
  }
  if ((state === 'approved') !== (record.orderId !== null)) {
    throw new Error('assertion failed: a session has an order exactly when it is approved');
  }
  const facts = {
    ...(record.refusalCode === null ? {} : { refusalCode: record.refusalCode }),
    ...(record.orderId === null ? {} : { orderId: record.orderId }),
  };
  const macroSession: SignedMacroSession = {
    sessionId,
    transactionId: record.transactionId,
    state,
    amount: { currency: record.currency, value: record.amountText },
    expiresAt: record.expiresAt.toISOString(),
    ...facts,
  };
  const statement = await signPayload(
    { macroSession },
    {
      issuer: context.bank.id,
      audience: callerId,
      transactionId: sessionId,
      expiresInSeconds: macroBankLimits.statementLifetimeSeconds,
    },
    context.bank.signingKey,
  );
  return { sessionId, state, ...facts, statement };
}
