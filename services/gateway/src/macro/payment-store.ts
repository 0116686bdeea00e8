import { createHash } from 'node:crypto';
import {
  type ChallengeContent,
  type ClientBankRequestContent,
  createAmount,
  type ErrorCode,
  expiringMacroStates,
  isErrorCode,
  isFinalMacroState,
  isMacroState,
  type MacroPayment,
  type MacroStepResult,
  macroOutcomeAwaitingState,
  parseChallengeContent,
  type Sha256Digest,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';

/** ID_T as create_TranId makes it: a UUID version 7 (the migration's CHECK too). */
export const macroTransactionIdPattern =
  /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** SHA-256 from node:crypto, for the core's parsers. */
export const sha256: Sha256Digest = (data) => new Uint8Array(createHash('sha256').update(data).digest());

/**
 * A macro payment as the MPASP keeps it (migration 0007): the core's
 * MacroPayment, decoded once here, with the step-2 content and the channel
 * key of the opened challenge beside it.
 */
export interface StoredMacroPayment {
  readonly payment: MacroPayment;
  /** ID_T: never null once stored (steps 1 and 2 commit together). */
  readonly transactionId: string;
  /** E_SP{ID_T, T_iS, SQn}, until deleted (step 3) or the payment is final. */
  readonly challenge: ChallengeContent | null;
  /** base64url, until the payment is final; null before the challenge is opened. */
  readonly channelKey: string | null;
}

interface PaymentRow {
  transaction_id: string;
  client_id: string;
  request_id: string;
  mpasp_id: string;
  state: string;
  currency: string;
  amount_minor: string | number | bigint;
  transaction_data_hash: string;
  expires_at: Date | string;
  challenged_at: Date | string | null;
  challenge_open_failures: number;
  session_id: string | null;
  client_bank_id: string | null;
  merchant_id: string | null;
  merchant_bank_id: string | null;
  outcome: string | null;
  challenge: string | null;
  channel_key: string | null;
}

const paymentColumns = `transaction_id, client_id, request_id, mpasp_id, state, currency, amount_minor,
  transaction_data_hash, expires_at, challenged_at, challenge_open_failures, session_id, client_bank_id,
  merchant_id, merchant_bank_id, outcome, challenge, channel_key`;

function dateOrNull(value: Date | string | null): Date | null {
  return value === null ? null : new Date(value);
}

function storedOf(row: PaymentRow): StoredMacroPayment {
  if (!isMacroState(row.state)) throw new Error(`assertion failed: ${row.state} is a macro state`);
  const outcome: ErrorCode | null =
    row.outcome === null ? null : isErrorCode(row.outcome) ? row.outcome : null;
  if (row.outcome !== null && outcome === null)
    throw new Error('assertion failed: a stored outcome is a code');
  const payment: MacroPayment = Object.freeze({
    state: row.state,
    requestId: row.request_id,
    clientId: row.client_id,
    mpaspId: row.mpasp_id,
    amount: createAmount(row.currency, BigInt(row.amount_minor)),
    transactionDataHash: row.transaction_data_hash,
    expiresAt: new Date(row.expires_at),
    transactionId: row.transaction_id,
    challengedAt: dateOrNull(row.challenged_at),
    challengeOpenFailures: row.challenge_open_failures,
    sessionId: row.session_id,
    clientBankId: row.client_bank_id,
    merchantId: row.merchant_id,
    merchantBankId: row.merchant_bank_id,
    outcome,
  });
  return Object.freeze({
    payment,
    transactionId: row.transaction_id,
    challenge: row.challenge === null ? null : parseChallengeContent(JSON.parse(row.challenge), sha256),
    channelKey: row.channel_key,
  });
}

/** The payment, its row locked for the rest of the transaction; undefined when unknown. */
export async function lockMacroPayment(
  sql: Sql,
  transactionId: string,
): Promise<StoredMacroPayment | undefined> {
  const { rows } = await sql.query<PaymentRow>(
    `SELECT ${paymentColumns} FROM macro_payments WHERE transaction_id = $1 FOR UPDATE`,
    [transactionId],
  );
  return rows[0] === undefined ? undefined : storedOf(rows[0]);
}

export async function findMacroPayment(
  sql: Sql,
  transactionId: string,
): Promise<StoredMacroPayment | undefined> {
  const { rows } = await sql.query<PaymentRow>(
    `SELECT ${paymentColumns} FROM macro_payments WHERE transaction_id = $1`,
    [transactionId],
  );
  return rows[0] === undefined ? undefined : storedOf(rows[0]);
}

/** Payments of `clientId` still in the client's part (steps 1–6) and before T_EXP at `now`. */
export async function countOpenMacroPayments(sql: Sql, clientId: string, now: Date): Promise<number> {
  const { rows } = await sql.query<{ count: string | number }>(
    'SELECT count(*) AS count FROM macro_payments WHERE client_id = $1 AND state = ANY($2) AND expires_at > $3',
    [clientId, [...expiringMacroStates], now.toISOString()],
  );
  return Number(rows[0]?.count ?? 0);
}

/** Whether the client already sent a request with this id (a replayed step 1). */
export async function macroRequestSeen(sql: Sql, clientId: string, requestId: string): Promise<boolean> {
  const { rows } = await sql.query('SELECT 1 FROM macro_payments WHERE client_id = $1 AND request_id = $2', [
    clientId,
    requestId,
  ]);
  return rows.length > 0;
}

async function appendEvent(
  sql: Sql,
  transactionId: string,
  result: MacroStepResult,
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO macro_payment_events (transaction_id, step, transition, from_state, to_state, name, at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      transactionId,
      result.step,
      result.transition,
      result.from,
      result.payment.state,
      result.name,
      now.toISOString(),
    ],
  );
}

