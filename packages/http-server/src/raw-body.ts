import type { FastifyInstance, FastifyRequest } from 'fastify';

const rawBodies = new WeakMap<FastifyRequest, string>();

/**
 * Keeps the raw text of JSON bodies: signed request tokens and Idempotency-Key
 * hashes cover the bytes as sent, not a re-serialisation. Same prototype-poisoning
 * protection as Fastify's own parser; an empty body is no body.
 */
export function keepRawJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    rawBodies.set(request, text);
    if (text === '') return done(null, undefined);
    return parseJson(request, text, done);
  });
}

/** The body exactly as received (string bodies are kept as they are). */
export function rawBodyOf(request: FastifyRequest): string {
  return rawBodies.get(request) ?? (typeof request.body === 'string' ? request.body : '');
}
