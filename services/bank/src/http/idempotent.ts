import { respondIdempotently as respond, type StoredResponse } from '@mpay/http';
import type { Database } from '@mpay/storage';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { callerOf, rawBodyOf } from './authenticate.ts';

/** Every bank POST may carry an Idempotency-Key, scoped to the authenticated caller. */
export function respondIdempotently(
  database: Database,
  request: FastifyRequest,
  reply: FastifyReply,
  handle: () => Promise<StoredResponse>,
): Promise<FastifyReply> {
  return respond(database, request, reply, { scope: callerOf(request), rawBody: rawBodyOf(request) }, handle);
}