/**
 * Stores a new payment after steps 1 and 2 (startMacro, then stepMacro with
 * challenge_created), with both steps in its history and the challenge.
 */
export async function insertMacroPayment(
  sql: Sql,
  steps: readonly [MacroStepResult, MacroStepResult],
  challenge: ChallengeContent,
  now: Date,
): Promise<void> {
  const [requested, challenged] = steps;
  const payment = challenged.payment;
  if (
    requested.from !== null ||
    challenged.from !== requested.payment.state ||
    payment.transactionId === null
  ) {
    throw new Error('assertion failed: a new payment is stored after steps 1 and 2');
  }
  await sql.query(
    `INSERT INTO macro_payments (${paymentColumns}, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19)`,
    [
      payment.transactionId,
      payment.clientId,
      payment.requestId,
      payment.mpaspId,
      payment.state,
      payment.amount.currency,
      payment.amount.minor.toString(),
      payment.transactionDataHash,
      payment.expiresAt.toISOString(),
      payment.challengedAt?.toISOString() ?? null,
      payment.challengeOpenFailures,
      payment.sessionId,
      payment.clientBankId,
      payment.merchantId,
      payment.merchantBankId,
      payment.outcome,
      JSON.stringify(challenge),
      null,
      now.toISOString(),
    ],
  );
  await appendEvent(sql, payment.transactionId, requested, now);
  await appendEvent(sql, payment.transactionId, challenged, now);
}

/**
 * Persists one step of the core (stepMacro) on a locked payment: the fields
 * the step established, its state (guarded: the row must still be in the
 * step's `from` state), the event in the history, and its effects on what
 * the MPASP keeps: `delete_challenge` deletes the challenge and every opening
 * of it; a final state forgets the challenge and the channel key.
 * `channelKey` sets the key of an opened challenge.
 */
