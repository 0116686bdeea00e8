import { randomUUID } from 'node:crypto';
import { encryptDirect } from '@mpay/envelope';
import { type ErrorCode, type MacroPayment, MpayError, stepMacro } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { channelKeyText, derivePaymentChannelKey } from './channel.ts';
import type { MacroContext } from './context.ts';
import { coreMacroLimits } from './limits.ts';
import { finishCountedLogin, loginIdPattern, startCountedLogin } from './login.ts';
import { opaqueMessagePattern } from './mpin.ts';
import { expireIfDue } from './payment-request.ts';
import {
  applyMacroStep,
  dropChallengeOpenings,
  insertChallengeOpening,
  lockMacroPayment,
  macroTransactionIdPattern,
  type StoredMacroPayment,
  takeChallengeOpening,
} from './payment-store.ts';

/**
 * Step 3 of §4.2, C: D_SP{ID_T, SQn}_{C-MPASP}, at the MPASP. The paper's
 * client decrypts the challenge with the mPIN; here the challenge is released
 * only through an OPAQUE login with the mPIN bound to ID_T, which the MPASP
 * counts twice: against the client's mPIN (5 in a row, then blocked, as the
 * channel login) and against this challenge (the core's
 * `challenge_open_failed`: after `challengeOpenTriesMax`, 3, the challenge is
 * deleted, MACRO_CHALLENGE_DELETED, §3 "If the client tries to decrypt the
 * message more than 3 times, the message will be deleted").
 *
 *   POST /macro/payments/:transactionId/challenge/openings {startLoginRequest}
 *     → 201 {openingId, loginResponse, expiresAt}
 *   POST /macro/payments/:transactionId/challenge/openings/:openingId/finish {finishLoginRequest | null}
 *     → 201 {challenge}: ChallengeContent in a JWE (dir, A256GCM) under the
 *       payment's channel key, kid ID_T
 *
 * Every try is counted before anything that tests a guess is answered: an
 * opening left unfinished counts as a failed try when the next one starts
 * (or when its finish comes too late).
 */
export interface StartedChallengeOpening {
  readonly openingId: string;
  readonly loginResponse: string;
  readonly expiresAt: string;
}

type Outcome<T> = { readonly kind: 'refused'; readonly code: ErrorCode } | ({ readonly kind: 'done' } & T);

function refused(code: ErrorCode): { kind: 'refused'; code: ErrorCode } {
  return { kind: 'refused', code };
}

/** Why a payment takes no opening: the core's refusals (the tries ran out, T_EXP passed), else the state. */
function refusalOf(payment: MacroPayment): ErrorCode {
  if (payment.state === 'tries_exhausted' || payment.state === 'expired') {
    return payment.outcome ?? 'PAYMENT_STATE_INVALID';
  }
  return 'PAYMENT_STATE_INVALID';
}

function checkIds(transactionId: string): void {
  if (!macroTransactionIdPattern.test(transactionId)) throw new MpayError('PAYMENT_UNKNOWN');
}

/**
 * The payment locked and ready for an opening: known, before T_EXP (else its
 * expiry is stored), challenged. A refusal otherwise.
 */
async function openable(
  sql: Sql,
  macro: MacroContext,
  transactionId: string,
  now: Date,
): Promise<{ kind: 'refused'; code: ErrorCode } | { kind: 'open'; stored: StoredMacroPayment }> {
  const stored = await lockMacroPayment(sql, transactionId);
  if (stored === undefined) return refused('PAYMENT_UNKNOWN');
  if (await expireIfDue(sql, macro, transactionId, stored.payment, now)) return refused('PAYMENT_EXPIRED');
  if (stored.payment.state !== 'challenged') return refused(refusalOf(stored.payment));
  return { kind: 'open', stored };
}

/** One failed opening, through the core: the payment after it (`tries_exhausted` once the tries ran out). */
async function countFailedOpening(
  sql: Sql,
  macro: MacroContext,
  transactionId: string,
  payment: MacroPayment,
  now: Date,
): Promise<MacroPayment> {
  const result = stepMacro(
    payment,
    { kind: 'challenge_open_failed', transactionId },
    now,
    coreMacroLimits(macro.limits),
  );
  await applyMacroStep(sql, transactionId, result, now);
  if (result.payment.state === 'tries_exhausted') {
    macro.gateway.log.warn({ transactionId }, 'macro challenge deleted after too many failed openings');
  }
  return result.payment;
}

