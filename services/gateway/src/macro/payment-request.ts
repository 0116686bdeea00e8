import { randomBytes } from 'node:crypto';
import { decodeBase64url, decryptDirect, encryptDirect } from '@mpay/envelope';
import {
  createChallengeContent,
  createMacroPaymentStatus,
  createTranId,
  isMacroClientId,
  isMpayError,
  type MacroPayment,
  type MacroPaymentRequestBody,
  MpayError,
  macroIdRandomBytes,
  macroOutcomeAwaitingState,
  macroStateMachine,
  parseMacroPaymentRequestBody,
  startMacro,
  stepMacro,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import {
  claimIdempotencyKey,
  type IdempotencyClaim,
  storeIdempotentAnswer,
} from '../payments/idempotency.ts';
import { deriveRequestKey } from './channel.ts';
import type { MacroContext } from './context.ts';
import { coreMacroLimits } from './limits.ts';
import {
  applyMacroStep,
  countOpenMacroPayments,
  dueMacroExpiries,
  findMacroPayment,
  insertMacroPayment,
  lockMacroPayment,
  macroRequestSeen,
  secretAnswersBlocked,
} from './payment-store.ts';
import { findMacroClient, lockLoginTries, type MacroClientRecord } from './store.ts';

/**
 * Steps 1 and 2 of §4.2 at the MPASP:
 *
 *   1) C → MPASP: E_SP{ID_C, AmtInfo_c, h(TransactionData)}_{C-MPASP}
 *   2) ID_T = create_TranId(ID_C); MPASP → C: E_SP{ID_T, T_iS, SQn}_{C-MPASP}
 *
 * Step 1's E_SP is a compact JWE (`dir`, A256GCM) under the client's request
 * key (`deriveRequestKey`: the registration's device secret, no mPIN), `kid`
 * ID_C, of `MacroPaymentRequestBody`: the paper's content and the MSISDN that
 * identifies the mPIN client (§3). Step 2's challenge is stored, and released
 * only through a counted opening with the mPIN (challenge.ts): the 201 says
 * where to open it.
 */

export interface OpenedPaymentRequest {
  readonly client: MacroClientRecord;
  readonly body: MacroPaymentRequestBody;
}

/** A compact JWE's protected header is short: anything longer is not one of ours. */
const protectedHeaderLengthMax = 512;

/** The `kid` of a compact JWE, read before decryption only to find the client's key; undefined if unreadable. */
function unverifiedKid(jwe: string): string | undefined {
  const parts = jwe.split('.');
  if (parts.length !== 5 || parts[0] === undefined || parts[0].length > protectedHeaderLengthMax)
    return undefined;
  const bytes = decodeBase64url(parts[0]);
  if (bytes === undefined) return undefined;
  try {
    const header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as { kid?: unknown };
    return typeof header.kid === 'string' ? header.kid : undefined;
  } catch {
    return undefined;
  }
}

function authenticationFailed(): never {
  throw new MpayError('AUTHENTICATION_FAILED');
}

/**
 * Opens a step-1 message: the client named by its `kid`, its request key,
 * then the content. An unknown client, a message that does not open, a
 * content naming another client, or another MSISDN than the registered one
 * are one answer, AUTHENTICATION_FAILED: none says which. A content that
 * opens but is malformed is MESSAGE_INVALID (with its path); one for another
 * MPASP is PAYMENT_MESSAGE_MISMATCH.
 */
export async function openPaymentRequest(macro: MacroContext, jwe: string): Promise<OpenedPaymentRequest> {
  const { gateway } = macro;
  const clientId = unverifiedKid(jwe);
  if (!isMacroClientId(clientId)) authenticationFailed();
  const client = await findMacroClient(gateway.database, clientId);
  if (client === undefined) authenticationFailed();
  const key = await deriveRequestKey(client.deviceSecret, clientId);
  const plaintext = await decryptDirect(jwe, key, { kid: clientId }).catch(authenticationFailed);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch {
    throw new MpayError('MESSAGE_INVALID', 'json');
  }
  const body = parseMacroPaymentRequestBody(value);
  if (body.request.from !== clientId || body.msisdn !== client.msisdn) authenticationFailed();
  if (body.request.to !== gateway.fsp.id) throw new MpayError('PAYMENT_MESSAGE_MISMATCH', 'to');
  return { client, body };
}

export interface MacroAnswer {
  readonly statusCode: number;
  readonly body: unknown;
}

/** What the device needs after step 2: ID_T, T_iS, T_EXP and where to open the challenge. */
export function challengedAnswerOf(payment: MacroPayment): Record<string, unknown> {
  const transactionId = payment.transactionId;
  if (transactionId === null || payment.challengedAt === null) {
    throw new Error('assertion failed: the payment is challenged');
  }
  return {
    transactionId,
    requestId: payment.requestId,
    status: macroStateMachine[payment.state].publicStatus,
    step: macroStateMachine[payment.state].step,
    challengedAt: payment.challengedAt.toISOString(),
    expiresAt: payment.expiresAt.toISOString(),
    challengeOpenings: `/macro/payments/${transactionId}/challenge/openings`,
  };
}

/** A client whose mPIN or whose answers are blocked makes no new payment (it could not finish one). */
async function refuseBlockedClient(sql: Sql, clientId: string): Promise<void> {
  if ((await lockLoginTries(sql, clientId))?.blocked === true) throw new MpayError('MACRO_MPIN_BLOCKED');
  if (await secretAnswersBlocked(sql, clientId)) throw new MpayError('MACRO_SECRET_ANSWER_BLOCKED');
}

/**
 * Steps 1 and 2 in one transaction with the Idempotency-Key's claim: the
 * core accepts the request (startMacro: T_EXP = now + the lifetime), ID_T =
 * create_TranId(ID_C) and the challenge (stepMacro: challenge_created, T_iS
 * = now), both steps in the history. The same request under the same key
 * gets the first answer; a request id the client used before is
 * MESSAGE_REPLAYED; above `openPaymentsPerClientMax` open payments,
 * REQUEST_RATE_LIMITED.
 */
export async function requestMacroPayment(
  macro: MacroContext,
  opened: OpenedPaymentRequest,
  claim: IdempotencyClaim,
): Promise<MacroAnswer> {
  const { gateway, limits } = macro;
  const { client, body } = opened;
  const now = gateway.clock();
  const core = coreMacroLimits(limits);
  const answer = await gateway.database.transaction(async (sql) => {
    const stored = await claimIdempotencyKey(sql, claim, now);
    if (stored !== undefined) return stored;
    // One client's requests one at a time: the count of open payments below holds.
    await sql.query('SELECT 1 FROM macro_clients WHERE client_id = $1 FOR UPDATE', [client.clientId]);
    await refuseBlockedClient(sql, client.clientId);
    if (await macroRequestSeen(sql, client.clientId, body.request.requestId)) {
      throw new MpayError('MESSAGE_REPLAYED', 'requestId');
    }
    if ((await countOpenMacroPayments(sql, client.clientId, now)) >= limits.openPaymentsPerClientMax) {
      throw new MpayError('REQUEST_RATE_LIMITED', undefined, {
        retryAfterSeconds: limits.transactionLifetimeSeconds,
      });
    }
    const requested = startMacro(
      { kind: 'payment_request', receivedBy: 'MPASP', content: body.request },
      now,
      core,
    );
    const transactionId = createTranId(client.clientId, now, randomBytes(macroIdRandomBytes));
    const challenged = stepMacro(requested.payment, { kind: 'challenge_created', transactionId }, now, core);
    const challenge = createChallengeContent(challenged.payment, client.secretQuestion);
    await insertMacroPayment(sql, [requested, challenged], challenge, now);
    const fresh = { statusCode: 201, body: challengedAnswerOf(challenged.payment) };
    await storeIdempotentAnswer(sql, claim, fresh);
    return fresh;
  });
  gateway.log.info({ clientId: client.clientId }, 'macro payment requested');
  return answer;
}

/**
 * The client's view of its payment (GET /macro/payments/:transactionId):
 * `MacroPaymentStatusContent` sealed under the client's request key (`kid`
 * ID_C), so that only the registered device reads it and knows it is the
 * MPASP's. A payment past T_EXP reads as expired even before the sweep
 * stores it (the core's expiry, not persisted by a read).
 */
export async function sealedMacroPaymentStatus(
  macro: MacroContext,
  transactionId: string,
): Promise<{ transactionId: string; statusMessage: string }> {
  const { gateway } = macro;
  const now = gateway.clock();
  const stored = await findMacroPayment(gateway.database, transactionId);
  if (stored === undefined) throw new MpayError('PAYMENT_UNKNOWN');
  const client = await findMacroClient(gateway.database, stored.payment.clientId);
  if (client === undefined) throw new Error('assertion failed: a payment has its client');
  const payment = expiredView(stored.payment, now, macro);
  const key = await deriveRequestKey(client.deviceSecret, client.clientId);
  const statusMessage = await encryptDirect(JSON.stringify(createMacroPaymentStatus(payment, now)), key, {
    kid: client.clientId,
  });
  return { transactionId, statusMessage };
}

function expiredView(payment: MacroPayment, now: Date, macro: MacroContext): MacroPayment {
  // Waiting for the banks (steps 7–11): the client may have approved in time; the step-12 watch decides.
  if (payment.state === macroOutcomeAwaitingState) return payment;
  if (!macroStateMachine[payment.state].expires || now.getTime() < payment.expiresAt.getTime())
    return payment;
  return stepMacro(payment, { kind: 'expiry_due' }, now, coreMacroLimits(macro.limits)).payment;
}

/**
 * Stores the core's expiry of a locked payment if T_EXP has passed and the
 * state is one T_EXP applies to; returns whether it did.
 */
export async function expireIfDue(
  sql: Sql,
  macro: MacroContext,
  transactionId: string,
  payment: MacroPayment,
  now: Date,
): Promise<boolean> {
  if (!macroStateMachine[payment.state].expires || now.getTime() < payment.expiresAt.getTime()) return false;
  const result = stepMacro(payment, { kind: 'expiry_due' }, now, coreMacroLimits(macro.limits));
  await applyMacroStep(sql, transactionId, result, now);
  return true;
}

/** Background: the core's expiry for payments past T_EXP, a batch per round, each in its own transaction. */
export async function expireDueMacroPayments(macro: MacroContext): Promise<number> {
  const { gateway, limits } = macro;
  const now = gateway.clock();
  let expired = 0;
  for (const transactionId of await dueMacroExpiries(
    gateway.database,
    now,
    limits.housekeepingBatchSizeMax,
  )) {
    try {
      const done = await gateway.database.transaction(async (sql) => {
        const stored = await lockMacroPayment(sql, transactionId);
        return stored !== undefined && (await expireIfDue(sql, macro, transactionId, stored.payment, now));
      });
      if (done) expired += 1;
    } catch (error) {
      // One payment's failure does not stop the sweep; it is tried again next round.
      if (!isMpayError(error))
        gateway.log.error({ transactionId, error: String(error) }, 'macro expiry failed');
    }
  }
  return expired;
}
