import type { OutgoingMail } from '@mpay/mail';
import { isMacroClientId, isMacroEmail, isMpayError, macroMpinPattern, maskEmail } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import { type DeliveredRow, observeDeliveredAfterCommit } from '../payments/statistics.ts';

/**
 * The out-of-band channel of seed 002 §3: "For the registered clients, the
 * server sends client id and mPIN to the respective client mail". The mail is
 * an outbox effect (kind `macro_mail`), queued in the transaction that stores
 * the client, so that it is neither lost on a crash nor sent for a
 * registration that rolled back; the outbox retries it with backoff.
 *
 * The mPIN exists nowhere else: the MPASP keeps only its OPAQUE record. The
 * queued row is the one place it sits in clear, until the statement that
 * marks the mail delivered (or abandoned) erases it from the row.
 */
export interface RegistrationMail {
  readonly clientId: string;
  readonly to: string;
  readonly name: string;
  readonly mPin: string;
}

/** What the row keeps once the mail went out or was given up: no mPIN, no full address. */
interface ErasedMail {
  readonly clientId: string;
  readonly mailedTo: string;
  readonly mPinErased: true;
}

/** The queued row's payload: the client id and the mail as it will be sent (its text holds the mPIN). */
interface QueuedMail {
  readonly clientId: string;
  readonly mail: OutgoingMail;
}

/** Queues the mail in the caller's transaction (the one that stores the client). */
export async function queueRegistrationMail(
  sql: Sql,
  mail: RegistrationMail,
  wording: { readonly fspId: string; readonly loginFailuresMax: number },
  now: Date,
): Promise<void> {
  if (!isMacroClientId(mail.clientId) || !isMacroEmail(mail.to) || !macroMpinPattern.test(mail.mPin)) {
    throw new Error('assertion failed: a registration mail names a client id, an address and an mPIN');
  }
  const queued: QueuedMail = {
    clientId: mail.clientId,
    mail: registrationMailOf(mail, wording.fspId, wording.loginFailuresMax),
  };
  await sql.query(
    `INSERT INTO outbox (payment_id, kind, payload, next_attempt_at, created_at) VALUES ($1, 'macro_mail', $2, $3, $3)`,
    [mail.clientId, JSON.stringify(queued), now.toISOString()],
  );
}

/** The mail itself: plain text, the client id and the mPIN, and what the client must know about them. */
export function registrationMailOf(
  mail: RegistrationMail,
  fspId: string,
  loginFailuresMax: number,
): OutgoingMail {
  return {
    to: mail.to,
    subject: 'Your mpay client id and mPIN',
    text: [
      `Dear ${mail.name},`,
      '',
      `you are registered for mobile macro-payments with the MPASP ${fspId}.`,
      '',
      `  Client id: ${mail.clientId}`,
      `  mPIN:      ${mail.mPin}`,
      '',
      'Keep the mPIN secret and delete this mail once you have it: nobody from mpay or your bank will ever ask',
      `for it. After ${loginFailuresMax} wrong mPINs in a row your client id is blocked.`,
      '',
    ].join('\n'),
  };
}

/** A queued mail not yet sent (delivered and abandoned rows are never claimed again). */
function parseQueued(payload: string): QueuedMail {
  const value = JSON.parse(payload) as Partial<QueuedMail>;
  const mail = value.mail;
  if (
    typeof value.clientId !== 'string' ||
    typeof mail?.to !== 'string' ||
    typeof mail.subject !== 'string' ||
    typeof mail.text !== 'string'
  ) {
    throw new Error('assertion failed: a queued registration mail is unsent and whole');
  }
  return { clientId: value.clientId, mail: { to: mail.to, subject: mail.subject, text: mail.text } };
}

function erased(queued: QueuedMail): string {
  const kept: ErasedMail = {
    clientId: queued.clientId,
    mailedTo: maskEmail(queued.mail.to),
    mPinErased: true,
  };
  return JSON.stringify(kept);
}

/** Erases the mPIN of an abandoned mail (the outbox gave up on it): the client must register again. */
export async function eraseRegistrationMail(sql: Sql, outboxId: string): Promise<void> {
  const { rows } = await sql.query<{ payload: string }>(
    "SELECT payload FROM outbox WHERE id = $1 AND kind = 'macro_mail'",
    [outboxId],
  );
  const payload = rows[0]?.payload;
  if (payload === undefined || (JSON.parse(payload) as { mPinErased?: unknown }).mPinErased === true) return;
  await sql.query("UPDATE outbox SET payload = $2 WHERE id = $1 AND kind = 'macro_mail'", [
    outboxId,
    erased(parseQueued(payload)),
  ]);
}

/**
 * Sends one queued registration mail through the gateway's mailer. Accepted
 * by the relay: delivered, and the mPIN erased in the same statement. Refused
 * for good (MAIL_REJECTED, or a mail the mailer will not send): abandoned and
 * erased at once. Anything else (no mailer, MAIL_DELIVERY_FAILED) is thrown
 * for the outbox to retry with backoff.
 */
export async function deliverRegistrationMail(
  context: GatewayContext,
  row: { readonly id: string; readonly payload: string },
  now: Date,
): Promise<void> {
  const mailer = context.mailer;
  if (mailer === undefined) throw new Error('no mailer configured');
  const queued = parseQueued(row.payload);
  try {
    await mailer.send(queued.mail);
  } catch (error) {
    if (!isMpayError(error, 'MAIL_REJECTED') && !isMpayError(error, 'REQUEST_INVALID')) throw error;
    // Only by the start that holds the row (deliver.ts markFailed): another may have sent it since.
    await context.database.query(
      `UPDATE outbox SET abandoned_at = $2, attempts = attempts + 1, last_error = $3, payload = $4
       WHERE id = $1 AND lease_owner IS NOT DISTINCT FROM
         (SELECT boot_id FROM outbox_instances WHERE boot_id = $5::uuid)`,
      [row.id, now.toISOString(), error.code, erased(queued), context.outboxLeaseOwner ?? null],
    );
    context.log.warn(
      { outboxId: row.id, clientId: queued.clientId, code: error.code },
      'registration mail refused',
    );
    return;
  }
  const { rows } = await context.database.query<DeliveredRow>(
    `UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, last_error = NULL, payload = $3
     WHERE id = $1 AND delivered_at IS NULL
     RETURNING kind, created_at`,
    [row.id, now.toISOString(), erased(queued)],
  );
  observeDeliveredAfterCommit(context.database, context.statistics, rows, now);
}
