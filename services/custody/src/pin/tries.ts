import type { Sql } from '@mpay/storage';
import type { CustodyContext } from '../context.ts';
import { appendInboxEvent } from '../procedure/inbox.ts';

export type TryClaim = 'counted' | 'blocked';

/**
 * Counts one PIN try for a customer before the server answers anything a
 * guess could be tested with: every started login is a failed try until its
 * finish succeeds. Atomic per customer across all devices and credentials,
 * so parallel starts cannot pass the limit. Tries older than the window
 * (no try at all for that long) are forgotten first. A customer with the
 * limit used up is blocked (and alerted, the first time).
 */
export async function claimTry(
  context: CustodyContext,
  sql: Sql,
  partyId: string,
  now: Date,
): Promise<TryClaim> {
  const windowStart = new Date(now.getTime() - context.limits.pinTriesWindowSeconds * 1000);
  const counted = await sql.query(
    `UPDATE customers
     SET failed_tries = CASE WHEN last_try_at IS NULL OR last_try_at < $3 THEN 1 ELSE failed_tries + 1 END,
         last_try_at = $4
     WHERE party_id = $1 AND blocked_at IS NULL
       AND (failed_tries < $2 OR last_try_at IS NULL OR last_try_at < $3)`,
    [partyId, context.limits.pinTriesMax, windowStart.toISOString(), now.toISOString()],
  );
  if (counted.rowCount === 1) return 'counted';
  await blockCustomer(context, sql, partyId, now);
  return 'blocked';
}

/**
 * A finish that failed (wrong PIN, wrong session, wrong message: the try was
 * counted at the start). With the limit reached the customer is blocked now,
 * so the last wrong PIN is the one that blocks.
 */
export async function recordFailure(
  context: CustodyContext,
  sql: Sql,
  partyId: string,
  now: Date,
): Promise<TryClaim> {
  const { rows } = await sql.query<{ failed_tries: number; blocked_at: Date | null }>(
    'SELECT failed_tries, blocked_at FROM customers WHERE party_id = $1 FOR UPDATE',
    [partyId],
  );
  const row = rows[0];
  if (row === undefined) return 'counted';
  if (row.blocked_at === null && row.failed_tries < context.limits.pinTriesMax) return 'counted';
  await blockCustomer(context, sql, partyId, now);
  return 'blocked';
}

/**
 * A successful PIN gives back its own try only. Other tries still counted
 * were someone's wrong PINs (or logins never finished): they stay counted
 * within the window, and the customer is told how many there were, so that
 * guesses between the owner's logins neither vanish nor go unnoticed.
 */
export async function giveBackTry(
  context: CustodyContext,
  sql: Sql,
  partyId: string,
  now: Date,
): Promise<void> {
  const { rows } = await sql.query<{ failed_tries: number }>(
    `UPDATE customers SET failed_tries = greatest(failed_tries - 1, 0)
     WHERE party_id = $1 AND blocked_at IS NULL RETURNING failed_tries`,
    [partyId],
  );
  const outstanding = rows[0]?.failed_tries ?? 0;
  if (outstanding === 0) return;
  await appendInboxEvent(context, sql, partyId, {
    event: 'alert',
    transactionId: `alert-${crypto.randomUUID()}`,
    forward: {
      event: 'alert',
      alert: { reason: `pin-failures:${outstanding}`, at: now.toISOString() },
    },
  });
}

/** Whether the customer is blocked now (the row locked until the caller's transaction ends). */
export async function isBlocked(sql: Sql, partyId: string): Promise<boolean> {
  const { rows } = await sql.query<{ blocked_at: Date | null }>(
    'SELECT blocked_at FROM customers WHERE party_id = $1 FOR UPDATE',
    [partyId],
  );
  return rows[0]?.blocked_at !== null && rows[0]?.blocked_at !== undefined;
}

async function blockCustomer(context: CustodyContext, sql: Sql, partyId: string, now: Date): Promise<void> {
  const blocked = await sql.query(
    'UPDATE customers SET blocked_at = $2 WHERE party_id = $1 AND blocked_at IS NULL',
    [partyId, now.toISOString()],
  );
  if (blocked.rowCount !== 1) return;
  context.log.warn({ partyId }, 'PIN blocked after too many failed tries; the customer is alerted');
  await appendInboxEvent(context, sql, partyId, {
    event: 'alert',
    transactionId: `alert-${crypto.randomUUID()}`,
    forward: {
      event: 'alert',
      alert: { reason: 'pin-blocked', at: now.toISOString() },
    },
  });
}

/** The customer's bank unblocks: the count starts again and the customer is told. */
export async function unblockCustomer(
  context: CustodyContext,
  sql: Sql,
  partyId: string,
  now: Date,
): Promise<boolean> {
  const unblocked = await sql.query(
    'UPDATE customers SET blocked_at = NULL, failed_tries = 0, last_try_at = NULL WHERE party_id = $1 AND blocked_at IS NOT NULL',
    [partyId],
  );
  if (unblocked.rowCount !== 1) return false;
  await appendInboxEvent(context, sql, partyId, {
    event: 'alert',
    transactionId: `alert-${crypto.randomUUID()}`,
    forward: { event: 'alert', alert: { reason: 'pin-unblocked', at: now.toISOString() } },
  });
  return true;
}
