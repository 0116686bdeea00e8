import { isMpayError } from '@mpay/protocol';
import type { BankingContext } from '../context.ts';
import { keyManagementLimits } from './limits.ts';

/**
 * The SMS of renewal notices that the gateway did not take, kept for the
 * worker to send again (with a doubling delay, `smsAttemptsMax` sends at
 * most).
 *
 * Kept in memory, per banking context: migration 0011 has no column that
 * says a notice's SMS went out, and this module adds nothing to the schema.
 * What that costs: an SMS still unsent when the process stops is not sent
 * again (the notice itself is stored and open, and the device lists it in its
 * `renewal_notices` request at its next login). With a `sms_sent_at` column
 * the worker would instead pick up every open notice whose SMS is unsent.
 */

export interface NoticeText {
  readonly noticeId: string;
  readonly serial: string;
  readonly to: string;
  readonly text: string;
}

interface UnsentText extends NoticeText {
  readonly attempts: number;
  readonly nextAttemptAtMs: number;
}

const outboxes = new WeakMap<object, Map<string, UnsentText>>();

function outboxOf(context: BankingContext): Map<string, UnsentText> {
  let outbox = outboxes.get(context.banking);
  if (outbox === undefined) {
    outbox = new Map();
    outboxes.set(context.banking, outbox);
  }
  return outbox;
}

function reasonOf(error: unknown): string {
  return isMpayError(error) ? error.code : 'error';
}

function retryDelayMs(attempts: number): number {
  const { smsRetryDelaySecondsMin, smsRetryDelaySecondsMax } = keyManagementLimits;
  const seconds = Math.min(smsRetryDelaySecondsMin * 2 ** Math.max(0, attempts - 1), smsRetryDelaySecondsMax);
  return seconds * 1000;
}

/** Queues a text for retry after its `attempts`-th failed send, or gives up on it at the limit. */
function keepForRetry(
  context: BankingContext,
  text: NoticeText,
  attempts: number,
  error: unknown,
  now: Date,
) {
  const outbox = outboxOf(context);
  const event = { noticeId: text.noticeId, serial: text.serial, attempts, error: reasonOf(error) };
  if (attempts >= keyManagementLimits.smsAttemptsMax) {
    outbox.delete(text.noticeId);
    context.alarm(event, 'renewal notice SMS not sent, given up (the notice stays open in the app)');
    return;
  }
  if (!outbox.has(text.noticeId) && outbox.size >= keyManagementLimits.smsUnsentMax) {
    const oldest = outbox.keys().next().value;
    if (oldest !== undefined) outbox.delete(oldest);
    context.alarm({ noticeId: oldest }, 'renewal notice SMS dropped: too many unsent');
  }
  // Delete first, so that the map's order stays the order of the next attempts' queueing.
  outbox.delete(text.noticeId);
  outbox.set(text.noticeId, { ...text, attempts, nextAttemptAtMs: now.getTime() + retryDelayMs(attempts) });
  context.log.warn(event, 'renewal notice SMS not sent; the worker sends it again');
}

/**
 * Sends a notice's SMS once (after the notice committed). A failure is kept
 * for the worker and answered false; it never fails the caller, since the
 * notice is stored either way.
 */
export async function sendNoticeText(context: BankingContext, text: NoticeText, now: Date): Promise<boolean> {
  try {
    await context.banking.sms.send({ to: text.to, text: text.text });
  } catch (error) {
    keepForRetry(context, text, 1, error, now);
    return false;
  }
  return true;
}

/**
 * Sends again the kept texts that are due (at most `smsRetriesPerPassMax`),
 * dropping those whose notice is no longer open (`isOpen`). Returns how many
 * went out.
 */
export async function retryUnsentTexts(
  context: BankingContext,
  now: Date,
  isOpen: (noticeId: string) => Promise<boolean>,
): Promise<number> {
  const outbox = outboxOf(context);
  const due = [...outbox.values()]
    .filter((text) => text.nextAttemptAtMs <= now.getTime())
    .slice(0, keyManagementLimits.smsRetriesPerPassMax);
  let sent = 0;
  for (const text of due) {
    if (!(await isOpen(text.noticeId))) {
      outbox.delete(text.noticeId);
      continue;
    }
    try {
      await context.banking.sms.send({ to: text.to, text: text.text });
    } catch (error) {
      keepForRetry(context, text, text.attempts + 1, error, now);
      continue;
    }
    outbox.delete(text.noticeId);
    sent += 1;
    context.log.info(
      { noticeId: text.noticeId, serial: text.serial, attempts: text.attempts + 1 },
      'renewal notice SMS sent',
    );
  }
  return sent;
}

/** The notices whose SMS waits for a retry (for tests and diagnostics). */
export function unsentNoticeIds(context: BankingContext): string[] {
  return [...outboxOf(context).keys()];
}
