import { MpayError } from '@mpay/protocol';
import { openSmsInbox, type StoredSms } from '@mpay/sms';

/**
 * The SMS the bank sends the customer's registered number, read from the
 * platform's embedded SMS gateway (`<data>/sms`, as `mpay sms` shows them):
 * the one-time login code (the "phone number" factor) and the key renewal
 * notice. Only messages that arrived after the caller's snapshot count, so an
 * old code is never taken for the new login's.
 */

/** "xbank: your mobile banking login code is 123456. It expires in 5 minutes. Never share it." */
const loginCodePattern = /^([a-z0-9][a-z0-9-]{0,62}): your mobile banking login code is ([0-9]{6,9})\./;
/** "xbank: your mobile banking key expires on 2027-01-01. Open the app to renew it (notice 1a2b3c4d)." */
const renewalNoticePattern =
  /^([a-z0-9][a-z0-9-]{0,62}): your mobile banking key .*\(notice ([0-9a-f]{8})\)\.$/;

/** How often the inbox is read while a message is awaited. */
export const smsPollIntervalMs = 200;
/** How long a login waits for its code to arrive (the code itself is good for 5 minutes). */
export const loginCodeWaitMs = 60_000;

/** The code of a login-code SMS from `bankId`, or undefined for any other text. */
export function loginCodeOf(text: string, bankId: string): string | undefined {
  const match = loginCodePattern.exec(text);
  return match !== null && match[1] === bankId ? match[2] : undefined;
}

/** The notice id prefix of a renewal-notice SMS from `bankId`, or undefined for any other text. */
export function renewalNoticePrefixOf(text: string, bankId: string): string | undefined {
  const match = renewalNoticePattern.exec(text);
  return match !== null && match[1] === bankId ? match[2] : undefined;
}

/** The ids of the messages to `msisdn` already there: what a wait for a new one ignores. */
export async function smsSnapshot(smsDir: string, msisdn: string): Promise<ReadonlySet<string>> {
  return new Set((await openSmsInbox(smsDir).list(msisdn)).map((sms) => sms.id));
}

/**
 * The first message to `msisdn` not in `seen` that `accept` takes (its
 * answer is returned), waiting up to `deadlineMs`: SERVICE_UNAVAILABLE
 * naming what it waited for afterwards.
 */
export async function awaitSms<T>(
  input: {
    readonly smsDir: string;
    readonly msisdn: string;
    readonly seen: ReadonlySet<string>;
    readonly what: string;
    readonly deadlineMs: number;
  },
  accept: (sms: StoredSms) => T | undefined,
): Promise<{ readonly sms: StoredSms; readonly value: T }> {
  const inbox = openSmsInbox(input.smsDir);
  const deadline = Date.now() + input.deadlineMs;
  for (;;) {
    // Oldest first: of two new codes (two logins at once), the first sent is this login's more often.
    const fresh = (await inbox.list(input.msisdn)).filter((sms) => !input.seen.has(sms.id)).reverse();
    for (const sms of fresh) {
      const value = accept(sms);
      if (value !== undefined) return { sms, value };
    }
    if (Date.now() >= deadline)
      throw new MpayError(
        'SERVICE_UNAVAILABLE',
        `no ${input.what} to ${input.msisdn} in ${input.smsDir} within ${input.deadlineMs} ms (is the platform's embedded SMS gateway in use, MPAY_SMS_URL unset?)`,
      );
    await new Promise((done) => setTimeout(done, smsPollIntervalMs));
  }
}
