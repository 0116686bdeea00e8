import { retryDelayMs } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { ShopContext } from '../context.ts';

/**
 * The shop's outbox: work decided in a transaction and done after it, with
 * retries. `payment_request` asks the FSP for an order's payment (iMS step 1);
 * `trade_claimed` and `refund_updated` hand a stored notification to its hook.
 */
export type OutboxKind = 'payment_request' | 'trade_claimed' | 'refund_updated';

export interface OutboxRow {
  readonly id: string;
  readonly kind: OutboxKind;
  /** The order id (payment_request) or the notification id (hooks). */
  readonly subject: string;
  readonly attempts: number;
}

/** A row queued for the request that queues it: leased to it for `forMs`, held by this start (`owner`). */
export interface OwnedRow {
  readonly forMs: number;
  /** This start's boot id (ShopContext.outboxLeaseOwner); undefined for an unnamed instance. */
  readonly owner: string | undefined;
}

/**
 * Queues work in the caller's transaction. `owned` leaves the row to the
 * request that queued it for that long (it delivers it at once); the
 * background takes it after that, e.g. when the process died in between,
 * or at once when its instance starts again (@mpay/storage's outbox-leases.ts).
 */
export async function enqueue(
  sql: Sql,
  kind: OutboxKind,
  subject: string,
  now: Date,
  owned?: OwnedRow,
): Promise<string> {
  const { rows } = await sql.query<{ id: string }>(
    `INSERT INTO outbox (kind, subject, next_attempt_at, created_at, lease_owner)
     VALUES ($1, $2, $3, $4, (SELECT boot_id FROM outbox_instances WHERE boot_id = $5::uuid))
     RETURNING id::text AS id`,
    [
      kind,
      subject,
      new Date(now.getTime() + (owned?.forMs ?? 0)).toISOString(),
      now.toISOString(),
      owned?.owner ?? null,
    ],
  );
  const id = rows[0]?.id;
  if (id === undefined) throw new Error('assertion failed: an outbox row was inserted');
  return id;
}

/**
 * Claims due rows by pushing their next attempt a lease into the future, so
 * that no other worker takes them while this one works; a worker that dies
 * leaves them due again after the lease, or at once when its instance starts
 * again (@mpay/storage's outbox-leases.ts).
 */
export async function claimDue(context: ShopContext, now: Date): Promise<OutboxRow[]> {
  const { rows } = await context.database.query<{
    id: string;
    kind: OutboxKind;
    subject: string;
    attempts: number;
  }>(
    `UPDATE outbox SET next_attempt_at = $1,
       lease_owner = (SELECT boot_id FROM outbox_instances WHERE boot_id = $4::uuid)
     WHERE id IN (SELECT id FROM outbox
                  WHERE delivered_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= $2
                  ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING id::text AS id, kind, subject, attempts`,
    [
      new Date(now.getTime() + context.limits.outboxLeaseMs).toISOString(),
      now.toISOString(),
      context.limits.outboxBatchSizeMax,
      context.outboxLeaseOwner ?? null,
    ],
  );
  return rows.map((row) => Object.freeze({ ...row, attempts: Number(row.attempts) }));
}

export async function markDelivered(sql: Sql, row: OutboxRow, now: Date): Promise<void> {
  const updated = await sql.query(
    `UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, last_error = NULL
     WHERE id = $1 AND delivered_at IS NULL`,
    [row.id, now.toISOString()],
  );
  if (updated.rowCount !== 1) throw new Error(`assertion failed: outbox row ${row.id} is delivered once`);
}

/**
 * A failed attempt: due again after a backoff, or abandoned once `attemptsMax` is reached. Only by
 * the start that holds the row (`outboxLeaseOwner`, none for an unnamed instance): one whose lease
 * ran out, and whose row another start took, changes nothing.
 */
export async function markFailed(
  context: ShopContext,
  row: OutboxRow,
  error: string,
  now: Date,
  attemptsMax = Number.POSITIVE_INFINITY,
): Promise<void> {
  const attempts = row.attempts + 1;
  if (attempts >= attemptsMax) {
    const updated = await context.database.query(
      `UPDATE outbox SET abandoned_at = $2, attempts = $3, last_error = $4,
         lease_owner = NULLIF(lease_owner, $5::uuid)
       WHERE id = $1 AND lease_owner IS NOT DISTINCT FROM (SELECT boot_id FROM outbox_instances WHERE boot_id = $5::uuid)`,
      [row.id, now.toISOString(), attempts, error.slice(0, 200), context.outboxLeaseOwner ?? null],
    );
    if (updated.rowCount !== 1) return;
    context.log.warn(
      { outboxId: row.id, kind: row.kind, subject: row.subject, error },
      'outbox work abandoned',
    );
    return;
  }
  const next = new Date(now.getTime() + retryDelayMs(attempts, context.limits));
  await context.database.query(
    `UPDATE outbox SET attempts = $2, last_error = $3, next_attempt_at = $4,
       lease_owner = NULLIF(lease_owner, $5::uuid)
     WHERE id = $1 AND lease_owner IS NOT DISTINCT FROM (SELECT boot_id FROM outbox_instances WHERE boot_id = $5::uuid)`,
    [row.id, attempts, error.slice(0, 200), next.toISOString(), context.outboxLeaseOwner ?? null],
  );
}