export async function applyMacroStep(
  sql: Sql,
  transactionId: string,
  result: MacroStepResult,
  now: Date,
  options: { readonly channelKey?: string } = {},
): Promise<void> {
  const payment = result.payment;
  const forget =
    isFinalMacroState(payment.state) || result.effects.some((effect) => effect.kind === 'delete_challenge');
  const updated = await sql.query(
    `UPDATE macro_payments SET state = $3, challenge_open_failures = $4, session_id = $5, client_bank_id = $6,
       merchant_id = $7, merchant_bank_id = $8, outcome = $9, updated_at = $10,
       challenge = CASE WHEN $11 THEN NULL ELSE challenge END,
       channel_key = CASE WHEN $11 THEN NULL ELSE coalesce($12, channel_key) END
     WHERE transaction_id = $1 AND state = $2`,
    [
      transactionId,
      result.from,
      payment.state,
      payment.challengeOpenFailures,
      payment.sessionId,
      payment.clientBankId,
      payment.merchantId,
      payment.merchantBankId,
      payment.outcome,
      now.toISOString(),
      forget,
      options.channelKey ?? null,
    ],
  );
  if (updated.rowCount !== 1) throw new Error(`assertion failed: the payment was in ${result.from}`);
  if (forget)
    await sql.query('DELETE FROM macro_challenge_openings WHERE transaction_id = $1', [transactionId]);
  await appendEvent(sql, transactionId, result, now);
}

export interface MacroPaymentEvent {
  readonly step: number;
  readonly transition: string;
  readonly fromState: string | null;
  readonly toState: string;
  readonly name: string;
}

/** The payment's history, in order. */
export async function macroPaymentEvents(sql: Sql, transactionId: string): Promise<MacroPaymentEvent[]> {
  const { rows } = await sql.query<{
    step: number;
    transition: string;
    from_state: string | null;
    to_state: string;
    name: string;
  }>(
    'SELECT step, transition, from_state, to_state, name FROM macro_payment_events WHERE transaction_id = $1 ORDER BY id',
    [transactionId],
  );
  return rows.map((row) => ({
    step: Number(row.step),
    transition: row.transition,
    fromState: row.from_state,
    toState: row.to_state,
    name: row.name,
  }));
}

// ---------------------------------------------------------------------------
// Openings of a challenge (step 3).

export async function insertChallengeOpening(
  sql: Sql,
  opening: { openingId: string; transactionId: string; serverLoginState: string; expiresAt: Date },
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO macro_challenge_openings (opening_id, transaction_id, server_login_state, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5)`,
    [
      opening.openingId,
      opening.transactionId,
      opening.serverLoginState,
      opening.expiresAt.toISOString(),
      now.toISOString(),
    ],
  );
}

/** Removes every opening of the payment; returns how many there were (unfinished: each a failed try). */
export async function dropChallengeOpenings(sql: Sql, transactionId: string): Promise<number> {
  const deleted = await sql.query('DELETE FROM macro_challenge_openings WHERE transaction_id = $1', [
    transactionId,
  ]);
  return deleted.rowCount;
}

/**
 * An opening of this payment taken for its one finish (deleted whatever the
 * outcome); 'unknown' if there is none by that id, 'expired' if its time passed.
 */
export async function takeChallengeOpening(
  sql: Sql,
  transactionId: string,
  openingId: string,
  now: Date,
): Promise<{ kind: 'taken'; serverLoginState: string } | { kind: 'unknown' } | { kind: 'expired' }> {
  const { rows } = await sql.query<{ server_login_state: string; expires_at: Date | string }>(
    `DELETE FROM macro_challenge_openings WHERE opening_id = $1 AND transaction_id = $2
     RETURNING server_login_state, expires_at`,
    [openingId, transactionId],
  );
  const row = rows[0];
  if (row === undefined) return { kind: 'unknown' };
  if (new Date(row.expires_at).getTime() <= now.getTime()) return { kind: 'expired' };
  return { kind: 'taken', serverLoginState: row.server_login_state };
}

// ---------------------------------------------------------------------------
// Wrong secret answers (step 5), per client across payments.

/** The client's count, locked for the rest of the transaction. */
export async function lockSecretAnswerTries(
  sql: Sql,
  clientId: string,
): Promise<{ failedAnswers: number; blocked: boolean }> {
  const { rows } = await sql.query<{ failed_answers: number; blocked_at: Date | string | null }>(
    'SELECT failed_answers, blocked_at FROM macro_secret_answer_tries WHERE client_id = $1 FOR UPDATE',
    [clientId],
  );
  const row = rows[0];
  return row === undefined
    ? { failedAnswers: 0, blocked: false }
    : { failedAnswers: row.failed_answers, blocked: row.blocked_at !== null };
}

/** Whether the client's macro payments are blocked for wrong answers. */
export async function secretAnswersBlocked(sql: Sql, clientId: string): Promise<boolean> {
  const { rows } = await sql.query(
    'SELECT 1 FROM macro_secret_answer_tries WHERE client_id = $1 AND blocked_at IS NOT NULL',
    [clientId],
  );
  return rows.length > 0;
}

/** Counts a wrong answer; blocks the client when the count reaches `failuresMax`. Returns whether it is blocked now. */
export async function recordWrongSecretAnswer(
  sql: Sql,
  clientId: string,
  failuresMax: number,
  now: Date,
): Promise<boolean> {
  const { rows } = await sql.query<{ failed_answers: number }>(
    `INSERT INTO macro_secret_answer_tries (client_id, failed_answers, last_failure_at) VALUES ($1, 1, $2)
     ON CONFLICT (client_id) DO UPDATE
       SET failed_answers = macro_secret_answer_tries.failed_answers + 1, last_failure_at = EXCLUDED.last_failure_at
     RETURNING failed_answers`,
    [clientId, now.toISOString()],
  );
  const failed = rows[0]?.failed_answers;
  if (failed === undefined) throw new Error('assertion failed: a wrong answer was counted');
  if (failed < failuresMax) return false;
  await sql.query(
    'UPDATE macro_secret_answer_tries SET blocked_at = $2 WHERE client_id = $1 AND blocked_at IS NULL',
    [clientId, now.toISOString()],
  );
  return true;
}

/** A valid answer: the count of wrong answers in a row starts again. */
export async function resetSecretAnswerTries(sql: Sql, clientId: string): Promise<void> {
  await sql.query('UPDATE macro_secret_answer_tries SET failed_answers = 0 WHERE client_id = $1', [clientId]);
}

// ---------------------------------------------------------------------------
// Step 6's message, prepared at step 5.

export async function insertClientBankRequest(
  sql: Sql,
  content: ClientBankRequestContent,
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO macro_client_bank_requests (session_id, transaction_id, client_bank_id, content, created_at)
     VALUES ($1, $2, $3, $4, $5)`,
    [content.sessionId, content.transactionId, content.to, JSON.stringify(content), now.toISOString()],
  );
}

