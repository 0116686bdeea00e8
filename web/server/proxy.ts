import { Readable } from 'node:stream';
import { createGzip, constants as zlibConstants } from 'node:zlib';
import { fetchFor } from '@mpay/http-client';
import { acceptsGzip, eventStreamGzipOptions, sendError } from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Request headers passed on to a service; everything else (cookies, host, hop-by-hop) stays here. */
const forwardedRequestHeaders = [
  'accept',
  'authorization',
  'content-type',
  // A body in a content coding (the wallet's gzipped confirmation): passed on as sent, the service decodes it.
  'content-encoding',
  'idempotency-key',
  'last-event-id',
  // The certificates a wallet holds, when it opens its stream (@mpay/protocol deviceCertificatesHeader).
  'mpay-certificates',
] as const;

export interface ProxyOptions {
  /** Service name (the first path segment after /api) → its base URL on loopback. */
  readonly upstreams: Readonly<Record<string, string>>;
  /** Largest request body passed on. */
  readonly bodyLimitBytes: number;
  /**
   * Paths no page needs and the public must not reach through the pages' origin, for every
   * service (a path equal to one, or under it): the operators' APIs stay on loopback.
   */
  readonly refusedPaths?: readonly string[];
}

/** The operator's routes: the console's backend calls them on loopback, never through the proxy. */
export const operatorOnlyPaths: readonly string[] = ['/admin', '/metrics', '/outboxes', '/settlements'];

/**
 * Answer headers a page may see from a service; anything else (Set-Cookie on the
 * pages' origin, a service's own CORS or framing rules) stays behind.
 */
const passedAnswerHeaders: ReadonlySet<string> = new Set([
  'content-type',
  // The codings a service takes in request bodies (RFC 9110 §12.5.3): the wallet gzips its confirmation.
  'accept-encoding',
  'cache-control',
  'retry-after',
  'location',
  'etag',
  'last-modified',
  'idempotency-key',
  'idempotent-replayed',
]);

/** What every proxied answer carries, whatever the service sent: an API answer runs and loads nothing. */
const apiAnswerHeaders: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
};

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

/**
 * The service's URL for a request, or undefined when the request may not pass: the
 * request line must be a path (not an absolute URL), its first segment after /api
 * exactly the service's name (not an encoding of it), and the URL built from the
 * rest must stay on the service's own origin. The rest of the path is passed as
 * the page sent it, still encoded, because a signed request's path is signed so.
 */
export function upstreamUrlOf(
  rawUrl: string,
  service: string,
  options: Pick<ProxyOptions, 'upstreams' | 'refusedPaths'>,
): string | undefined {
  const base = Object.hasOwn(options.upstreams, service) ? options.upstreams[service] : undefined;
  const prefix = `/api/${service}/`;
  if (base === undefined || !rawUrl.startsWith(prefix)) return undefined;
  const rest = rawUrl.slice(prefix.length - 1);
  let target: URL;
  try {
    target = new URL(`${base}${rest}`);
  } catch {
    return undefined;
  }
  if (target.origin !== new URL(base).origin) return undefined;
  const path = target.pathname.toLowerCase();
  for (const refused of options.refusedPaths ?? [])
    if (path === refused || path.startsWith(`${refused}/`)) return undefined;
  return target.href;
}

async function forward(
  request: FastifyRequest,
  reply: FastifyReply,
  options: ProxyOptions,
): Promise<FastifyReply> {
  const { service } = request.params as { service: string };
  const url = upstreamUrlOf(request.raw.url ?? '', service, options);
  if (url === undefined) return sendError(reply, new MpayError('NOT_FOUND', 'no such service route'));
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
    answer = await fetchFor(undefined)(url, {
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
    if (passedAnswerHeaders.has(name)) reply.header(name, value);
  });
  for (const [name, value] of Object.entries(apiAnswerHeaders)) reply.header(name, value);
  if (answer.body === null) return reply.send();
  const answerBody = Readable.fromWeb(answer.body as import('node:stream/web').ReadableStream<Uint8Array>);
  // fetch decoded what the service gzipped; the page gets it gzipped again if it takes gzip (only what the
  // service chose to compress: its answers that are ciphertext, @mpay/http-server compression.ts).
  if (answer.headers.get('content-encoding') !== 'gzip') return reply.send(answerBody);
  reply.header('vary', 'accept-encoding');
  if (!acceptsGzip(request.headers['accept-encoding'])) return reply.send(answerBody);
  reply.header('content-encoding', 'gzip');
  return reply.send(gzippedAsItComes(answerBody));
}

/**
 * `source` gzipped, each chunk flushed as it comes (Z_SYNC_FLUSH): an event
 * of a device's stream reaches the page as soon as the service sent it.
 * Back-pressure passes through; an error of the source ends the output.
 */
export function gzippedAsItComes(source: Readable): Readable {
  const gzip = createGzip(eventStreamGzipOptions);
  source.on('data', (chunk: Buffer) => {
    if (!gzip.write(chunk)) {
      source.pause();
      gzip.once('drain', () => source.resume());
    }
    gzip.flush(zlibConstants.Z_SYNC_FLUSH);
  });
  source.once('end', () => gzip.end());
  source.once('error', (error) => gzip.destroy(error));
  gzip.once('close', () => source.destroy());
  return gzip;
}
