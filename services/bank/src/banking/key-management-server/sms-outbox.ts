import { isMpayError } from '@mpay/protocol';
import type { BankingContext } from '../context.ts';
import { keyManagementLimits } from './limits.ts';
import {
  type ClaimedNoticeSms,
  claimNoticeSms,
  recordNoticeSmsFailure,
  recordNoticeSmsSent,
  retireStaleNoticeSms,
} from './store.ts';

/**
 * The SMS of renewal notices, a durable outbox kept in the notice's own row
 * (migration 0011, the sms_* columns): the notice is written with its SMS due
 * at once, in the notice's transaction; after the commit the issuer sends it
 * once, and the worker sends every due one again with a doubling delay,
 * `smsAttemptsMax` sends at most, until the gateway takes it. So an SMS
 * refused by the gateway, or not sent because the process stopped, is sent by
 * the next worker pass of any bank process on that database.
 *
 * Each send is preceded by a claim (store.ts `claimNoticeSms`) that moves the
 * next attempt past the send: two senders (the issuer and a worker, or two
 * bank processes on one PostgreSQL) never send one SMS both. What that costs:
 * a process that stops between the gateway's answer and the record leaves the
 * SMS due again once its claim ends, and it goes out a second time (at least
 * once, never lost).
 */

/** The outbox's own bound. */
export const noticeSmsOutbox = Object.freeze({
  /**
   * How long a claimed SMS is left alone by other senders: longer than one
   * send can take (@mpay/sms's sender times out after 10 s by default, 5
   * minutes at most). Also how long an SMS claimed by a process that stopped
   * waits before another sends it.
   */
  claimSeconds: 360,
});

/** The customer's SMS of a notice: the bank, the binding's expiry date (UTC) and the notice's first 8 characters. */
export function renewalNoticeText(bankId: string, notAfter: Date, noticeId: string): string {
  const date = notAfter.toISOString().slice(0, 10);
  return `${bankId}: your mobile banking key expires on ${date}. Open the app to renew it (notice ${noticeId.slice(0, 8)}).`;
}

/** The error's stable code: the only thing of it that is stored (its text may carry the number or the gateway's answer). */
function codeOf(error: unknown): string {
  return isMpayError(error) ? error.code : 'error';
}

function retryDelayMs(attempts: number): number {
  const { smsRetryDelaySecondsMin, smsRetryDelaySecondsMax } = keyManagementLimits;
  const seconds = Math.min(smsRetryDelaySecondsMin * 2 ** Math.max(0, attempts - 1), smsRetryDelaySecondsMax);
  return seconds * 1000;
}

function claimEnd(now: Date): Date {
  return new Date(now.getTime() + noticeSmsOutbox.claimSeconds * 1000);
}

/**
 * Sends a claimed SMS and records the outcome: sent, or one more failed
 * attempt due again after the backoff, or given up at `smsAttemptsMax` with
 * an operator alarm (the notice stays open: the app lists it at the next
 * login). Answers whether it went out.
 */
async function sendClaimed(context: BankingContext, claimed: ClaimedNoticeSms, now: Date): Promise<boolean> {
  const text = renewalNoticeText(context.bank.id, claimed.notAfter, claimed.noticeId);
  try {
    await context.banking.sms.send({ to: claimed.msisdn, text });
  } catch (error) {
    const attempts = claimed.attempts + 1;
    const event = { noticeId: claimed.noticeId, serial: claimed.serial, attempts, error: codeOf(error) };
    if (attempts >= keyManagementLimits.smsAttemptsMax) {
      await recordNoticeSmsFailure(context.database, claimed.noticeId, event.error, undefined);
      context.alarm(event, 'renewal notice SMS not sent, given up (the notice stays open in the app)');
    } else {
      const next = new Date(now.getTime() + retryDelayMs(attempts));
      await recordNoticeSmsFailure(context.database, claimed.noticeId, event.error, next);
      context.log.warn(event, 'renewal notice SMS not sent; the worker sends it again');
    }
    return false;
  }
  await recordNoticeSmsSent(context.database, claimed.noticeId, now);
  context.log.info(
    { noticeId: claimed.noticeId, serial: claimed.serial, attempts: claimed.attempts + 1 },
    'renewal notice SMS sent',
  );
  return true;
}

/**
 * Sends a new notice's SMS once, after the notice committed (its SMS due at
 * `now`). Never fails the caller, since the notice is stored either way: a
 * failure is recorded for the worker and answered false, as is an SMS that a
 * worker claimed first (that worker sends it).
 */
export async function sendNoticeSmsNow(
  context: BankingContext,
  noticeId: string,
  now: Date,
): Promise<boolean> {
  try {
    const claimed = await claimNoticeSms(context.database, now, claimEnd(now), noticeId);
    return claimed === undefined ? false : await sendClaimed(context, claimed, now);
  } catch (error) {
    context.log.warn(
      { noticeId, error: isMpayError(error) ? error.code : String(error) },
      'renewal notice SMS not sent now; the worker sends it',
    );
    return false;
  }
}

/**
 * The worker's part of the outbox: stops the due SMS of notices completed or
 * whose binding was revoked (a lost phone is not texted), then sends the due
 * SMS of open notices, one claim at a time, at most `smsRetriesPerPassMax`.
 * Returns how many went out.
 */
export async function sendDueNoticeSms(context: BankingContext, now: Date): Promise<number> {
  const retired = await retireStaleNoticeSms(context.database, now, keyManagementLimits.smsRetriesPerPassMax);
  for (const notice of retired) {
    context.log.info(notice, 'renewal notice SMS not sent: the notice is completed or its key revoked');
  }
  let sent = 0;
  for (let taken = 0; taken < keyManagementLimits.smsRetriesPerPassMax; taken += 1) {
    const claimed = await claimNoticeSms(context.database, now, claimEnd(now));
    if (claimed === undefined) break;
    if (await sendClaimed(context, claimed, now)) sent += 1;
  }
  return sent;
}
