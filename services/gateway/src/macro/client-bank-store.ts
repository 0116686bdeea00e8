import {
  type ClientBankRequestContent,
  macroOutcomeAwaitingState,
  parseClientBankRequestContent,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { sha256 } from './payment-store.ts';

/**
 * The MPASP's side of steps 6 and 12 as stored (migrations 0007 and 0008):
 * one row per SID_T in macro_client_bank_requests, its step-6 delivery and
 * then the watch for the client bank's outcome. Rows are claimed by pushing
 * their next attempt a lease into the future (as the outbox does), so that
 * no other worker takes them while this one talks to the bank; no
 * transaction is held across a call to the bank.
 */

/** A step-6 request due for delivery, decoded once here. */
export interface DueClientBankRequest {
  readonly sessionId: string;
  readonly transactionId: string;
  readonly content: ClientBankRequestContent;
  readonly attempts: number;
}

/** Claims unsent requests of payments still in `session_created` (the sweep may have expired others). */
export async function claimDueClientBankRequests(
  sql: Sql,
  now: Date,
  leaseUntil: Date,
  batchSizeMax: number,
  leaseOwner?: string,
): Promise<DueClientBankRequest[]> {
  const { rows } = await sql.query<{
    session_id: string;
    transaction_id: string;
    content: string;
    attempts: number;
  }>(
    `UPDATE macro_client_bank_requests SET next_attempt_at = $1,
       request_lease_owner = (SELECT boot_id FROM outbox_instances WHERE boot_id = $4::uuid)
     WHERE session_id IN (
       SELECT r.session_id FROM macro_client_bank_requests r
       JOIN macro_payments p ON p.transaction_id = r.transaction_id
       WHERE r.sent_at IS NULL AND p.state = 'session_created'
         AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= $2)
       ORDER BY r.created_at LIMIT $3 FOR UPDATE OF r SKIP LOCKED)
     RETURNING session_id, transaction_id, content, attempts`,
    [leaseUntil.toISOString(), now.toISOString(), batchSizeMax, leaseOwner ?? null],
  );
  return rows.map((row) => {
    const content = parseClientBankRequestContent(JSON.parse(row.content), sha256);
    if (content.sessionId !== row.session_id || content.transactionId !== row.transaction_id)
      throw new Error('assertion failed: a stored request is its row’s');
    return {
      sessionId: row.session_id,
      transactionId: row.transaction_id,
      content,
      attempts: row.attempts,
    };
  });
}

/** The client bank answered step 6 (an approval request made, or failure_msg2): the watch of step 12 starts now. */
export async function markClientBankRequestSent(
  sql: Sql,
  sessionId: string,
  failureMsg2: string | null,
  now: Date,
): Promise<void> {
  const updated = await sql.query(
    `UPDATE macro_client_bank_requests
     SET sent_at = $2, attempts = attempts + 1, last_error = NULL, failure_msg2 = $3, next_check_at = $2
     WHERE session_id = $1 AND sent_at IS NULL`,
    [sessionId, now.toISOString(), failureMsg2],
  );
  if (updated.rowCount !== 1) throw new Error('assertion failed: the request was unsent');
}

/**
 * A failed attempt at step 6: due again at `nextAttemptAt`. Only by the start
 * that holds the request (`leaseOwner`, none for an unnamed instance): one
 * whose lease ran out, and whose request another start took, changes nothing.
 */
export async function markClientBankRequestFailed(
  sql: Sql,
  sessionId: string,
  error: string,
  nextAttemptAt: Date,
  leaseOwner?: string,
): Promise<void> {
  await sql.query(
    `UPDATE macro_client_bank_requests SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3,
       request_lease_owner = NULLIF(request_lease_owner, $4::uuid)
     WHERE session_id = $1 AND sent_at IS NULL AND request_lease_owner IS NOT DISTINCT FROM (SELECT boot_id FROM outbox_instances WHERE boot_id = $4::uuid)`,
    [sessionId, error.slice(0, 200), nextAttemptAt.toISOString(), leaseOwner ?? null],
  );
}

/** A payment whose client bank's outcome is due to be asked for (step 12). */
export interface WatchedClientBankOutcome {
  readonly sessionId: string;
  readonly transactionId: string;
  readonly clientBankId: string;
  readonly outcomeChecks: number;
}

/** Claims sent requests of payments still waiting for the banks (`approval_requested`) whose next check is due. */
export async function claimDueOutcomeChecks(
  sql: Sql,
  now: Date,
  leaseUntil: Date,
  batchSizeMax: number,
  leaseOwner?: string,
): Promise<WatchedClientBankOutcome[]> {
  const { rows } = await sql.query<{
    session_id: string;
    transaction_id: string;
    client_bank_id: string;
    outcome_checks: number;
  }>(
    `UPDATE macro_client_bank_requests SET next_check_at = $1,
       check_lease_owner = (SELECT boot_id FROM outbox_instances WHERE boot_id = $5::uuid)
     WHERE session_id IN (
       SELECT r.session_id FROM macro_client_bank_requests r
       JOIN macro_payments p ON p.transaction_id = r.transaction_id
       WHERE r.sent_at IS NOT NULL AND r.outcome_at IS NULL AND p.state = $4
         AND (r.next_check_at IS NULL OR r.next_check_at <= $2)
       ORDER BY r.next_check_at NULLS FIRST LIMIT $3 FOR UPDATE OF r SKIP LOCKED)
     RETURNING session_id, transaction_id, client_bank_id, outcome_checks`,
    [
      leaseUntil.toISOString(),
      now.toISOString(),
      batchSizeMax,
      macroOutcomeAwaitingState,
      leaseOwner ?? null,
    ],
  );
  return rows.map((row) => ({
    sessionId: row.session_id,
    transactionId: row.transaction_id,
    clientBankId: row.client_bank_id,
    outcomeChecks: row.outcome_checks,
  }));
}

/** The outcome is known (and stepped): the client bank's signed statement kept as evidence, the watch ends. */
export async function recordClientBankOutcome(
  sql: Sql,
  sessionId: string,
  statement: string | null,
  now: Date,
): Promise<void> {
  await sql.query(
    `UPDATE macro_client_bank_requests
     SET outcome_at = $2, outcome_statement = $3, outcome_checks = outcome_checks + 1, last_error = NULL
     WHERE session_id = $1 AND outcome_at IS NULL`,
    [sessionId, now.toISOString(), statement],
  );
}

/**
 * Not known yet (or not answered): asked again at `nextCheckAt`. Only by the
 * start that holds the check (`leaseOwner`, none for an unnamed instance):
 * one whose lease ran out, and whose check another start took, changes nothing.
 */
export async function rescheduleOutcomeCheck(
  sql: Sql,
  sessionId: string,
  reason: string,
  nextCheckAt: Date,
  leaseOwner?: string,
): Promise<void> {
  await sql.query(
    `UPDATE macro_client_bank_requests
     SET outcome_checks = outcome_checks + 1, last_error = $2, next_check_at = $3,
       check_lease_owner = NULLIF(check_lease_owner, $4::uuid)
     WHERE session_id = $1 AND outcome_at IS NULL AND check_lease_owner IS NOT DISTINCT FROM (SELECT boot_id FROM outbox_instances WHERE boot_id = $4::uuid)`,
    [sessionId, reason.slice(0, 200), nextCheckAt.toISOString(), leaseOwner ?? null],
  );
}

/**
 * At a start of the gateway instance whose last start was `previousBootId`
 * (@mpay/storage's startOutboxLeases, in its transaction): the step-6
 * requests and step-12 checks that start held are due now. Returns how many.
 */
export async function releaseMacroLeases(sql: Sql, previousBootId: string, now: Date): Promise<number> {
  const requests = await sql.query(
    `UPDATE macro_client_bank_requests SET next_attempt_at = $1, request_lease_owner = NULL
     WHERE request_lease_owner = $2 AND sent_at IS NULL AND next_attempt_at > $1`,
    [now.toISOString(), previousBootId],
  );
  const checks = await sql.query(
    `UPDATE macro_client_bank_requests SET next_check_at = $1, check_lease_owner = NULL
     WHERE check_lease_owner = $2 AND outcome_at IS NULL AND next_check_at > $1`,
    [now.toISOString(), previousBootId],
  );
  return requests.rowCount + checks.rowCount;
}

/** What the MPASP keeps of the client bank's answers for one payment (for tests and audits). */
export interface ClientBankExchange {
  readonly sentAt: Date | null;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly failureMsg2: string | null;
  readonly outcomeStatement: string | null;
  readonly outcomeAt: Date | null;
}

export async function findClientBankExchange(
  sql: Sql,
  transactionId: string,
): Promise<ClientBankExchange | undefined> {
  const { rows } = await sql.query<{
    sent_at: Date | string | null;
    attempts: number;
    last_error: string | null;
    failure_msg2: string | null;
    outcome_statement: string | null;
    outcome_at: Date | string | null;
  }>(
    `SELECT sent_at, attempts, last_error, failure_msg2, outcome_statement, outcome_at
     FROM macro_client_bank_requests WHERE transaction_id = $1`,
    [transactionId],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    sentAt: row.sent_at === null ? null : new Date(row.sent_at),
    attempts: row.attempts,
    lastError: row.last_error,
    failureMsg2: row.failure_msg2,
    outcomeStatement: row.outcome_statement,
    outcomeAt: row.outcome_at === null ? null : new Date(row.outcome_at),
  };
}
