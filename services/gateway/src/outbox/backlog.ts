import type { Sql } from '@mpay/storage';

/**
 * How far behind the gateway's deliveries are: per kind of effect (device
 * push, bank order, webhook, log entry, refund order, macro mail) and for
 * the macro payment requests to client banks (while their session waits
 * for them), the rows still to deliver,
 * the oldest one's age, how many have failed at least once and how many
 * were given up. What an operator watches, and what /metrics exports.
 */
export interface OutboxBacklog {
  /** `outbox/<kind>` or the table's name. */
  readonly name: string;
  /** Not delivered yet and not given up. */
  readonly pending: number;
  /** Of those, the ones that failed at least once. */
  readonly retrying: number;
  /** Given up after their attempts (an operator looks at these). */
  readonly abandoned: number;
  /** Age of the oldest pending row at `now`; null when nothing waits. */
  readonly oldestPendingAgeSeconds: number | null;
}

/** The outbox's kinds (its CHECK constraint), listed even when empty so a chart has every line. */
export const outboxKinds = [
  'device_push',
  'bank_order',
  'webhook',
  'log_entry',
  'refund_order',
  'macro_mail',
] as const;

interface BacklogRow {
  name: string;
  pending: string;
  retrying: string;
  abandoned: string;
  oldest: Date | string | null;
}

function ageSeconds(oldest: Date | string | null, now: Date): number | null {
  if (oldest === null) return null;
  return Math.max(0, (now.getTime() - new Date(oldest).getTime()) / 1000);
}

export async function outboxBacklogs(sql: Sql, now: Date): Promise<OutboxBacklog[]> {
  const { rows } = await sql.query<BacklogRow>(
    // Each part through its partial index (outbox_due, outbox_abandoned): never the delivered rows.
    `SELECT 'outbox/' || kind AS name, count(*)::text AS pending,
       count(*) FILTER (WHERE attempts > 0)::text AS retrying, '0' AS abandoned, min(created_at) AS oldest
     FROM outbox WHERE delivered_at IS NULL AND abandoned_at IS NULL GROUP BY kind
     UNION ALL
     SELECT 'outbox/' || kind, '0', '0', count(*)::text, NULL
     FROM outbox WHERE abandoned_at IS NOT NULL AND delivered_at IS NULL GROUP BY kind
     UNION ALL
     SELECT 'macro_client_bank_requests',
       count(*)::text, count(*) FILTER (WHERE r.attempts > 0)::text, '0', min(r.created_at)
     FROM macro_client_bank_requests r JOIN macro_payments p ON p.transaction_id = r.transaction_id
     WHERE r.sent_at IS NULL AND p.state = 'session_created'`,
  );
  // An outbox has up to two rows: what waits, and what was given up.
  const byName = new Map<string, BacklogRow[]>();
  for (const row of rows) byName.set(row.name, [...(byName.get(row.name) ?? []), row]);
  const names = [...outboxKinds.map((kind) => `outbox/${kind}`), 'macro_client_bank_requests'];
  for (const name of byName.keys()) if (!names.includes(name)) names.push(name);
  return names.map((name) => {
    const parts = byName.get(name) ?? [];
    const sum = (field: 'pending' | 'retrying' | 'abandoned') =>
      parts.reduce((total, part) => total + Number(part[field]), 0);
    const oldest = parts.find((part) => part.oldest !== null)?.oldest ?? null;
    return {
      name,
      pending: sum('pending'),
      retrying: sum('retrying'),
      abandoned: sum('abandoned'),
      oldestPendingAgeSeconds: ageSeconds(oldest, now),
    };
  });
}

/** The log's refusals of a checkpoint (@mpay/log-client's CheckpointFollower), as markFailed records them. */
export const checkpointRefusals: readonly string[] = ['CHECKPOINT_FORK', 'CHECKPOINT_ROLLBACK'];

/**
 * Log entries still waiting whose last attempt met a checkpoint that does not
 * extend the one the gateway holds (a log that forked or went back): their
 * receipts stop until an operator looks. What /metrics exports as an alarm.
 */
export async function logCheckpointRefusals(sql: Sql): Promise<number> {
  const { rows } = await sql.query<{ count: string }>(
    `SELECT count(*)::text AS count FROM outbox
     WHERE kind = 'log_entry' AND delivered_at IS NULL AND abandoned_at IS NULL AND last_error = ANY($1)`,
    [checkpointRefusals],
  );
  return Number(rows[0]?.count ?? 0);
}
