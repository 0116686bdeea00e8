import { isResolveRequest, type TransferRequest } from '@mpay/ledger';
import { assert, MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { lockAccounts } from './accounts.ts';
import { createTransferInTransaction, type TransferOutcome } from './create-transfer.ts';
import { selectAccountLimits } from './limits.ts';
import { selectTransfer } from './transfers.ts';

const dayMs = 24 * 60 * 60 * 1000;

/** The UTC calendar day that contains `now`, as [start, end). */
export function utcDayOf(now: Date): { start: Date; end: Date } {
  const startMs = Math.floor(now.getTime() / dayMs) * dayMs;
  return { start: new Date(startMs), end: new Date(startMs + dayMs) };
}

/**
 * What the account was debited on the UTC day of `now`: posted transfers and
 * posts of holds created that day, plus that day's holds still open at `now`
 * (not posted, voided or expired). A hold posted later counts on the day of
 * its post. Every debit counts, refunds and operator transfers included.
 */
export async function debitsOfDay(sql: Sql, accountId: string, now: Date): Promise<bigint> {
  const { start, end } = utcDayOf(now);
  const { rows } = await sql.query<{ debited: string }>(
    `SELECT COALESCE(sum(t.amount), 0)::text AS debited FROM transfers AS t
     WHERE t.debit_account_id = $1 AND t.created_at >= $2 AND t.created_at < $3
       AND (t.kind IN ('posted', 'post_pending')
         OR (t.kind = 'pending' AND t.expires_at > $4
           AND NOT EXISTS (SELECT 1 FROM transfers AS r WHERE r.pending_id = t.id)))`,
    [accountId, start.toISOString(), end.toISOString(), now.toISOString()],
  );
  return BigInt(rows[0]?.debited ?? '0');
}

/**
 * Refuses a debit of `amount` from `accountId` at `now` that would break the
 * account's limits: LIMIT_EXCEEDED with detail 'perTransactionMax' or
 * 'dailyDebitMax'. Call it inside the transaction that creates the debit,
 * after the account row is locked FOR UPDATE (both accounts of the transfer,
 * in id order, as `lockAccounts` does): the lock serializes the daily sum
 * with every other debit of the account, so concurrent debits cannot
 * together pass the daily limit. Locking only the debit account here could
 * deadlock against the ordered locks of create-transfer.ts; hence the
 * precondition instead of a lock of its own.
 */
export async function checkDebitLimits(
  sql: Sql,
  accountId: string,
  amount: bigint,
  now: Date,
): Promise<void> {
  assert(amount > 0n, 'a debit moves a positive amount');
  const limits = await selectAccountLimits(sql, accountId);
  if (limits.perTransactionMax !== undefined && amount > limits.perTransactionMax) {
    throw new MpayError('LIMIT_EXCEEDED', 'perTransactionMax');
  }
  if (limits.dailyDebitMax === undefined) return;
  if ((await debitsOfDay(sql, accountId, now)) + amount > limits.dailyDebitMax) {
    throw new MpayError('LIMIT_EXCEEDED', 'dailyDebitMax');
  }
}

/**
 * `createTransferInTransaction` for payment paths: a new posted or pending
 * transfer is checked against the debit account's limits under the account
 * locks; a retry of an existing transfer answers the original without a
 * check; a post or void of a hold is not checked again (the hold was).
 */
export async function createTransferWithinLimits(
  sql: Sql,
  request: TransferRequest,
  now: Date,
): Promise<TransferOutcome> {
  if (isResolveRequest(request) || (await selectTransfer(sql, request.id)) !== undefined) {
    return createTransferInTransaction(sql, request, now);
  }
  await lockAccounts(sql, request.debitAccountId, request.creditAccountId);
  // A concurrent request with the same id may have committed while we waited for the locks.
  if ((await selectTransfer(sql, request.id)) === undefined) {
    await checkDebitLimits(sql, request.debitAccountId, request.amount, now);
  }
  return createTransferInTransaction(sql, request, now);
}