export interface StoredClientBankRequest {
  readonly content: ClientBankRequestContent;
  readonly createdAt: Date;
  readonly sentAt: Date | null;
}

/** The prepared step-6 request of a payment (raw JSON parsed by the caller's parser of choice). */
export async function findClientBankRequest(
  sql: Sql,
  transactionId: string,
  parse: (value: unknown) => ClientBankRequestContent,
): Promise<StoredClientBankRequest | undefined> {
  const { rows } = await sql.query<{
    content: string;
    created_at: Date | string;
    sent_at: Date | string | null;
  }>('SELECT content, created_at, sent_at FROM macro_client_bank_requests WHERE transaction_id = $1', [
    transactionId,
  ]);
  const row = rows[0];
  return row === undefined
    ? undefined
    : {
        content: parse(JSON.parse(row.content)),
        createdAt: new Date(row.created_at),
        sentAt: dateOrNull(row.sent_at),
      };
}

/**
 * Payments past T_EXP at `now` still in a state T_EXP applies to, oldest first: the expiry sweep's batch.
 * Not `approval_requested`: whether the client approved in time is the client bank's to say, and the
 * step-12 watch (client-bank-outcome.ts) asks it before expiring such a payment.
 */
export async function dueMacroExpiries(sql: Sql, now: Date, batchSizeMax: number): Promise<string[]> {
  const { rows } = await sql.query<{ transaction_id: string }>(
    `SELECT transaction_id FROM macro_payments WHERE state = ANY($1) AND expires_at <= $2
     ORDER BY expires_at LIMIT $3`,
    [
      expiringMacroStates.filter((state) => state !== macroOutcomeAwaitingState),
      now.toISOString(),
      batchSizeMax,
    ],
  );
  return rows.map((row) => row.transaction_id);
}
