import { decryptWith, signPayload, verifyPayload } from '@mpay/envelope';
import {
  amountOfMacroAmount,
  errorCategoryOf,
  hashTransactionData,
  isMpayError,
  type MacroAmount,
  MpayError,
  type PAppRespContent,
  parsePAppRespContent,
  transactionDataOfConsent,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { CustomerConsent } from '../interbank/authorisation.ts';
import { deliverPlacedOrder } from '../interbank/deliver.ts';
import { derivedId } from '../interbank/ids.ts';
import { type ConsentVerifier, type PaymentOrderInput, placeOrder } from '../interbank/order.ts';
import type { PaymentOrder } from '../interbank/orders-store.ts';
import { OrderRefusal } from '../interbank/refusal.ts';
import { contentOf, makeFailureMsg2, sha256 } from './approval-request.ts';
import {
  answerMacroApproval,
  type MacroApprovalRecord,
  type MacroApprovalState,
  selectMacroApproval,
} from './approvals-store.ts';
import { type MacroContext, macroBankLimits } from './context.ts';
import { BindingRejected, type BoundKey, boundKeyOfKid } from './device.ts';

/**
 * Step 7 of seed 002 §4.2 at the client bank:
 *
 *   C → CB: E_SP{SID_T, AmtInfo_c, PApp_Resp}_{C-CB}
 *
 * then, on an approval, step 8 (FT[SID_T, ID_M, ID_CB, AmtInfo_c]_{CB-MB}):
 * the existing payment order (hold on the customer's account, signed funds
 * transfer to the merchant's bank naming the payee ID_M, never an account).
 *
 * E_SP here is a JWE to the bank's own encryption key (GET /bank
 * `encryptionJwk`) around the device's signature over the core's
 * PAppRespContent: only the bank reads it, and the signature is the
 * customer's consent as DESIGN.md "Who must see the customer's consent"
 * requires, checked before any money moves (`checkConsent`).
 */

/**
 * The payment order of an approved SID_T: a UUID derived from this bank's id
 * and SID_T (ids.ts derivedId, label 'macro-payment-order'), so that one
 * session can place one order only, a retried placement writes the same
 * order, and the MPASP can name the order without being told its id.
 */
export function macroOrderId(bankId: string, sessionId: string): string {
  return derivedId('macro-payment-order', bankId, sessionId);
}

/** What the bank established about a PApp_Resp. */
export interface CheckedConsent {
  readonly record: MacroApprovalRecord;
  readonly consent: PAppRespContent;
  readonly bound: BoundKey;
}

const invalid = (reason: string) => new OrderRefusal('MACRO_APPROVAL_INVALID', reason);

function sameAmount(amount: MacroAmount, record: MacroApprovalRecord): boolean {
  // In minor units after parsing the signed decimal text, never as text or a float.
  const parsed = amountOfMacroAmount(amount);
  return parsed.currency === record.currency && parsed.minor === record.amount;
}

/** The field of the consent that differs from the approval request it answers, or undefined. */
function consentMismatch(
  consent: PAppRespContent,
  record: MacroApprovalRecord,
  bankId: string,
): string | undefined {
  const checks: readonly [string, boolean][] = [
    ['sessionId', consent.sessionId === record.sessionId],
    ['transactionId', consent.transactionId === record.transactionId],
    ['from', consent.from === record.clientId],
    ['to', consent.to === bankId],
    ['amount', sameAmount(consent.amount, record)],
    ['expiresAt', consent.expiresAt === record.expiresAt.toISOString()],
    // Recomputed here from the TransactionData the consent names: the merchant paid is the one hashed at step 1.
    [
      'transactionDataHash',
      hashTransactionData(transactionDataOfConsent(consent), sha256) === record.transactionDataHash,
    ],
  ];
  return checks.find(([, holds]) => !holds)?.[0];
}

async function verifiedSignature(
  sql: Sql,
  context: MacroContext,
  record: MacroApprovalRecord,
  jws: string,
  now: Date,
): Promise<{ bound: BoundKey; payload: Readonly<Record<string, unknown>> }> {
  let bound: BoundKey | undefined;
  try {
    const { payload } = await verifyPayload(
      jws,
      async (kid) => {
        bound = await boundKeyOfKid(sql, context.bank, kid, now, true);
        return bound.binding.signingJwk;
      },
      { audience: context.bank.id, issuer: record.partyId, transactionId: record.sessionId },
      {
        maxAgeSeconds: context.limits.customerAuthorisationLifetimeSecondsMax,
        clockSkewSeconds: context.limits.customerAuthorisationClockSkewSeconds,
        now: () => now.getTime(),
      },
    );
    if (bound === undefined) throw new Error('assertion failed: a verified signature has its binding');
    return { bound, payload };
  } catch (error) {
    if (error instanceof BindingRejected) throw invalid(error.message);
    const code = isMpayError(error) ? error.code : 'error';
    throw invalid(`signature${bound === undefined ? '' : ` under binding ${bound.serial}`}: ${code}`);
  }
}

/**
 * The rule everything else serves, for a macro payment: PApp_Resp verifies
 * under the key of an active binding of this bank (locked until the
 * transaction ends, so a revocation cannot commit in between), issued by the
 * macro client's party, whose subject is that party and whose accounts
 * include the debited one; its content, parsed strictly by the core, is
 * exactly the approval request it answers (SID_T, ID_T, ID_C, amount and
 * currency, h(TransactionData) recomputed, this bank, T_EXP), and T_EXP has
 * not passed. The request row is locked: answers to one SID_T queue, and the
 * second is MACRO_APPROVAL_REPLAYED. Codes: MACRO_APPROVAL_UNKNOWN,
 * MACRO_APPROVAL_REPLAYED, MACRO_APPROVAL_EXPIRED, MACRO_APPROVAL_INVALID
 * (whatever else failed; the reason goes to the log only).
 */
export async function checkConsent(
  sql: Sql,
  context: MacroContext,
  sessionId: string,
  jws: string,
  now: Date,
): Promise<CheckedConsent> {
  const record = await selectMacroApproval(sql, sessionId, true);
  if (record?.approvalRequest == null) throw new MpayError('MACRO_APPROVAL_UNKNOWN');
  if (record.state !== 'approval_requested') throw new MpayError('MACRO_APPROVAL_REPLAYED');
  if (now.getTime() >= record.expiresAt.getTime()) throw new MpayError('MACRO_APPROVAL_EXPIRED');
  const { bound, payload } = await verifiedSignature(sql, context, record, jws, now);
  if (bound.binding.subject !== record.partyId) throw invalid(`binding ${bound.serial} is of another party`);
  if (!bound.binding.accounts.includes(record.debitAccountId)) {
    throw invalid(`binding ${bound.serial} does not name the debited account`);
  }
  let consent: PAppRespContent;
  try {
    consent = parsePAppRespContent(contentOf(payload), sha256);
  } catch (error) {
    throw invalid(`content: ${isMpayError(error) ? `${error.code} ${error.detail ?? ''}` : 'error'}`);
  }
  const mismatch = consentMismatch(consent, record, context.bank.id);
  if (mismatch !== undefined) throw invalid(`signed ${mismatch} differs from the approval request`);
  return { record, consent, bound };
}

/** The body the device seals to the bank: exactly `{ pappResp: <compact JWS> }`. */
async function openApproval(context: MacroContext, sealed: string): Promise<string> {
  const key = context.bank.encryption;
  if (key === undefined) throw new MpayError('SERVICE_UNAVAILABLE', 'no encryption key');
  const plaintext = await decryptWith(sealed, [key.privateJwk]);
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch {
    throw new MpayError('REQUEST_INVALID', 'approval');
  }
  const record = body as Record<string, unknown> | null;
  if (
    typeof record !== 'object' ||
    record === null ||
    Array.isArray(record) ||
    Object.keys(record).length !== 1 ||
    typeof record.pappResp !== 'string' ||
    record.pappResp.length > 16_384
  ) {
    throw new MpayError('REQUEST_INVALID', 'approval');
  }
  return record.pappResp;
}

/** The order an approval places: the debit of the binding's first account, to ID_M at ID_MB. */
function orderInputOf(context: MacroContext, checked: CheckedConsent, jws: string): PaymentOrderInput {
  const { record, consent } = checked;
  return {
    id: macroOrderId(context.bank.id, record.sessionId),
    payerId: record.partyId,
    debitAccountId: record.debitAccountId,
    payeeId: consent.merchantId,
    creditBankId: consent.merchantBankId,
    amount: record.amount,
    currency: record.currency,
    reference: `macro ${record.sessionId}`,
    authorisation: jws,
  };
}

/**
 * The consent check placeOrder runs in the order's transaction: the same
 * check again (the binding and the request locked now), the order the one
 * this consent asks for, and the request marked approved with it.
 */
function macroConsentVerifier(context: MacroContext, sessionId: string, jws: string): ConsentVerifier {
  return async (sql, _consentContext, order, _orderedBy, now): Promise<CustomerConsent> => {
    // T_EXP on a clock read now, with the request and binding locked: an approval that waited for
    // the locks past T_EXP is refused, so the MPASP may trust a statement signed after T_EXP.
    const current = context.clock();
    const checked = await checkConsent(
      sql,
      context,
      sessionId,
      jws,
      new Date(Math.max(current.getTime(), now.getTime())),
    );
    if (checked.consent.decision !== 'approve') throw invalid('not an approval');
    const expected = orderInputOf(context, checked, jws);
    if (
      order.id !== expected.id ||
      order.payeeId !== expected.payeeId ||
      order.debitAccountId !== expected.debitAccountId ||
      order.amount !== expected.amount
    ) {
      throw new Error('assertion failed: the order is the one the consent asks for');
    }
    await answerMacroApproval(
      sql,
      sessionId,
      { state: 'approved', consent: jws, consentBindingSerial: checked.bound.serial, orderId: order.id },
      now,
    );
    return { keyBindingSerial: checked.bound.serial, approval: undefined };
  };
}

/** The outcome of step 7, for the client. */
export interface ApprovalOutcome {
  readonly sessionId: string;
  readonly state: MacroApprovalState;
  readonly order?: PaymentOrder | undefined;
  /** The bank's signed statement of the outcome, for the client (audience its party id). */
  readonly statement: string;
}

async function statementOf(
  context: MacroContext,
  record: MacroApprovalRecord,
  state: MacroApprovalState,
  order: PaymentOrder | undefined,
): Promise<string> {
  const macroApproval = {
    sessionId: record.sessionId,
    transactionId: record.transactionId,
    clientId: record.clientId,
    state,
    amount: { currency: record.currency, value: record.amountText },
    ...(order === undefined
      ? {}
      : { orderId: order.id, orderState: order.state, merchantId: order.payeeId ?? '' }),
  };
  return signPayload(
    { macroApproval },
    {
      issuer: context.bank.id,
      audience: record.partyId,
      transactionId: record.sessionId,
      expiresInSeconds: macroBankLimits.statementLifetimeSeconds,
    },
    context.bank.signingKey,
  );
}

/**
 * An order refused after the approval (the balance fell since step 6, a
 * limit, an unknown payee): the request is closed as refused with
 * send_failure_msg2 for the MPASP, so that it is never approved again.
 */
async function closeRefused(context: MacroContext, sessionId: string, code: string): Promise<void> {
  const now = context.clock();
  await context.database.transaction(async (sql) => {
    const record = await selectMacroApproval(sql, sessionId, true);
    if (record?.state !== 'approval_requested') return;
    const failure = await makeFailureMsg2(context, record, record.requestedBy);
    await answerMacroApproval(sql, sessionId, { state: 'refused', refusalCode: code, failure }, now);
  });
}

async function approve(
  context: MacroContext,
  checked: CheckedConsent,
  jws: string,
): Promise<ApprovalOutcome> {
  const { record } = checked;
  const input = orderInputOf(context, checked, jws);
  let placed: PaymentOrder;
  try {
    placed = await placeOrder(
      context,
      input,
      record.requestedBy,
      context.clock(),
      macroConsentVerifier(context, record.sessionId, jws),
    );
  } catch (error) {
    const ownCode = isMpayError(error) && error.code.startsWith('MACRO_APPROVAL_');
    if (isMpayError(error) && !ownCode && errorCategoryOf(error.code) === 'refused') {
      await closeRefused(context, record.sessionId, error.code);
    }
    throw error;
  }
  const order = await deliverPlacedOrder(context, placed);
  return {
    sessionId: record.sessionId,
    state: 'approved',
    order,
    statement: await statementOf(context, record, 'approved', order),
  };
}

/**
 * Step 7: the client's sealed PApp_Resp for SID_T `sessionId`, opened,
 * checked (`checkConsent`) and acted on once: 'decline' closes the request
 * (nothing moves); 'approve' places the payment order (id macroOrderId) under
 * the same check, inside the order's transaction, and delivers its funds
 * transfer once right away (the worker retries). Refusals: those of
 * checkConsent, CRYPTO_DECRYPTION_FAILED, REQUEST_INVALID, and the order's
 * own (INSUFFICIENT_FUNDS, LIMIT_EXCEEDED, PAYEE_UNKNOWN, …: the request is
 * then closed as refused).
 */
export async function answerApprovalRequest(
  context: MacroContext,
  sessionId: string,
  sealed: string,
): Promise<ApprovalOutcome> {
  const jws = await openApproval(context, sealed);
  const now = context.clock();
  let checked: CheckedConsent;
  try {
    checked = await context.database.transaction(async (sql) => {
      const result = await checkConsent(sql, context, sessionId, jws, now);
      if (result.consent.decision === 'decline') {
        await answerMacroApproval(
          sql,
          sessionId,
          { state: 'declined', consent: jws, consentBindingSerial: result.bound.serial },
          now,
        );
      }
      return result;
    });
  } catch (error) {
    const reason = error instanceof OrderRefusal ? error.reason : undefined;
    const code = isMpayError(error) ? error.code : 'error';
    context.log.warn({ sessionId, code, reason }, 'macro approval refused');
    throw error;
  }
  if (checked.consent.decision === 'decline') {
    context.log.info({ sessionId }, 'macro approval declined');
    return {
      sessionId,
      state: 'declined',
      statement: await statementOf(context, checked.record, 'declined', undefined),
    };
  }
  return approve(context, checked, jws);
}