export async function startChallengeOpening(
  macro: MacroContext,
  transactionId: string,
  startLoginRequest: string,
): Promise<StartedChallengeOpening> {
  checkIds(transactionId);
  if (!opaqueMessagePattern.test(startLoginRequest))
    throw new MpayError('REQUEST_INVALID', 'startLoginRequest');
  const { gateway, limits } = macro;
  const now = gateway.clock();
  const outcome = await gateway.database.transaction(
    async (sql): Promise<Outcome<StartedChallengeOpening>> => {
      const ready = await openable(sql, macro, transactionId, now);
      if (ready.kind === 'refused') return ready;
      let payment = ready.stored.payment;
      // An opening started and never finished was a try (its KE2 could test one guess).
      if ((await dropChallengeOpenings(sql, transactionId)) > 0) {
        payment = await countFailedOpening(sql, macro, transactionId, payment, now);
        if (payment.state !== 'challenged') return refused(refusalOf(payment));
      }
      const counted = await startCountedLogin(sql, macro, payment.clientId, startLoginRequest, now);
      if (counted.kind === 'blocked') return refused('MACRO_MPIN_BLOCKED');
      const openingId = randomUUID();
      const expiresAt = new Date(now.getTime() + limits.mpinLoginLifetimeSeconds * 1000);
      await insertChallengeOpening(
        sql,
        { openingId, transactionId, serverLoginState: counted.serverLoginState, expiresAt },
        now,
      );
      return {
        kind: 'done',
        openingId,
        loginResponse: counted.loginResponse,
        expiresAt: expiresAt.toISOString(),
      };
    },
  );
  // What the refusal made (a count, a block, the challenge deleted, the expiry) is committed before it is answered.
  if (outcome.kind === 'refused') throw new MpayError(outcome.code);
  return { openingId: outcome.openingId, loginResponse: outcome.loginResponse, expiresAt: outcome.expiresAt };
}

/**
 * Finishes an opening. Proved mPIN: the core's `challenge_opened`, the
 * channel key derived and kept with the payment, the challenge sealed with
 * it. Otherwise one failed try of the challenge (and of the mPIN, counted at
 * the start): MACRO_MPIN_REFUSED, MACRO_MPIN_BLOCKED at the mPIN's limit, or
 * MACRO_CHALLENGE_DELETED when this was the challenge's last try.
 */
export async function finishChallengeOpening(
  macro: MacroContext,
  transactionId: string,
  openingId: string,
  finishLoginRequest: string | null,
): Promise<{ challenge: string }> {
  checkIds(transactionId);
  if (!loginIdPattern.test(openingId)) throw new MpayError('MACRO_MPIN_REFUSED');
  if (finishLoginRequest !== null && !opaqueMessagePattern.test(finishLoginRequest)) {
    throw new MpayError('REQUEST_INVALID', 'finishLoginRequest');
  }
  const { gateway } = macro;
  const now = gateway.clock();
  const outcome = await gateway.database.transaction(async (sql): Promise<Outcome<{ challenge: string }>> => {
    const ready = await openable(sql, macro, transactionId, now);
    if (ready.kind === 'refused') return ready;
    const { stored } = ready;
    const payment = stored.payment;
    const taken = await takeChallengeOpening(sql, transactionId, openingId, now);
    if (taken.kind === 'unknown') return refused('MACRO_MPIN_REFUSED');
    if (taken.kind === 'expired') {
      const after = await countFailedOpening(sql, macro, transactionId, payment, now);
      return refused(after.state === 'challenged' ? 'MACRO_MPIN_REFUSED' : refusalOf(after));
    }
    const proved = await finishCountedLogin(
      sql,
      macro,
      payment.clientId,
      taken.serverLoginState,
      finishLoginRequest,
      now,
    );
    if (proved.kind !== 'proved') {
      const after = await countFailedOpening(sql, macro, transactionId, payment, now);
      // A block of the mPIN outlasts this payment: it is what the client must hear first.
      if (proved.kind === 'blocked') return refused('MACRO_MPIN_BLOCKED');
      return refused(after.state === 'challenged' ? 'MACRO_MPIN_REFUSED' : refusalOf(after));
    }
    if (stored.challenge === null)
      throw new Error('assertion failed: a challenged payment keeps its challenge');
    const channelKey = await derivePaymentChannelKey({
      sessionKey: proved.sessionKey,
      deviceSecret: proved.client.deviceSecret,
      clientId: payment.clientId,
      transactionId,
    });
    const result = stepMacro(
      payment,
      { kind: 'challenge_opened', transactionId },
      now,
      coreMacroLimits(macro.limits),
    );
    await applyMacroStep(sql, transactionId, result, now, { channelKey: channelKeyText(channelKey) });
    const challenge = await encryptDirect(JSON.stringify(stored.challenge), channelKey, {
      kid: transactionId,
    });
    return { kind: 'done', challenge };
  });
  if (outcome.kind === 'refused') throw new MpayError(outcome.code);
  return { challenge: outcome.challenge };
}
