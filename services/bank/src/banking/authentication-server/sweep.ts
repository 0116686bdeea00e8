import { MpayError } from '@mpay/protocol';
import type { BankingContext } from '../context.ts';
import { endLapsedSessions } from './sessions-store.ts';

/** At most this many sessions and logins end in one pass by default; the next pass takes the rest. */
export const sessionSweepBatchMaxDefault = 500;

export interface SessionSweepOptions {
  /** How many sessions and logins one pass may end (a positive integer, at most 10 000). */
  readonly batchMax?: number | undefined;
}

/**
 * The bank worker's pass over banking sessions nobody can use any more: an
 * active session past its lifetime (limits.sessionLifetimeSeconds, its
 * expires_at) or idle for limits.sessionIdleSeconds is closed with reason
 * 'expired', a login past its lifetime is refused; in both the sealed
 * session key, the code's hash and OPAQUE's login state are erased. Requests
 * already refuse such a session (activeSession); this makes sure its key
 * does not stay stored. Bounded (`batchMax`); returns how many ended.
 */
export async function sweepBankingSessions(
  context: BankingContext,
  now: Date,
  options: SessionSweepOptions = {},
): Promise<number> {
  const batchMax = options.batchMax ?? sessionSweepBatchMaxDefault;
  if (!Number.isSafeInteger(batchMax) || batchMax < 1 || batchMax > 10_000) {
    throw new MpayError('REQUEST_INVALID', 'session sweep batchMax must be an integer in 1..10000');
  }
  const idleSince = new Date(now.getTime() - context.banking.limits.sessionIdleSeconds * 1000);
  const ended = await context.database.transaction((sql) => endLapsedSessions(sql, idleSince, batchMax, now));
  if (ended > 0) context.log.info({ ended }, 'banking sessions swept');
  return ended;
}
