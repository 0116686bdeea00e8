import { randomBytes } from 'node:crypto';
import { decodeBase64url, decryptDirect, encryptDirect } from '@mpay/envelope';
import { httpStatusOf } from '@mpay/http-server';
import {
  createClientBankRequestContent,
  createFailureMsg1,
  createSession,
  type ErrorCode,
  errorMessageOf,
  MpayError,
  macroIdRandomBytes,
  macroStateMachine,
  parseSecretAnswerContent,
  type SecretAnswerContent,
  stepMacro,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import {
  claimIdempotencyKey,
  type IdempotencyClaim,
  storeIdempotentAnswer,
} from '../payments/idempotency.ts';
import type { MacroContext } from './context.ts';
import { coreMacroLimits } from './limits.ts';
import type { MacroAnswer } from './payment-request.ts';
import { expireIfDue } from './payment-request.ts';
import {
  applyMacroStep,
  insertClientBankRequest,
  lockMacroPayment,
  lockSecretAnswerTries,
  recordWrongSecretAnswer,
  resetSecretAnswerTries,
  type StoredMacroPayment,
  sha256,
} from './payment-store.ts';
import { checkSecretAnswer } from './secret-answer.ts';
import { findMacroClient } from './store.ts';

/**
 * Steps 4 and 5 of §4.2 at the MPASP:
 *
 *   4) C → MPASP: E_SP{ID_T, SAns}_{C-MPASP}
 *   5) MPASP: SAns = D_SP{…}; if SAns is valid { SID_T = CreateSession(ID_T);
 *      SID_T = GetClientInfo(ID_C, ID_CB) } else MPASP → C: send_failure_msg1
 *
 * POST /macro/payments/:transactionId/secret-answer, `application/jose`: a
 * compact JWE (dir, A256GCM, kid ID_T) under the channel key of the opened
 * challenge, of `SecretAnswerContent`; an Idempotency-Key required (scope: the
 * payment's client). Answers, stored under the key with the state:
 *
 * - valid → 202 `{ transactionId, sessionId, status, step: 5 }`: SID_T
 *   created, the step-6 Payment Request (ClientBankRequestContent) prepared
 *   and stored for the client bank;
 * - not valid → 401 `{ error: { code: 'AUTHENTICATION_FAILED', … },
 *   transactionId, status: 'declined', step: 5, failureMsg1 }`: failure_msg1
 *   sealed under the channel key, the payment final;
 * - after T_EXP → 422 PAYMENT_EXPIRED, the payment expired.
 *
 * The answer is plain JSON on success: SID_T is no secret (both banks see
 * it), and the client learns nothing it acts on before the client bank's
 * PApp_Req, which comes sealed on the C–CB channel. failure_msg1 is sealed so
 * that the client knows the refusal is the MPASP's.
 *
 * Wrong answers are counted per client across payments; at
 * `secretAnswerFailuresMax` the client's macro payments are blocked. A blocked
 * client's answer is not checked at all (no oracle): it gets failure_msg1
 * like any wrong answer.
 */

function errorAnswer(code: ErrorCode, extra: Record<string, unknown> = {}): MacroAnswer {
  return {
    statusCode: httpStatusOf(code),
    body: { error: { code, message: errorMessageOf(code) }, ...extra },
  };
}

async function openSecretAnswer(stored: StoredMacroPayment, jwe: string): Promise<SecretAnswerContent> {
  const key = stored.channelKey === null ? undefined : decodeBase64url(stored.channelKey);
  if (key === undefined) throw new Error('assertion failed: an opened challenge has its channel key');
  const plaintext = await decryptDirect(jwe, key, { kid: stored.transactionId }).catch(() => {
    throw new MpayError('AUTHENTICATION_FAILED');
  });
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch {
    throw new MpayError('MESSAGE_INVALID', 'json');
  }
  return parseSecretAnswerContent(value, sha256);
}

/** Step 5 in the caller's transaction, after step 4 was stored: the answer checked, then the session or failure_msg1. */
async function checkAnswer(
  sql: Sql,
  macro: MacroContext,
  stored: StoredMacroPayment,
  content: SecretAnswerContent,
  now: Date,
): Promise<MacroAnswer> {
  const { limits } = macro;
  const { transactionId } = stored;
  const core = coreMacroLimits(limits);
  const payment = stored.payment;
  // GetClientInfo(ID_C, ID_CB): the client as registered, its bank as the bank issued the id.
  const client = await findMacroClient(sql, payment.clientId);
  if (client === undefined) throw new Error('assertion failed: a payment has its client');
  const tries = await lockSecretAnswerTries(sql, client.clientId);
  const valid =
    !tries.blocked && (await checkSecretAnswer(client.secretAnswerVerifier, content.secretAnswer));
  if (valid) {
    await resetSecretAnswerTries(sql, client.clientId);
    const sessionId = createSession(transactionId, randomBytes(macroIdRandomBytes));
    const checked = stepMacro(
      payment,
      { kind: 'secret_checked', sessionId, clientBankId: client.bankId },
      now,
      core,
    );
    await applyMacroStep(sql, transactionId, checked, now);
    // Step 6's message, as the core's effect asks, prepared now: the step-6 sender only delivers it.
    await insertClientBankRequest(sql, createClientBankRequestContent(checked.payment), now);
    return {
      statusCode: 202,
      body: {
        transactionId,
        sessionId,
        status: macroStateMachine[checked.payment.state].publicStatus,
        step: checked.step,
      },
    };
  }
  if (!tries.blocked) {
    const blocked = await recordWrongSecretAnswer(sql, client.clientId, limits.secretAnswerFailuresMax, now);
    if (blocked)
      macro.gateway.log.warn({ clientId: client.clientId }, 'macro payments blocked after wrong answers');
  }
  const failed = stepMacro(payment, { kind: 'failure_msg1' }, now, core);
  await applyMacroStep(sql, transactionId, failed, now);
  const key = decodeBase64url(stored.channelKey ?? '');
  if (key === undefined) throw new Error('assertion failed: an answered payment has its channel key');
  const failureMsg1 = await encryptDirect(JSON.stringify(createFailureMsg1(failed.payment)), key, {
    kid: transactionId,
  });
  return errorAnswer('AUTHENTICATION_FAILED', {
    transactionId,
    status: macroStateMachine[failed.payment.state].publicStatus,
    step: failed.step,
    failureMsg1,
  });
}

/**
 * Steps 4 and 5 in one transaction with the Idempotency-Key's claim and the
 * payment's lock. Refusals that change nothing (a message that does not open
 * under the channel key, a malformed or mismatched content, a state that
 * takes no answer) are thrown, and the claim with them.
 */
export async function answerSecretQuestion(
  macro: MacroContext,
  transactionId: string,
  jwe: string,
  claim: IdempotencyClaim,
): Promise<MacroAnswer> {
  const { gateway } = macro;
  const now = gateway.clock();
  return gateway.database.transaction(async (sql) => {
    const answered = await claimIdempotencyKey(sql, claim, now);
    if (answered !== undefined) return answered;
    const stored = await lockMacroPayment(sql, transactionId);
    if (stored === undefined) throw new MpayError('PAYMENT_UNKNOWN');
    let answer: MacroAnswer;
    if (await expireIfDue(sql, macro, transactionId, stored.payment, now)) {
      answer = errorAnswer('PAYMENT_EXPIRED', { transactionId, status: 'expired' });
    } else {
      if (stored.payment.state !== 'challenge_opened') {
        const refusal =
          stored.payment.state === 'tries_exhausted' || stored.payment.state === 'expired'
            ? (stored.payment.outcome ?? 'PAYMENT_STATE_INVALID')
            : 'PAYMENT_STATE_INVALID';
        throw new MpayError(refusal, `secret answer in ${stored.payment.state}`);
      }
      const content = await openSecretAnswer(stored, jwe);
      const received = stepMacro(
        stored.payment,
        { kind: 'secret_answer', receivedBy: 'MPASP', content },
        now,
        coreMacroLimits(macro.limits),
      );
      await applyMacroStep(sql, transactionId, received, now);
      answer = await checkAnswer(sql, macro, { ...stored, payment: received.payment }, content, now);
    }
    await storeIdempotentAnswer(sql, claim, answer);
    return answer;
  });
}
