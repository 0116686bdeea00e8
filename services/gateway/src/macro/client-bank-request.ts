import { signPayload, verifyPayload } from '@mpay/envelope';
import { errorFromAnswer, requestAnswer, signRequest } from '@mpay/http-client';
import {
  amountEquals,
  amountOfMacroAmount,
  bankOfMacroClientId,
  type ClientBankRequestContent,
  errorCategoryOf,
  isErrorCode,
  isMpayError,
  MpayError,
  parseFailureMsg2,
  retryDelayMs,
  stepMacro,
} from '@mpay/protocol';
import type { BankRecord } from '../registry/banks.ts';
import { findBank } from '../registry/banks.ts';
import {
  claimDueClientBankRequests,
  type DueClientBankRequest,
  markClientBankRequestFailed,
  markClientBankRequestSent,
} from './client-bank-store.ts';
import type { MacroContext } from './context.ts';
import { coreMacroLimits } from './limits.ts';
import { applyMacroStep, lockMacroPayment, sha256 } from './payment-store.ts';

/**
 * Step 6 of seed 002 §4.2 at the MPASP:
 *
 *   MPASP → CB: E_SP{SID_T, ID_C, AmtInfo_c, h(TransactionData)}_{MPASP-CB}
 *   If ABal_C is sufficient then CB → C: PApp_Req  else CB → MPASP: send_failure_msg2
 *
 * The request prepared at step 5 (ClientBankRequestContent) is signed by the
 * MPASP (JWS: issuer the FSP, audience ID_CB = the bank ID_C names, txn
 * SID_T, a short lifetime, signed afresh for each attempt) and POSTed to the
 * client bank's POST /macro/payment-requests with the FSP's signed request
 * token. The client bank answers the same content under the same SID_T the
 * same way, so a retry after a timeout is harmless. Its answer is stepped
 * through the core with the delivery, in one transaction:
 *
 * - 202 `{ state: 'approval_requested', sessionId }` → balance_checked (the
 *   PApp_Req went to the client's device, not through the MPASP);
 * - a refusal with `failure`, the client bank's signed send_failure_msg2,
 *   verified under that bank's key from the registry and naming this payment
 *   → failure_msg2 (final; the client reads it in its status);
 * - anything else (the network, a 5xx, an answer that does not verify, a
 *   refusal without failure_msg2) changes nothing: due again after a backoff,
 *   until T_EXP, when the expiry sweep closes the payment.
 */

type Answer =
  | { readonly kind: 'approval_requested' }
  | { readonly kind: 'failure_msg2'; readonly failure: string }
  | { readonly kind: 'retry'; readonly code: string };

/** The claims signPayload adds next to a content; the content is what remains. */
const claimNames: ReadonlySet<string> = new Set(['iss', 'aud', 'txn', 'iat', 'exp', 'nonce']);

function contentOf(payload: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(payload).filter(([name]) => !claimNames.has(name)));
}

/** How long a bank's signed failure_msg2 is taken after it was signed (it is answered again on a retry). */
const failureAgeSecondsMax = 86_400;

/**
 * send_failure_msg2 as the client bank signed it: by that bank's registered
 * key, to this MPASP, for SID_T, its content the core's FailureMsg2 for this
 * very request. BANK_ANSWER_INVALID otherwise (nothing is recorded on it).
 */
async function verifyFailureMsg2(
  macro: MacroContext,
  bank: BankRecord,
  content: ClientBankRequestContent,
  jws: unknown,
): Promise<string> {
  if (typeof jws !== 'string') throw new MpayError('BANK_ANSWER_INVALID');
  try {
    const verified = await verifyPayload(
      jws,
      (kid) => (kid === bank.signingJwk.kid ? bank.signingJwk : undefined),
      { issuer: bank.id, audience: macro.gateway.fsp.id, transactionId: content.sessionId },
      { maxAgeSeconds: failureAgeSecondsMax },
    );
    const failure = parseFailureMsg2(contentOf(verified.payload), sha256);
    const matches =
      failure.from === bank.id &&
      failure.to === macro.gateway.fsp.id &&
      failure.sessionId === content.sessionId &&
      failure.transactionId === content.transactionId &&
      amountEquals(amountOfMacroAmount(failure.amount), amountOfMacroAmount(content.amount)) &&
      failure.expiresAt === content.expiresAt;
    if (!matches) throw new MpayError('BANK_ANSWER_INVALID');
    return jws;
  } catch {
    throw new MpayError('BANK_ANSWER_INVALID');
  }
}

