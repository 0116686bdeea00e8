import { parseIdempotencyKey, runIdempotent, type StoredResponse, sha256Hex } from '@mpay/http';
import type { Database } from '@mpay/storage';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { callerOf, rawBodyOf } from './authenticate.ts';

/**
 * Every POST may carry an Idempotency-Key: the first response (or final
 * error) is stored per caller and key and replayed for the same request;
 * the same key with another method, path or body is IDEMPOTENCY_KEY_REUSED.
 */
export async function respondIdempotently(
  database: Database,
  request: FastifyRequest,
  reply: FastifyReply,
  handle: () => Promise<StoredResponse>,
): Promise<FastifyReply> {
  const key = parseIdempotencyKey(request.headers['idempotency-key']);
  let response: StoredResponse;
  if (key === undefined) {
    response = await handle();
  } else {
    const requestHash = await sha256Hex(`${request.method} ${request.url}\n${rawBodyOf(request)}`);
    response = await runIdempotent(database, { scope: callerOf(request), key, requestHash }, handle);
  }
  return reply.status(response.statusCode).send(response.body);
}
