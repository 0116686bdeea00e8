import type { IncomingMessage, ServerResponse } from 'node:http';
import { Http2ServerRequest, type Http2Session, constants as http2Constants } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket, Server as TlsServer } from 'node:tls';
import { type ErrorCode, isErrorCode, isMpayError, MpayError } from '@mpay/protocol';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { addAnswerCheck, installedAnswerChecker } from './answer-check.ts';
import { describeOnlySerializerCompiler, registerOpenApi } from './openapi.ts';
import { enterRequest, requestIdOf } from './request-id.ts';
import { requestCounterOf } from './request-meter.ts';
import { httpStatusOf } from './status.ts';
import { checkTlsPeers, httpsOptionsOf, reloadTlsOf, type ServerTls } from './tls.ts';

export interface HttpServerOptions {
  /** Service name, used in logs, the health endpoint and the OpenAPI document's title. */
  name: string;
  /** The API's version in GET /openapi.json (default: mpay's release, defaultApiVersion). */
  version?: string;
  bodyLimitBytes?: number;
  /** pino logger options; false silences the service. */
  logger?: boolean | { level: string };
  requestTimeoutMs?: number;
  /**
   * Most requests handled at once (integer, 1..1,000,000; default 256). Above
   * it the server answers 503 SERVICE_OVERLOADED at once instead of queueing.
   * A request counts from onRequest until its response is sent or its
   * connection closes; a hijacked reply (a Server-Sent Events stream) stops
   * counting when it is hijacked, its streams are limited where they are kept.
   */
  inFlightRequestsMax?: number;
  /** The Retry-After of the SERVICE_OVERLOADED answer, in seconds (integer, 1..3,600; default 1). */
  overloadRetryAfterSeconds?: number;
  /** What GET /ready checks (the database, …); none: ready whenever it answers. */
  readiness?: readonly ReadinessCheck[];
  /** How long /ready waits for its checks, in ms (integer, 10..60,000; default 2,000). */
  readinessDeadlineMs?: number;
  /** TLS, and mutual TLS on institution ports (tls.ts, built by @mpay/pki); absent: plain HTTP. */
  tls?: ServerTls;
  /**
   * HTTP/2 beside HTTP/1.1 on a TLS port (chosen by ALPN): one connection
   * carries a device's event stream and its requests at once, and HPACK sends
   * a header once per connection instead of with every request and answer.
   * Needs `tls` (browsers speak HTTP/2 only over TLS); default false.
   */
  http2?: boolean;
  /**
   * At close, how long requests under way may still finish, in ms (integer,
   * 0..600,000; default 5,000): then every connection still open is cut, so
   * that a peer that stopped reading (a proxy closed with requests pipelined
   * on its connection) cannot hold the close for minutes. Idle connections
   * are closed at once, new requests answered 503 meanwhile.
   */
  closeGraceMs?: number;
}

/** Streams one HTTP/2 connection may have open at once (a device needs its event stream and a request or two). */
export const http2StreamsPerConnectionMax = 32;

/** The largest header list an HTTP/2 request may carry: node:http's own bound for HTTP/1.1. */
export const http2HeaderListBytesMax = 16 * 1024;

/** The default of HttpServerOptions.closeGraceMs. */
export const defaultCloseGraceMs = 5_000;

/** One check of GET /ready: resolves when the part works, within the deadline. */
export interface ReadinessCheck {
  readonly name: string;
  readonly check: () => Promise<unknown>;
}

export const defaultReadinessDeadlineMs = 2_000;

/** mpay's release: every service of the monorepo ships with it (the workspaces' package version). */
export const defaultApiVersion = '0.1.0';

export const defaultBodyLimitBytes = 64 * 1024;
export const defaultInFlightRequestsMax = 256;
export const defaultOverloadRetryAfterSeconds = 1;
/** Retry-After of REQUEST_RATE_LIMITED and SERVICE_OVERLOADED when nothing more precise is known. */
export const defaultRetryAfterSeconds = 1;

/** Codes that always tell the client when to come back (RFC 9110 §10.2.3). */
const alwaysRetryAfter: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'REQUEST_RATE_LIMITED',
  'SERVICE_OVERLOADED',
]);

/**
 * Sends mpay's JSON error. The `Retry-After` header comes from the error's
 * hint, else from one already set on the reply (a rate limiter's), else, for
 * REQUEST_RATE_LIMITED and SERVICE_OVERLOADED, defaultRetryAfterSeconds.
 */
