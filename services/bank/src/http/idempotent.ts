import {
  parseIdempotencyKey,
  rawBodyOf,
  respondIdempotently as respond,
  runIdempotent,
  type StoredResponse,
  sha256Hex,
} from '@mpay/http-server';
import type { Database } from '@mpay/storage';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { callerOf } from './authenticate.ts';

/** Every bank POST may carry an Idempotency-Key, scoped to the authenticated caller. */
export function respondIdempotently(
  database: Database,
  request: FastifyRequest,
  reply: FastifyReply,
  handle: () => Promise<StoredResponse>,
): Promise<FastifyReply> {
  return respond(database, request, reply, { scope: callerOf(request), rawBody: rawBodyOf(request) }, handle);
}

/**
 * Like `respondIdempotently`, for an answer that carries a secret the bank
 * must not keep (an enrolment code, kept only as its hash): the idempotency
 * store keeps and replays the answer without `secret`; only the first answer
 * adds it. A replay under the same key therefore creates nothing and reveals
 * nothing: a caller that lost the first answer asks again with a new key.
 */
export async function respondIdempotentlyWithSecret(
  database: Database,
  request: FastifyRequest,
  reply: FastifyReply,
  handle: () => Promise<StoredResponse & { secret: Record<string, unknown> }>,
): Promise<FastifyReply> {
  let secret: Record<string, unknown> | undefined;
  const run = async (): Promise<StoredResponse> => {
    const answer = await handle();
    secret = answer.secret;
    return { statusCode: answer.statusCode, body: answer.body };
  };
  const key = parseIdempotencyKey(request.headers['idempotency-key']);
  const stored =
    key === undefined
      ? await run()
      : await runIdempotent(
          database,
          {
            scope: callerOf(request),
            key,
            requestHash: await sha256Hex(`${request.method} ${request.url}\n${rawBodyOf(request)}`),
          },
          run,
        );
  const body = stored.body as Record<string, unknown>;
  return reply.status(stored.statusCode).send(secret === undefined ? body : { ...body, ...secret });
}
