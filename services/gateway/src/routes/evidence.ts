import { pendingState } from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { logReceiptOf } from '../log/outbox.ts';
import { paymentOfParty } from '../payments/status.ts';
import { logReceipt } from './answers.ts';
import { authenticateOperator, authenticateParty } from './auth.ts';
import { paymentId } from './payments.ts';

/** 200 with the receipt file; 202 while the log has not proved the entry yet; 404 if it is not logged. */
async function answer(context: GatewayContext, id: string, reply: FastifyReply) {
  const logged = await logReceiptOf(context.database, id);
  if (!logged.queued) throw new MpayError('EVIDENCE_UNKNOWN');
  if (logged.receipt === undefined) return reply.code(202).send({ state: 'pending' });
  return reply.type('application/json').send(logged.receipt);
}

/**
 * The evidence of a payment's outcome (SA2pMP's non-repudiation): its signed
 * messages, the log entry's inclusion proof and a witness-cosigned checkpoint,
 * in the mpay-receipt/v1 file that `mpay log verify` checks offline. For the
 * payment's parties (signed request) and for the operator (`mpay dispute`).
 */
export function registerEvidenceRoutes(
  app: FastifyInstance,
  context: GatewayContext,
  operatorToken?: string,
) {
  const evidence = (summary: string) => ({
    summary,
    tags: ['evidence'],
    response: { 200: logReceipt, 202: { ...pendingState, description: 'The log has not proved it yet' } },
  });
  app.get(
    '/payments/:id/evidence',
    { schema: evidence("A payment's log receipt, for its parties") },
    async (request, reply) => {
      const caller = await authenticateParty(context, request);
      const id = paymentId(request);
      await paymentOfParty(context, id, caller.partyId);
      return answer(context, id, reply);
    },
  );
  app.get(
    '/admin/payments/:id/evidence',
    { schema: evidence("A payment's log receipt (operator)") },
    async (request, reply) => {
      authenticateOperator(operatorToken, request);
      return answer(context, paymentId(request), reply);
    },
  );
}