export function sendError(reply: FastifyReply, error: MpayError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) {
    reply.header('retry-after', String(error.retryAfterSeconds));
  } else if (alwaysRetryAfter.has(error.code) && !reply.hasHeader('retry-after')) {
    reply.header('retry-after', String(defaultRetryAfterSeconds));
  }
  return reply.status(httpStatusOf(error.code)).type('application/json').send({ error: error.toJSON() });
}

/** How many route handlers are running, and a wait until none is (or a bound). */
interface RunningHandlers {
  readonly count: () => number;
  settled(boundMs: number): Promise<void>;
}

/**
 * Counts every route handler from its call until it returns (its promise
 * settles): what the close waits for, so that a handler whose connection was
 * cut still ends its transaction before the service closes its database or
 * HSM under it.
 */
function countRunningHandlers(app: FastifyInstance): RunningHandlers {
  let running = 0;
  const waiting = new Set<() => void>();
  const finished = () => {
    running -= 1;
    if (running === 0) for (const wake of [...waiting]) wake();
  };
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function counted(this: FastifyInstance, request, reply) {
      running += 1;
      let result: unknown;
      try {
        result = handler.call(this, request, reply);
      } catch (error) {
        finished();
        throw error;
      }
      if (result instanceof Promise) return result.finally(finished);
      finished();
      return result;
    } as typeof handler;
  });
  return {
    count: () => running,
    settled(boundMs) {
      if (running === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          waiting.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, boundMs);
        timer.unref();
        waiting.add(wake);
      });
    },
  };
}

/**
 * The close: idle connections at once (Fastify), every connection still
 * open after `closeGraceMs` cut; then it waits (at most `closeGraceMs` more)
 * for the handlers still running, whose answers can no longer be sent but
 * whose work must end whole before whatever closes after the server.
 */
function closeWithinGrace(
  app: FastifyInstance,
  closeGraceMs: number,
  handlers: RunningHandlers,
  http2: boolean,
): void {
  // node:http2's server has no closeAllConnections: its TLS connections (HTTP/2 sessions and HTTP/1.1 alike)
  // are kept here, and its HTTP/2 sessions, to be told GOAWAY.
  const connections = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  if (http2) {
    app.server.on('secureConnection', (socket: Socket) => {
      connections.add(socket);
      socket.once('close', () => connections.delete(socket));
    });
    app.server.on('session', (session: Http2Session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    });
  }
  const closeAll = http2
    ? () => {
        for (const socket of connections) socket.destroy();
      }
    : () => app.server.closeAllConnections();
  app.addHook('preClose', (done) => {
    const server = app.server;
    // HTTP/2: GOAWAY at once, so that an idle connection ends now and open streams may still finish.
    for (const session of sessions) session.close();
    const cut = setTimeout(closeAll, closeGraceMs);
    cut.unref();
    server.once('close', () => clearTimeout(cut));
    done();
  });
  app.addHook('onClose', async () => {
    await handlers.settled(closeGraceMs);
    if (handlers.count() > 0)
      app.log.warn({ running: handlers.count() }, 'closed with handlers still running');
  });
}

/**
 * requestTimeoutMs on an HTTP/2 port, which node:http's request timeout
 * (what Fastify sets on an HTTP/1 server) does not reach, neither for its
 * HTTP/2 streams nor for the HTTP/1.1 connections it also takes: a request
 * whose body has not all come within it is cancelled (an HTTP/2 stream with
 * RST_STREAM, an HTTP/1.1 connection closed), which frees its in-flight
 * slot. A request without a body (its headers ended it: an event stream's
 * GET) is not timed.
 */
function limitRequestTimeOnHttp2Port(app: FastifyInstance, requestTimeoutMs: number): void {
  limitHttp1HeadersTimeOnHttp2Port(app, requestTimeoutMs);
  app.addHook('onRequest', (request, _reply, done) => {
    const raw: unknown = request.raw;
    const bodyless = raw instanceof Http2ServerRequest ? raw.stream.endAfterHeaders : request.raw.complete;
    if (!bodyless) {
      const cancel = () => {
        if (raw instanceof Http2ServerRequest) {
          if (!raw.stream.closed && !raw.readableEnded) raw.stream.close(http2Constants.NGHTTP2_CANCEL);
        } else if (!request.raw.complete) request.raw.socket.destroy();
      };
      const timer = setTimeout(cancel, requestTimeoutMs);
      timer.unref();
      const clear = () => clearTimeout(timer);
      request.raw.once('end', clear);
      request.raw.once('close', clear);
    }
    done();
  });
}

