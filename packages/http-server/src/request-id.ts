import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { requestIdHeader, requestIdPattern, setRequestIdSource } from '@mpay/http-client';

/**
 * The request id of the work in progress, per async context: set for each
 * request a server answers (createHttpServer), or by `withRequestId` for
 * background work (an outbox delivery names its payment). Calls made with
 * @mpay/http-client within that work carry it as `x-request-id`.
 */
const current = new AsyncLocalStorage<string>();
setRequestIdSource(() => current.getStore());

/** Runs `work` as part of the piece of work `requestId` names. */
export function withRequestId<T>(requestId: string, work: () => T): T {
  return current.run(checkedRequestId(requestId), work);
}

function checkedRequestId(requestId: string): string {
  if (!requestIdPattern.test(requestId)) throw new RangeError('request id: 1..100 of [A-Za-z0-9._:-]');
  return requestId;
}

/** The id of an incoming request: its caller's `x-request-id` when well-formed, else a new one. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers[requestIdHeader];
  return typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID();
}

/** Runs the rest of a request's hooks and handler with its id as the current one. */
export function enterRequest(requestId: string, next: () => void): void {
  current.run(requestId, next);
}