/** POSTs the signed request and reads the client bank's answer; never throws for the bank's sake. */
async function askClientBank(
  macro: MacroContext,
  bank: BankRecord,
  content: ClientBankRequestContent,
): Promise<Answer> {
  const { fsp, limits } = macro.gateway;
  const path = '/macro/payment-requests';
  try {
    const request = await signPayload(
      content,
      {
        issuer: fsp.id,
        audience: bank.id,
        transactionId: content.sessionId,
        expiresInSeconds: macro.limits.clientBankRequestLifetimeSeconds,
      },
      fsp.signing.privateJwk,
    );
    const body = JSON.stringify({ request });
    const authorization = await signRequest(
      { method: 'POST', path, body },
      { issuer: fsp.id, audience: bank.id, key: fsp.signing.privateJwk },
    );
    const answer = await requestAnswer(
      `${bank.url}${path}`,
      {
        body,
        contentType: 'application/json',
        headers: { authorization },
        timeoutMs: limits.bankTimeoutMs,
        responseBytesMax: macro.limits.clientBankAnswerBytesMax,
      },
      'BANK_UNAVAILABLE',
    );
    const record = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as Record<
      string,
      unknown
    >;
    if (
      answer.status === 202 &&
      record.state === 'approval_requested' &&
      record.sessionId === content.sessionId
    ) {
      return { kind: 'approval_requested' };
    }
    if (answer.status >= 400 && answer.status < 500 && record.state === 'refused') {
      return {
        kind: 'failure_msg2',
        failure: await verifyFailureMsg2(macro, bank, content, record.failure),
      };
    }
    return { kind: 'retry', code: errorFromAnswer(answer.body, answer.status).code };
  } catch (error) {
    return { kind: 'retry', code: isMpayError(error) ? error.code : 'BANK_UNAVAILABLE' };
  }
}

/**
 * One request: asked, then the answer stepped and the delivery recorded in
 * one transaction, guarded by the payment's state (the sweep may have
 * expired it meanwhile: the answer is then recorded and nothing stepped).
 */
async function deliver(macro: MacroContext, due: DueClientBankRequest): Promise<void> {
  const { gateway } = macro;
  const { content } = due;
  if (content.to !== bankOfMacroClientId(content.clientId))
    throw new Error('assertion failed: step 6 goes to the bank ID_C names');
  let bank: BankRecord;
  try {
    bank = await findBank(gateway.database, content.to);
  } catch (error) {
    const code = isMpayError(error) ? error.code : 'BANK_UNKNOWN';
    await retryLater(macro, due, code);
    return;
  }
  const answer = await askClientBank(macro, bank, content);
  if (answer.kind === 'retry') {
    await retryLater(macro, due, answer.code);
    return;
  }
  const now = gateway.clock();
  await gateway.database.transaction(async (sql) => {
    const stored = await lockMacroPayment(sql, due.transactionId);
    if (stored === undefined) throw new Error('assertion failed: a request has its payment');
    if (stored.payment.state === 'session_created') {
      const event = answer.kind === 'approval_requested' ? 'balance_checked' : 'failure_msg2';
      const result = stepMacro(stored.payment, { kind: event }, now, coreMacroLimits(macro.limits));
      await applyMacroStep(sql, due.transactionId, result, now);
    }
    await markClientBankRequestSent(
      sql,
      due.sessionId,
      answer.kind === 'failure_msg2' ? answer.failure : null,
      now,
    );
  });
  gateway.log.info(
    { transactionId: due.transactionId, sessionId: due.sessionId, answer: answer.kind },
    'macro payment request answered by the client bank',
  );
}

async function retryLater(macro: MacroContext, due: DueClientBankRequest, code: string): Promise<void> {
  const { gateway } = macro;
  const now = gateway.clock();
  const next = new Date(now.getTime() + retryDelayMs(due.attempts + 1, gateway.limits));
  await markClientBankRequestFailed(gateway.database, due.sessionId, code, next, gateway.outboxLeaseOwner);
  // A refusal is not the network: it will not go away by itself (T_EXP will close the payment).
  const category = isErrorCode(code) ? errorCategoryOf(code) : undefined;
  if (category === 'refused' || category === 'final')
    gateway.log.warn({ transactionId: due.transactionId, code }, 'client bank refused the macro request');
}

/** Background: sends the due step-6 requests (a batch per round). Returns how many were tried. */
export async function sendClientBankRequests(macro: MacroContext): Promise<number> {
  const { gateway } = macro;
  const now = gateway.clock();
  const due = await claimDueClientBankRequests(
    gateway.database,
    now,
    new Date(now.getTime() + gateway.limits.outboxLeaseMs),
    macro.limits.clientBankBatchSizeMax,
    gateway.outboxLeaseOwner,
  );
  for (const request of due) {
    try {
      await deliver(macro, request);
    } catch (error) {
      // One request's failure does not stop the round; its lease runs out and it is tried again.
      gateway.log.error(
        { transactionId: request.transactionId, error: String(error) },
        'macro step 6 failed',
      );
    }
  }
  return due.length;
}