/**
 * An HTTP/1.1 connection of an HTTP/2 port (ALPN http/1.1, or none) has
 * neither node:http's headers timeout nor its keep-alive timeout: a client
 * sending its headers a byte at a time held it for ever (the idle timeout
 * never fired). Here its request headers must all have come within
 * requestTimeoutMs of the connection's start, or of the last answer's end
 * (which bounds an idle keep-alive connection too); else it is closed.
 */
function limitHttp1HeadersTimeOnHttp2Port(app: FastifyInstance, requestTimeoutMs: number): void {
  const waitingForHeaders = new WeakMap<Socket, { readonly disarm: () => void; readonly arm: () => void }>();
  app.server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') return;
    let timer: NodeJS.Timeout | undefined;
    const disarm = () => clearTimeout(timer);
    const arm = () => {
      disarm();
      timer = setTimeout(() => socket.destroy(), requestTimeoutMs);
      timer.unref();
    };
    waitingForHeaders.set(socket, { arm, disarm });
    socket.once('close', disarm);
    arm();
  });
  app.server.on('request', (request: IncomingMessage | Http2ServerRequest, response: ServerResponse) => {
    if (request instanceof Http2ServerRequest) return;
    const timing = waitingForHeaders.get(request.socket);
    if (timing === undefined) return;
    timing.disarm();
    response.once('finish', timing.arm);
  });
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`http server: ${name} must be an integer in ${min}..${max}`);
  }
  return value;
}

/**
 * Bounds the requests in flight: counts each in onRequest, releases it once,
 * on whichever comes first of onResponse, the raw response's close and a
 * hijack (a hijacked stream lives as long as its client and must not hold a
 * slot); above the bound, 503 SERVICE_OVERLOADED with Retry-After.
 */
function limitRequestsInFlight(app: FastifyInstance, countMax: number, retryAfterSeconds: number): void {
  let inFlight = 0;
  const counted = new WeakSet<FastifyRequest>();
  const release = (request: FastifyRequest): void => {
    if (counted.delete(request)) inFlight -= 1;
  };
  app.addHook('onRequest', (request, reply, done) => {
    if (inFlight >= countMax) {
      sendError(reply, new MpayError('SERVICE_OVERLOADED', undefined, { retryAfterSeconds }));
      return done();
    }
    inFlight += 1;
    counted.add(request);
    reply.raw.once('close', () => release(request));
    const hijack = reply.hijack;
    reply.hijack = function hijackAndRelease(this: FastifyReply): FastifyReply {
      release(request);
      return hijack.call(this);
    };
    done();
  });
  app.addHook('onResponse', (request, _reply, done) => {
    release(request);
    done();
  });
}

/**
 * SQLSTATE our own triggers raise (class MP, not used by PostgreSQL) when a
 * rule in the database refuses a write; the message is the catalogue code.
 */
const refusedByDatabase = 'MP001';

/**
 * SQLSTATEs of a database that gave up waiting (lock_not_available from
 * lock_timeout, query_canceled from statement_timeout): the request may
 * succeed later, so 503 with Retry-After, never a 500.
 */
const databaseGaveUp: ReadonlySet<string> = new Set(['55P03', '57014']);

function toMpayError(error: FastifyError): MpayError {
  if (isMpayError(error)) return error;
  if (error.code === refusedByDatabase && isErrorCode(error.message)) return new MpayError(error.message);
  if (databaseGaveUp.has(error.code))
    return new MpayError('SERVICE_UNAVAILABLE', 'database busy', {
      retryAfterSeconds: defaultRetryAfterSeconds,
    });
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new MpayError('REQUEST_TOO_LARGE');
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return new MpayError('REQUEST_INVALID', 'content-type');
  if (error.validation) return new MpayError('REQUEST_INVALID', error.message.slice(0, 200));
  if (error.statusCode === 429) return new MpayError('REQUEST_RATE_LIMITED');
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new MpayError('REQUEST_INVALID', error.code);
  }
  return new MpayError('INTERNAL');
}

