import { respondIdempotently } from '@mpay/http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';

/** Runs a POST once per Idempotency-Key (when the client sent one), in the verified caller's scope. */
export function idempotent(
  context: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  statusCode: number,
  handle: () => Promise<unknown>,
  callerId = 'operator',
): Promise<FastifyReply> {
  const rawBody = typeof request.body === 'string' ? request.body : JSON.stringify(request.body ?? null);
  return respondIdempotently(context.database, request, reply, { scope: callerId, rawBody }, async () => ({
    statusCode,
    body: await handle(),
  }));
}
