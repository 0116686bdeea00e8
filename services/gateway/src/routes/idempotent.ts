import { parseIdempotencyKey, runIdempotent, sha256Hex } from '@mpay/http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';

/** Runs a POST once per Idempotency-Key (when the client sent one). */
export async function idempotent(
  context: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  statusCode: number,
  handle: () => Promise<unknown>,
  callerId = 'operator',
): Promise<unknown> {
  const key = parseIdempotencyKey(request.headers['idempotency-key']);
  if (key === undefined) return reply.status(statusCode).send(await handle());
  const scope = `${callerId} ${request.method} ${request.routeOptions.url}`;
  const stored = await runIdempotent(
    context.database,
    {
      scope,
      key,
      requestHash: await sha256Hex(
        `${request.url}\n${typeof request.body === 'string' ? request.body : JSON.stringify(request.body)}`,
      ),
    },
    async () => ({ statusCode, body: await handle() }),
  );
  return reply.status(stored.statusCode).send(stored.body);
}
