import type { Sql } from '@mpay/storage';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { claimIdempotencyKey, storeIdempotentAnswer } from '../payments/idempotency.ts';
import { idempotencyClaim } from './payments.ts';

/**
 * Runs `work` in one transaction with the Idempotency-Key's claim and its
 * stored answer (when the client sent a key): the same request again gets the
 * first answer, even after a crash, and never runs twice.
 */
export async function answerOnce(
  context: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  scope: string,
  statusCode: number,
  work: (sql: Sql, now: Date) => Promise<unknown>,
): Promise<FastifyReply> {
  const claim = idempotencyClaim(request, scope);
  const now = context.clock();
  const answer = await context.database.transaction(async (sql) => {
    if (claim !== undefined) {
      const stored = await claimIdempotencyKey(sql, claim, now);
      if (stored !== undefined) return stored;
    }
    const body = await work(sql, now);
    const fresh = { statusCode, body };
    if (claim !== undefined) await storeIdempotentAnswer(sql, claim, fresh);
    return fresh;
  });
  return reply.code(answer.statusCode).send(answer.body);
}
