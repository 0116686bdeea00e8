import { decryptWith } from '@mpay/envelope';
import { errorFromAnswer, isJsonObject, requestAnswer } from '@mpay/http-client';
import { submitMessages } from '@mpay/log-client';
import { isMpayError, MpayError, retryDelayMs } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { CustodyContext } from '../context.ts';
import { applyFspAnswer } from '../procedure/step10-receipt.ts';

export type EffectKind = 'fsp_registration' | 'fsp_answer' | 'log_entry';

interface EffectRow {
  id: string;
  kind: EffectKind;
  subject: string;
  payload: string;
  attempts: number;
}

/** Writes an effect in the caller's transaction; the outbox delivers it after the commit. */
export async function queueEffect(
  sql: Sql,
  kind: EffectKind,
  subject: string,
  payload: Readonly<Record<string, unknown>>,
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO outbox (kind, subject, payload, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $4)`,
    [kind, subject, JSON.stringify(payload), now.toISOString()],
  );
}

/**
 * Claims due rows (all, or one subject's of one kind) by pushing their next
 * attempt a lease into the future, so that no other worker takes them while
 * this one delivers; a worker that dies leaves them due again after the lease,
 * or at once when its instance starts again (@mpay/storage's outbox-leases.ts).
 */
async function claimDue(
  context: CustodyContext,
  only?: { kind: EffectKind; subject: string },
): Promise<EffectRow[]> {
  const now = context.clock();
  const { rows } = await context.database.query<EffectRow>(
    `UPDATE outbox SET next_attempt_at = $1,
       lease_owner = (SELECT boot_id FROM outbox_instances WHERE boot_id = $6::uuid)
     WHERE id IN (SELECT id FROM outbox
                  WHERE delivered_at IS NULL AND next_attempt_at <= $2
                    AND ($3::text IS NULL OR (kind = $3 AND subject = $4))
                  ORDER BY next_attempt_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
     RETURNING id::text AS id, kind, subject, payload, attempts`,
    [
      new Date(now.getTime() + context.limits.outboxLeaseMs).toISOString(),
      now.toISOString(),
      only?.kind ?? null,
      only?.subject ?? '',
      context.limits.outboxBatchSizeMax,
      context.outboxLeaseOwner ?? null,
    ],
  );
  return rows;
}

/**
 * Step 6 → 7: custody sends the customer's signed (or declined) message to
 * the FSP, as the customer's phone would, and reads the answer: a receipt
 * encrypted to custody's key (step 10), `authorised` while the bank has not
 * answered (asked again later), or a refusal (the FSP's outcome follows).
 */
async function sendToFsp(
  context: CustodyContext,
  payload: { paymentId: string; decision: 'confirm' | 'decline'; jwe: string },
): Promise<boolean> {
  const path = payload.decision === 'confirm' ? 'confirmation' : 'decline';
  const answer = await requestAnswer(`${context.fsp.url}/payments/${payload.paymentId}/${path}`, {
    body: payload.jwe,
    contentType: 'application/jose',
    timeoutMs: context.limits.callTimeoutMs,
    responseBytesMax: 64 * 1024,
  });
  if (answer.status >= 200 && answer.status < 300) {
    // An FSP that answers a success without an object is as one that did not answer: asked again.
    if (!isJsonObject(answer.body))
      throw new MpayError('SERVICE_UNAVAILABLE', 'FSP answer is not a JSON object');
    const body = answer.body as { status?: unknown; receipt?: unknown };
    if (typeof body.receipt === 'string') {
      const jws = new TextDecoder().decode(
        await decryptWith(body.receipt, [context.custody.encryption.privateJwk]),
      );
      await applyFspAnswer(context, payload.paymentId, 'receipt', jws);
      return true;
    }
    // Declined, or authorised and waiting for the bank: done for a decline, ask again for a confirmation.
    return payload.decision === 'decline';
  }
  const error = errorFromAnswer(answer.body, answer.status);
  if (error.category === 'retryable') throw error;
  // A decision or a final error: the FSP's signed outcome reaches the customer through step 10's channel.
  context.log.info(
    { paymentId: payload.paymentId, code: error.code },
    'the FSP refused the delegate message',
  );
  return true;
}

async function registerWithFsp(
  context: CustodyContext,
  subject: string,
  payload: { binding: string; displayName: string },
): Promise<boolean> {
  const answer = await requestAnswer(`${context.fsp.url}/customers`, {
    body: JSON.stringify(payload),
    contentType: 'application/json',
    headers: { 'idempotency-key': `custody-${subject}` },
    timeoutMs: context.limits.callTimeoutMs,
    responseBytesMax: 16 * 1024,
  });
  if (answer.status >= 200 && answer.status < 300) return true;
  throw errorFromAnswer(answer.body, answer.status);
}

/** A delegate signature to the third-party log, with custody's key id; its index is kept beside the signature. */
async function logSignature(
  context: CustodyContext,
  payload: { paymentId: string; partyId: string; kid: string; decision: string; jws: string },
): Promise<boolean> {
  const link = context.transactionLog;
  if (link === undefined) return true;
  const logged = await submitMessages(
    { url: link.url, origin: link.origin },
    { id: context.custody.id, key: context.custody.signing.privateJwk },
    {
      transactionId: payload.paymentId,
      messages: [payload.jws],
      kind: 'custody-delegate-signature',
      metadata: {
        custody: context.custody.id,
        kid: payload.kid,
        decision: payload.decision,
      },
    },
  );
  await context.database.query('UPDATE delegate_signatures SET log_index = $2 WHERE payment_id = $1', [
    payload.paymentId,
    logged.index.toString(),
  ]);
  return true;
}

async function deliver(context: CustodyContext, row: EffectRow): Promise<void> {
  const payload = JSON.parse(row.payload) as never;
  let done: boolean;
  let failure: string | undefined;
  try {
    switch (row.kind) {
      case 'fsp_registration':
        done = await registerWithFsp(context, row.subject, payload);
        break;
      case 'fsp_answer':
        done = await sendToFsp(context, payload);
        break;
      case 'log_entry':
        done = await logSignature(context, payload);
        break;
    }
  } catch (error) {
    done = false;
    failure = isMpayError(error) ? error.code : error instanceof Error ? error.message : 'error';
  }
  const now = context.clock();
  if (done) {
    await context.database.query(
      'UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1',
      [row.id, now.toISOString()],
    );
    return;
  }
  const attempts = row.attempts + 1;
  // Only by the start that holds the row: one whose lease ran out, and whose row another start took,
  // changes nothing (it would push that start's delivery back).
  await context.database.query(
    `UPDATE outbox SET attempts = $2, last_error = $3, next_attempt_at = $4,
       lease_owner = NULLIF(lease_owner, $5::uuid)
     WHERE id = $1 AND lease_owner IS NOT DISTINCT FROM (SELECT boot_id FROM outbox_instances WHERE boot_id = $5::uuid)`,
    [
      row.id,
      attempts,
      (failure ?? 'waiting').slice(0, 200),
      new Date(now.getTime() + retryDelayMs(attempts, context.limits)).toISOString(),
      context.outboxLeaseOwner ?? null,
    ],
  );
}

/** One round: every due effect (up to the batch size). Nothing is abandoned: each must reach its peer. */
export async function runOutboxRound(context: CustodyContext): Promise<number> {
  const rows = await claimDue(context);
  for (const row of rows) await deliver(context, row);
  return rows.length;
}

/**
 * Delivers one subject's effect of one kind now, and waits up to `waitMs`
 * while it is not done, asking again when its backoff lets it. A row another
 * worker holds (leased) is left to that worker: this only waits.
 */
export async function deliverNow(
  context: CustodyContext,
  kind: EffectKind,
  subject: string,
  waitMs: number,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const rows = await claimDue(context, { kind, subject });
    for (const row of rows) await deliver(context, row);
    const { rows: pending } = await context.database.query<{ next_attempt_at: Date | string }>(
      'SELECT next_attempt_at FROM outbox WHERE kind = $1 AND subject = $2 AND delivered_at IS NULL',
      [kind, subject],
    );
    const remainingMs = deadline - Date.now();
    if (pending.length === 0 || remainingMs <= 0) return;
    // Waiting for the FSP's answer (the bank behind it): until the row is due again, at least the base backoff.
    const dueInMs = new Date(pending[0]!.next_attempt_at).getTime() - context.clock().getTime();
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(remainingMs, Math.max(dueInMs, context.limits.outboxBackoffBaseMs))),
    );
  }
}