/**
 * Headers every answer carries unless its route set its own: no MIME
 * sniffing, never framed, no referrer, a content security policy that lets
 * an API answer run or load nothing, and answers not stored by caches (they
 * are about money and keys; a route whose answer may be cached, as the
 * log's immutable tiles, says so itself).
 */
export const securityHeaders: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cache-control': 'no-store',
});

/**
 * HTTP/1.1's connection-specific headers, which an HTTP/2 message must not
 * carry (RFC 9113 §8.2.2): node:http2 drops them with a process warning.
 * Fastify sets `Connection: close` on an answer to a refused body.
 */
const connectionSpecificHeaders = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
];

function dropConnectionHeadersOnHttp2(app: FastifyInstance): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.raw instanceof Http2ServerRequest)
      for (const name of connectionSpecificHeaders) if (reply.hasHeader(name)) reply.removeHeader(name);
    done(null, payload);
  });
}

function addSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', (_request, reply, payload, done) => {
    for (const [name, value] of Object.entries(securityHeaders)) {
      if (!reply.hasHeader(name)) reply.header(name, value);
    }
    done(null, payload);
  });
}

/**
 * 'ok', or why not: 'timeout' past the deadline, 'failed' otherwise (the cause goes to the log only).
 * A check still running for an earlier probe is not started again: this probe waits for the same
 * run. A database query that waits on a lock outlives the probe's deadline (up to the database's
 * own lock timeout); started anew by every probe, such queries would take every connection of the
 * pool while the lock is held, and the service's own requests would wait behind them.
 */
