import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { outboxBacklogs } from '../outbox/backlog.ts';
import { outboxesAnswer } from './answers.ts';
import { authenticateOperator } from './auth.ts';

/**
 * GET /admin/outboxes (Bearer operator token): what the gateway still has to
 * deliver (device pushes, bank orders, merchants' webhooks, log entries,
 * refund orders, macro mails and client-bank requests): per outbox the rows
 * waiting, those retrying, those given up, and the oldest one's age.
 */
export function registerAdminOutboxRoutes(
  app: FastifyInstance,
  context: GatewayContext,
  operatorToken: string | undefined,
): void {
  app.get(
    '/admin/outboxes',
    {
      schema: {
        summary: 'What the gateway still has to deliver, per outbox (operator)',
        tags: ['operations'],
        response: { 200: outboxesAnswer },
      },
      preValidation: async (request) => authenticateOperator(operatorToken, request),
    },
    async () => ({
      service: context.fsp.id,
      outboxes: await outboxBacklogs(context.database, context.clock()),
    }),
  );
}
