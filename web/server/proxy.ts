import { Readable } from 'node:stream';
import { sendError } from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Request headers passed on to a service; everything else (cookies, host, hop-by-hop) stays here. */
const forwardedRequestHeaders = [
  'accept',
  'authorization',
  'content-type',
  'idempotency-key',
  'last-event-id',
] as const;

/** Answer headers that belong to one hop only. */
const hopByHop: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-encoding',
  'upgrade',
  'proxy-connection',
  'trailer',
  'te',
]);

export interface ProxyOptions {
  /** Service name (the first path segment after /api) → its base URL on loopback. */
  readonly upstreams: Readonly<Record<string, string>>;
  /** Largest request body passed on. */
  readonly bodyLimitBytes: number;
}

/**
 * `/api/<service>/<path>` → `<service URL>/<path>`, streamed both ways (the
 * device's event stream included), so the pages talk to one origin and the
 * services keep their own checks: a signed request's method, path and body
 * reach the service exactly as the page signed them.
 */
export async function proxyServices(app: FastifyInstance, options: ProxyOptions): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: options.bodyLimitBytes },
      (_request, body, done) => done(null, body),
    );
    scope.all('/api/:service/*', (request, reply) => forward(request, reply, options));
  });
}

async function forward(
  request: FastifyRequest,
  reply: FastifyReply,
  options: ProxyOptions,
): Promise<FastifyReply> {
  const { service } = request.params as { service: string };
  const base = Object.hasOwn(options.upstreams, service) ? options.upstreams[service] : undefined;
  if (base === undefined) return sendError(reply, new MpayError('NOT_FOUND', 'no such service'));
  const rest = request.url.slice(`/api/${service}`.length);
  const headers: Record<string, string> = { 'x-forwarded-for': request.ip };
  for (const name of forwardedRequestHeaders) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const abort = new AbortController();
  // The answer's socket closing (the page went away, or the answer is done) ends the call upstream,
  // an event stream included. (The request's own 'close' fires once its body is read.)
  reply.raw.once('close', () => abort.abort());
  const body =
    Buffer.isBuffer(request.body) && request.body.length > 0 ? new Uint8Array(request.body) : undefined;
  let answer: Response;
  try {
    answer = await fetch(`${base}${rest}`, {
      method: request.method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal: abort.signal,
      redirect: 'manual',
    });
  } catch {
    return sendError(
      reply,
      new MpayError('SERVICE_UNAVAILABLE', `${service} unreachable`, { retryAfterSeconds: 1 }),
    );
  }
  reply.code(answer.status);
  answer.headers.forEach((value, name) => {
    if (!hopByHop.has(name)) reply.header(name, value);
  });
  if (answer.body === null) return reply.send();
  return reply.send(Readable.fromWeb(answer.body as import('node:stream/web').ReadableStream<Uint8Array>));
}
