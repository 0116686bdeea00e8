import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.ts';

/** Settlement runs GET /settlements answers at most, newest first. */
export const settlementRunsListedMax = 100;

interface BacklogRow {
  name: string;
  pending: string;
  retrying: string;
  overdue: string;
  oldest: Date | string | null;
}

/**
 * What the bank still has to deliver, from the tables that are its outboxes:
 * payment and refund orders to peer banks (until the peer's signed answer),
 * banking transactions to the third-party log (until their receipt) and key
 * renewal notices by SMS. Per outbox: rows waiting, those that failed at
 * least once, those past their deadline, and the oldest one's creation.
 */
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

/**
 * The operator's views for the console (signed operator requests, in the
 * authenticated scope): GET /settlements → the settlement runs booked here,
 * newest first (amount positive: this bank paid the peer); GET /outboxes →
 * the backlog of each outbox with the age of its oldest row.
 */
export function registerOperationsRoutes(app: FastifyInstance, context: RouteContext): void {
  app.get('/settlements', async () => {
    const { rows } = await context.database.query<{
      id: string;
      peer: string;
      ledger: string;
      amount: string;
      transfer_id: string;
      created_at: Date | string;
    }>(
      `SELECT id::text AS id, peer, ledger, amount::text AS amount, transfer_id::text AS transfer_id, created_at
         FROM settlements ORDER BY created_at DESC, id DESC LIMIT $1`,
      [settlementRunsListedMax],
    );
    return {
      settlements: rows.map((row) => ({
        id: row.id,
        peer: row.peer,
        currency: row.ledger,
        amount: row.amount,
        transferId: row.transfer_id,
        createdAt: new Date(row.created_at).toISOString(),
      })),
    };
  });
  app.get('/outboxes', async () => {
    const now = context.clock();
    const { rows } = await context.database.query<BacklogRow>(backlogSql, [now.toISOString()]);
    return {
      outboxes: rows.map((row) => ({
        name: row.name,
        pending: Number(row.pending),
        retrying: Number(row.retrying),
        overdue: Number(row.overdue),
        oldestPendingAgeSeconds:
          row.oldest === null ? null : Math.max(0, (now.getTime() - new Date(row.oldest).getTime()) / 1000),
      })),
    };
  });
}
