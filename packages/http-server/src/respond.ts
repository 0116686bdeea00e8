import type { Database } from '@mpay/storage';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseIdempotencyKey, runIdempotent, type StoredResponse, sha256Hex } from './idempotency.ts';

/**
 * Answers a POST, at most once per Idempotency-Key when the client sent one:
 * the first response (or final error) is stored per caller scope and key and
 * replayed for the same method, path and body; the same key with another
 * request is IDEMPOTENCY_KEY_REUSED. `scope` names the verified caller, so one
 * caller can never claim or read another's keys.
 */
export async function respondIdempotently(
  database: Database,
  request: FastifyRequest,
  reply: FastifyReply,
  caller: { scope: string; rawBody: string },
  handle: () => Promise<StoredResponse>,
): Promise<FastifyReply> {
  const key = parseIdempotencyKey(request.headers['idempotency-key']);
  let response: StoredResponse;
  if (key === undefined) {
    response = await handle();
  } else {
    const requestHash = await sha256Hex(`${request.method} ${request.url}\n${caller.rawBody}`);
    response = await runIdempotent(database, { scope: caller.scope, key, requestHash }, handle);
  }
  return reply.status(response.statusCode).send(response.body);
}
