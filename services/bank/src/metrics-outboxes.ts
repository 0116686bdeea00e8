import type { Sql } from '@mpay/storage';

/**
 * What the bank still has to deliver, from the tables that are its outboxes:
 * payment and refund orders to peer banks (until the peer's signed answer),
 * banking transactions to the third-party log (until their receipt) and key
 * renewal notices by SMS. Per outbox: rows waiting, those that failed at
 * least once, those past their deadline, and the oldest one's age. Read by
 * GET /outboxes (the console) and GET /metrics.
 */
export interface BankOutboxBacklog {
  readonly name: string;
  readonly pending: number;
  readonly retrying: number;
  /** Waiting rows past their deadline (orders only: the peer's answer after it is final either way). */
  readonly overdue: number;
  /** Age of the oldest waiting row at `now`; null when nothing waits. */
  readonly oldestPendingAgeSeconds: number | null;
}

interface BacklogRow {
  name: string;
  pending: string;
  retrying: string;
  overdue: string;
  oldest: Date | string | null;
}

const backlogSql = `
  SELECT 'payment_orders' AS name, count(*)::text AS pending,
    count(*) FILTER (WHERE attempts > 0)::text AS retrying,
    count(*) FILTER (WHERE deadline < $1)::text AS overdue, min(created_at) AS oldest
  FROM payment_orders WHERE state = 'sending'
  UNION ALL
  SELECT 'refund_orders', count(*)::text, count(*) FILTER (WHERE attempts > 0)::text,
    count(*) FILTER (WHERE deadline < $1)::text, min(created_at)
  FROM refund_orders WHERE state = 'sending'
  UNION ALL
  SELECT 'banking_transactions', count(*)::text, count(*) FILTER (WHERE attempts > 0)::text, '0', min(created_at)
  FROM banking_transactions WHERE receipt IS NULL
  UNION ALL
  SELECT 'banking_renewal_notices', count(*)::text, count(*) FILTER (WHERE sms_attempts > 0)::text, '0',
    min(created_at)
  FROM banking_renewal_notices WHERE sms_sent_at IS NULL`;

export async function readBankOutboxBacklogs(sql: Sql, now: Date): Promise<BankOutboxBacklog[]> {
  const { rows } = await sql.query<BacklogRow>(backlogSql, [now.toISOString()]);
  return rows.map((row) => ({
    name: row.name,
    pending: Number(row.pending),
    retrying: Number(row.retrying),
    overdue: Number(row.overdue),
    oldestPendingAgeSeconds:
      row.oldest === null ? null : Math.max(0, (now.getTime() - new Date(row.oldest).getTime()) / 1000),
  }));
}
