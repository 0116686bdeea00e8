import { isMpayError, MpayError } from '@mpay/protocol';
import type { OpenedBankingRequest } from '../authentication-server/request.ts';
import type { BankingContext } from '../context.ts';
import { keyManagementLimits } from './limits.ts';
import { sendDueNoticeSms, sendNoticeSmsNow } from './sms-outbox.ts';
import {
  insertRenewalNotice,
  type RenewalNoticeRecord,
  type RenewalTarget,
  selectDueRenewalTargets,
  selectOpenRenewalNotice,
  selectRenewalNotice,
  selectRenewalTarget,
} from './store.ts';

// The notice's text lives with the outbox that sends it; callers know it from here.
export { renewalNoticeText } from './sms-outbox.ts';

/**
 * SA2pMP §4.3: "A key pair will eventually expire, and renewal of a key pair
 * must [be] initiated by the banking server. Once the server detects that
 * renewal is needed, a notice (such as SMS) must be sent to the mobile device
 * to generate a new key pair." The bank opens a notice on a binding (the
 * operator, or the worker as the binding nears its expiry), texts the
 * customer's registered MSISDN, and the device, at its next login, lists the
 * notice and answers it with `renew_key`.
 */

/** Who the worker's notices are created by. */
export const renewalNoticeWorker = 'key-management-server';

const reasonPattern = /^[^\p{Cc}]{1,200}$/u;

export interface IssuedRenewalNotice {
  readonly notice: RenewalNoticeRecord;
  /** false: the binding had an open notice already, which is answered (no second SMS). */
  readonly created: boolean;
  /** Whether the SMS went out now (false: the worker sends it; see sms-outbox.ts). */
  readonly texted: boolean;
}

function checkTarget(target: RenewalTarget | undefined, serial: string, now: Date): RenewalTarget {
  if (target === undefined)
    throw new MpayError('BANKING_DEVICE_UNKNOWN', `no banking device under ${serial}`);
  if (target.revokedAt !== undefined) throw new MpayError('KEY_BINDING_REVOKED', serial);
  const time = now.getTime();
  if (time < target.notBefore.getTime() || time >= target.notAfter.getTime()) {
    throw new MpayError('KEY_BINDING_EXPIRED', serial);
  }
  return target;
}

/**
 * Opens a renewal notice on the binding `serial` and texts the customer.
 * The binding must be a banking device's (BANKING_DEVICE_UNKNOWN), not
 * revoked (KEY_BINDING_REVOKED) and within its validity (KEY_BINDING_EXPIRED:
 * an expired key signs nothing, its device enrols again). One open notice per
 * binding: when it has one, that notice is answered (`created` false) and no
 * second SMS goes out. The notice is stored with its SMS due (the outbox,
 * sms-outbox.ts) and the SMS is sent once after the commit; when the gateway
 * does not take it, or the process stops first, the notice stands and the
 * worker sends the SMS.
 */
export async function issueRenewalNotice(
  context: BankingContext,
  request: { readonly serial: string; readonly reason: string; readonly createdBy: string },
  now: Date,
): Promise<IssuedRenewalNotice> {
  if (!reasonPattern.test(request.reason) || request.reason.trim() !== request.reason) {
    throw new MpayError('REQUEST_INVALID', 'reason: 1-200 characters, no control characters, trimmed');
  }
  const id = context.newId();
  const decided = await context.database.transaction(async (sql) => {
    const target = checkTarget(await selectRenewalTarget(sql, request.serial), request.serial, now);
    const created = await insertRenewalNotice(
      sql,
      { id, serial: target.serial, reason: request.reason, createdBy: request.createdBy },
      now,
    );
    const notice = created
      ? await selectRenewalNotice(sql, id)
      : await selectOpenRenewalNotice(sql, target.serial);
    // Not created and none open: a renewal completed the open notice meanwhile, revoking the binding.
    if (notice === undefined) throw new MpayError('KEY_BINDING_REVOKED', request.serial);
    return { target, notice, created };
  });
  const { target, notice, created } = decided;
  if (!created) return { notice, created, texted: false };
  context.log.info(
    { noticeId: notice.id, serial: notice.serial, partyId: target.partyId, createdBy: notice.createdBy },
    'renewal notice issued',
  );
  const texted = await sendNoticeSmsNow(context, notice.id, now);
  return { notice, created, texted };
}

/**
 * One pass of the key management server: sends the due SMS of open notices
 * (the outbox: those the gateway did not take or a stopped process did not
 * send; never one of a completed notice or a revoked binding), then issues a
 * notice (and its SMS) for every banking device's binding that is active,
 * not revoked, expires within `renewalNoticeDays` and never had a notice,
 * soonest expiry first, at most `renewalNoticesPerPassMax`. A binding that cannot get one (revoked in the
 * meantime) is logged and skipped: one binding never stops the pass. Returns
 * how many notices it issued.
 */
export async function sendDueRenewalNotices(context: BankingContext, now: Date): Promise<number> {
  await sendDueNoticeSms(context, now);
  const horizon = new Date(now.getTime() + context.banking.limits.renewalNoticeDays * 86_400_000);
  const due = await selectDueRenewalTargets(
    context.database,
    now,
    horizon,
    keyManagementLimits.renewalNoticesPerPassMax,
  );
  let issued = 0;
  for (const target of due) {
    try {
      const reason = `key expires on ${target.notAfter.toISOString().slice(0, 10)}`;
      const outcome = await issueRenewalNotice(
        context,
        { serial: target.serial, reason, createdBy: renewalNoticeWorker },
        now,
      );
      if (outcome.created) issued += 1;
    } catch (error) {
      context.log.warn(
        { serial: target.serial, error: isMpayError(error) ? error.code : String(error) },
        'renewal notice not issued',
      );
    }
  }
  return issued;
}

/**
 * The `renewal_notices` request: the open notices of the session's binding
 * (at most one), `{notices: [{noticeId, serial, reason, createdAt}]}`.
 */
export async function listRenewalNotices(
  context: BankingContext,
  opened: OpenedBankingRequest,
  _now: Date,
): Promise<Readonly<Record<string, unknown>>> {
  if (opened.request.kind !== 'renewal_notices')
    throw new Error('assertion failed: a renewal_notices request');
  const notice = await selectOpenRenewalNotice(context.database, opened.serial);
  const notices =
    notice === undefined
      ? []
      : [
          {
            noticeId: notice.id,
            serial: notice.serial,
            reason: notice.reason,
            createdAt: notice.createdAt.toISOString(),
          },
        ];
  return { notices };
}
