import type { FastifyInstance } from 'fastify';
import { readBankOutboxBacklogs } from '../../metrics-outboxes.ts';
import { bankDocs } from '../answers.ts';
import type { RouteContext } from '../context.ts';

/** Settlement runs GET /settlements answers at most, newest first. */
export const settlementRunsListedMax = 100;

/**
 * The operator's views for the console (signed operator requests, in the
 * authenticated scope): GET /settlements → the settlement runs booked here,
 * newest first (amount positive: this bank paid the peer); GET /outboxes →
 * the backlog of each outbox with the age of its oldest row.
 */
export function registerOperationsRoutes(app: FastifyInstance, context: RouteContext): void {
  app.get('/settlements', { schema: bankDocs['GET /settlements'] }, async () => {
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
  app.get('/outboxes', { schema: bankDocs['GET /outboxes'] }, async () => ({
    outboxes: await readBankOutboxBacklogs(context.database, context.clock()),
  }));
}