async function runCheck(
  app: FastifyInstance,
  check: ReadinessCheck,
  deadlineMs: number,
  running: Map<ReadinessCheck, Promise<string>>,
): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<string>((done) => {
    timer = setTimeout(() => done('timeout'), deadlineMs);
  });
  let outcome = running.get(check);
  if (outcome === undefined) {
    const started = check.check().then(
      () => 'ok',
      (error: unknown) => {
        app.log.warn({ err: error, check: check.name }, 'readiness check failed');
        return 'failed';
      },
    );
    outcome = started.finally(() => running.delete(check));
    running.set(check, outcome);
  }
  try {
    return await Promise.race([outcome, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * GET /health says the process answers; GET /ready says it can do its work:
 * every check (the database first) within the deadline, run at once, else
 * 503 with each check's state. A database locked or stuck shows here.
 */
function registerReadiness(
  app: FastifyInstance,
  service: string,
  checks: readonly ReadinessCheck[],
  deadlineMs: number,
): void {
  const readiness = {
    type: 'object',
    required: ['status', 'service', 'checks'],
    additionalProperties: false,
    properties: {
      status: { type: 'string', enum: ['ready', 'not_ready'] },
      service: { type: 'string' },
      checks: { type: 'object', additionalProperties: { type: 'string', enum: ['ok', 'timeout', 'failed'] } },
    },
  } as const;
  const schema = {
    summary: 'Readiness: every check (the database first) within the deadline',
    tags: ['operations'],
    response: { 200: readiness, 503: { ...readiness, description: 'A check failed or timed out' } },
  };
  // The checks under way, one run each at most (runCheck).
  const running = new Map<ReadinessCheck, Promise<string>>();
  app.get('/ready', { schema }, async (_request, reply) => {
    const states = await Promise.all(checks.map((check) => runCheck(app, check, deadlineMs, running)));
    const named = Object.fromEntries(checks.map((check, index) => [check.name, states[index]]));
    const ready = states.every((state) => state === 'ok');
    if (!ready) reply.header('retry-after', String(defaultRetryAfterSeconds));
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not_ready', service, checks: named });
  });
}

const healthSchema = {
  summary: 'Liveness: the process answers',
  tags: ['operations'],
  response: {
    200: {
      type: 'object',
      required: ['status', 'service'],
      additionalProperties: false,
      properties: { status: { const: 'ok' }, service: { type: 'string' } },
    },
  },
} as const;

/**
 * A Fastify instance with mpay's edge rules: body size limit, JSON errors with
 * stable codes (a database that gave up waiting is 503), security headers,
 * `text/plain` / `application/jose` / `application/xml` bodies as strings,
 * GET /health (liveness) and GET /ready (readiness), and a request id per
 * request (the caller's `x-request-id` when well-formed): in its logs, in the
 * answer's `x-request-id`, and on every @mpay/http-client call made for it;
 * GET /openapi.json describes every route (openapi.ts).
 */
export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const inFlightRequestsMax = checkInteger(
    'inFlightRequestsMax',
    options.inFlightRequestsMax ?? defaultInFlightRequestsMax,
    1,
    1_000_000,
  );
  const overloadRetryAfterSeconds = checkInteger(
    'overloadRetryAfterSeconds',
    options.overloadRetryAfterSeconds ?? defaultOverloadRetryAfterSeconds,
    1,
    3_600,
  );
  const closeGraceMs = checkInteger('closeGraceMs', options.closeGraceMs ?? defaultCloseGraceMs, 0, 600_000);
  if (options.http2 === true && options.tls === undefined)
    throw new RangeError('http server: http2 needs tls (HTTP/2 is offered by ALPN on a TLS port)');
  const http2 = options.http2 === true;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimitBytes ?? defaultBodyLimitBytes,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    return503OnClosing: true,
    // Validate, never repair: no type coercion ("100" for 100), no silent removal of unknown fields.
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
    // One id follows a piece of work across services: the caller's x-request-id when well-formed.
    genReqId: requestIdOf,
    ...(options.tls === undefined
      ? {}
      : http2
        ? {
            http2: true,
            https: {
              ...httpsOptionsOf(options.tls),
              allowHTTP1: true,
              // node:http2 lets a client open 2^32 - 1 streams at once: bounded per connection, as
              // inFlightRequestsMax bounds the requests of all of them; headers bounded as HTTP/1.1's (16 KiB).
              settings: {
                maxConcurrentStreams: http2StreamsPerConnectionMax,
                maxHeaderListSize: http2HeaderListBytesMax,
              },
            },
          }
        : { https: httpsOptionsOf(options.tls) }),
  }) as FastifyInstance; // same routes and hooks over node:https; only the raw server type differs
  // Response schemas describe answers for GET /openapi.json; they never filter or coerce them (openapi.ts).
  app.setSerializerCompiler(describeOnlySerializerCompiler);
  // Before any route: every handler is counted for the close (closeWithinGrace).
  const handlers = countRunningHandlers(app);
  // First, so that its onRoute hook sees every route, these below included.
  registerOpenApi(app, { name: options.name, version: options.version ?? defaultApiVersion });
  const answered = requestCounterOf(options.name);
  app.addHook('onRequest', (request, reply, done) => {
    answered.count += 1;
    reply.header('x-request-id', request.id);
    enterRequest(request.id, done);
  });
  if (options.tls !== undefined) {
    checkTlsPeers(app, options.tls, sendError);
    // New key and certificate for the connections to come (ServerTls.onReload); over node:https, a node:tls server.
    reloadTlsOf(app.server as unknown as TlsServer, options.tls);
  }
  limitRequestsInFlight(app, inFlightRequestsMax, overloadRetryAfterSeconds);
  if (http2) limitRequestTimeOnHttp2Port(app, options.requestTimeoutMs ?? 30_000);
  closeWithinGrace(app, closeGraceMs, handlers, http2);
  app.addContentTypeParser(
    ['text/plain', 'application/jose', 'application/xml', 'application/jwt'],
    { parseAs: 'string' },
    (_request, body, done) => done(null, body),
  );
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const mpayError = toMpayError(error);
    if (mpayError.code === 'INTERNAL') request.log.error({ err: error }, 'internal error');
    return sendError(reply, mpayError);
  });
  app.setNotFoundHandler((_request, reply) => sendError(reply, new MpayError('NOT_FOUND')));
  addSecurityHeaders(app);
  if (http2) dropConnectionHeadersOnHttp2(app);
  // Tests only (answer-check.ts): every answer against the route's document.
  const answerChecker = installedAnswerChecker();
  if (answerChecker !== undefined) addAnswerCheck(app, options.name, answerChecker);
  registerReadiness(
    app,
    options.name,
    options.readiness ?? [],
    checkInteger(
      'readinessDeadlineMs',
      options.readinessDeadlineMs ?? defaultReadinessDeadlineMs,
      10,
      60_000,
    ),
  );
  app.get('/health', { schema: healthSchema }, async () => ({ status: 'ok', service: options.name }));
  return app;
}
