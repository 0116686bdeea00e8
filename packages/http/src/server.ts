import { isErrorCode, isMpayError, MpayError } from '@mpay/protocol';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { httpStatusOf } from './status.ts';

export interface HttpServerOptions {
  /** Service name, used in logs and the health endpoint. */
  name: string;
  bodyLimitBytes?: number;
  /** pino logger options; false silences the service. */
  logger?: boolean | { level: string };
  requestTimeoutMs?: number;
}

export const defaultBodyLimitBytes = 64 * 1024;

export function sendError(reply: FastifyReply, error: MpayError): FastifyReply {
  return reply.status(httpStatusOf(error.code)).type('application/json').send({ error: error.toJSON() });
}

/**
 * SQLSTATE our own triggers raise (class MP, not used by PostgreSQL) when a
 * rule in the database refuses a write; the message is the catalogue code.
 */
const refusedByDatabase = 'MP001';

function toMpayError(error: FastifyError): MpayError {
  if (isMpayError(error)) return error;
  if (error.code === refusedByDatabase && isErrorCode(error.message)) return new MpayError(error.message);
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
 * A Fastify instance with mpay's edge rules: body size limit, JSON errors with
 * stable codes, `text/plain` / `application/jose` / `application/xml` bodies
 * as strings, a health endpoint.
 */
export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimitBytes ?? defaultBodyLimitBytes,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    return503OnClosing: true,
    // Validate, never repair: no type coercion ("100" for 100), no silent removal of unknown fields.
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
  });
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
  app.get('/health', async () => ({ status: 'ok', service: options.name }));
  return app;
}
