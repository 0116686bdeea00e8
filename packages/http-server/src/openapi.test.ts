import { readFileSync } from 'node:fs';
import { MpayError } from '@mpay/protocol';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildOpenApiDocument,
  errorBodySchema,
  gapsOf,
  type OpenApiDocument,
  openApiPathOf,
  routesOf,
  undocumentedRoutes,
} from './openapi.ts';
import { compactJose, exactObject, joseBody, openObject, uuid } from './openapi-schemas.ts';
import { createHttpServer, defaultApiVersion, sendError } from './server.ts';

describe('openApiPathOf', () => {
  it('turns Fastify parameters into OpenAPI templates', () => {
    expect(openApiPathOf('/payments/:id/refunds/:refundId')).toBe('/payments/{id}/refunds/{refundId}');
    expect(openApiPathOf('/entries/:index(^\\d+)')).toBe('/entries/{index}');
    expect(openApiPathOf('/health')).toBe('/health');
  });
});

describe('buildOpenApiDocument', () => {
  const body = {
    type: 'object',
    required: ['amount'],
    additionalProperties: false,
    properties: { amount: { type: 'string' } },
  };
  const document = buildOpenApiDocument({ name: 'test', version: '1.2.3' }, [
    {
      method: 'POST',
      url: '/payments/:id/refunds',
      schema: {
        summary: 'Refund',
        tags: ['refunds'],
        params: { type: 'object', properties: { id: { type: 'string', format: 'uuid' } } },
        body,
        response: { 201: { type: 'object', properties: { id: { type: 'string' } } }, 409: {} },
      },
    },
    { method: 'HEAD', url: '/payments/:id/refunds', schema: undefined },
    {
      method: 'POST',
      url: '/entries',
      schema: {
        summary: 'Submit',
        rawBody: {
          contentTypes: ['application/jose'],
          schema: { type: 'string', contentMediaType: 'application/jose' },
        },
        response: { 202: { content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    {
      method: 'GET',
      url: '/statement',
      schema: {
        querystring: {
          type: 'object',
          required: ['account'],
          properties: { account: { type: 'string' }, limit: { type: 'string' } },
        },
      },
    },
    { method: 'GET', url: '/secret', schema: { hide: true } },
  ]);

  it('is an OpenAPI 3.1 document with the service name and version', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.jsonSchemaDialect).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(document.info).toEqual({ title: 'mpay test', version: '1.2.3' });
    expect(Object.keys(document.paths).sort()).toEqual(['/entries', '/payments/{id}/refunds', '/statement']);
  });

  it('takes parameters, body and responses from the route schema', () => {
    const operation = document.paths['/payments/{id}/refunds']?.post;
    expect(operation?.summary).toBe('Refund');
    expect(operation?.tags).toEqual(['refunds']);
    expect(operation?.parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
    ]);
    expect(operation?.requestBody).toEqual({
      required: true,
      content: { 'application/json': { schema: body } },
    });
    expect(operation?.responses['201']?.content?.['application/json']?.schema).toEqual({
      type: 'object',
      properties: { id: { type: 'string' } },
    });
    // An error status without a schema, and every other status, answer the error body.
    expect(operation?.responses['409']?.content?.['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/Error',
    });
    expect(operation?.responses.default?.content?.['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/Error',
    });
    expect(document.components.schemas.Error).toEqual(errorBodySchema);
  });

  it('leaves out HEAD twins and hidden routes, documents raw bodies and other media types', () => {
    expect(document.paths['/payments/{id}/refunds']?.head).toBeUndefined();
    expect(document.paths['/secret']).toBeUndefined();
    const entries = document.paths['/entries']?.post;
    expect(entries?.requestBody?.content).toEqual({
      'application/jose': { schema: { type: 'string', contentMediaType: 'application/jose' } },
    });
    expect(entries?.responses['202']?.content).toEqual({ 'text/plain': { schema: { type: 'string' } } });
    expect(document.paths['/statement']?.get?.parameters).toEqual([
      { name: 'account', in: 'query', required: true, schema: { type: 'string' } },
      { name: 'limit', in: 'query', required: false, schema: { type: 'string' } },
    ]);
  });

  it('gives every operation a unique operationId', () => {
    const ids = Object.values(document.paths).flatMap((item) =>
      Object.values(item).map((operation) => operation.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
    expect(document.paths['/payments/{id}/refunds']?.post?.operationId).toBe('postPaymentsByIdRefunds');
  });
});

describe('GET /openapi.json on createHttpServer', () => {
  const app = createHttpServer({ name: 'sample', version: '9.9.9' });
  let url = '';
  let document: OpenApiDocument;
  let cacheControl: string | null = null;
  let headers: Headers | undefined;
  beforeAll(async () => {
    app.post(
      '/echo',
      {
        schema: {
          summary: 'Echo',
          body: { type: 'object', properties: { amount: { type: 'string' } }, additionalProperties: false },
          // Deliberately narrower than the answer: response schemas describe, they never filter.
          response: { 200: { type: 'object', properties: { amount: { type: 'integer' } } } },
        },
      },
      async (request) => ({ ...(request.body as object), extra: 'kept' }),
    );
    app.get('/undocumented', async () => ({}));
    app.get(
      '/fails',
      { schema: { summary: 'Fails', response: { 200: { type: 'null' } } } },
      async (_r, reply) => sendError(reply, new MpayError('NOT_FOUND', 'detail')),
    );
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    const response = await fetch(`${url}/openapi.json`);
    cacheControl = response.headers.get('cache-control');
    headers = response.headers;
    document = (await response.json()) as OpenApiDocument;
  });
  afterAll(() => app.close());

  it('describes every route of the server, its own and the built-in ones', () => {
    expect(document.info).toEqual({ title: 'mpay sample', version: '9.9.9' });
    expect(Object.keys(document.paths).sort()).toEqual([
      '/echo',
      '/fails',
      '/health',
      '/openapi.json',
      '/ready',
      '/undocumented',
    ]);
    expect(routesOf(app).map((route) => `${route.method} ${route.url}`)).toContain('POST /echo');
  });

  it('lists what is missing for each route not fully described', () => {
    expect(undocumentedRoutes(app)).toEqual([
      { method: 'GET', url: '/undocumented', gaps: ['summary', '2xx response schema'] },
    ]);
  });

  it('is public and cacheable, with the edge rules of every answer', () => {
    expect(cacheControl).toBe('public, max-age=300');
    expect(headers?.get('x-content-type-options')).toBe('nosniff');
    expect(headers?.get('x-request-id')).toBeTruthy();
  });

  it('never lets a response schema filter or coerce an answer', async () => {
    const response = await fetch(`${url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"amount":"12"}',
    });
    expect(await response.json()).toEqual({ amount: '12', extra: 'kept' });
  });

  it('describes the error body mpay really sends', async () => {
    const ajv = new Ajv2020({ strict: true });
    const validate = ajv.compile(errorBodySchema);
    const response = await fetch(`${url}/fails`);
    expect(response.status).toBe(404);
    const body: unknown = await response.json();
    expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ error: { code: 'NO_SUCH_CODE', message: 'x' } })).toBe(false);
  });

  it('states the version every workspace package has', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(defaultApiVersion).toBe(manifest.version);
  });
});

describe('the building blocks of response schemas', () => {
  const ajv = new Ajv2020({ strict: false });

  it('takes a compact JWS (three parts) or JWE (five), nothing else', () => {
    const validate = ajv.compile(compactJose);
    expect(validate('aGVhZGVy.cGF5bG9hZA.c2ln')).toBe(true);
    expect(validate('aGVhZGVy.a2V5.aXY.Y2lwaGVy.dGFn')).toBe(true);
    expect(validate('aGVhZGVy.cGF5bG9hZA')).toBe(false);
    expect(validate('a.b.c.d')).toBe(false);
    expect(validate('a.b.c d')).toBe(false);
  });

  it('makes exact objects refuse what they do not name, and open ones allow it', () => {
    const exact = ajv.compile(exactObject({ id: uuid, note: { type: 'string' } }, ['note']));
    const id = '6c03c5a1-cbf9-44fc-bc98-695200b01980';
    expect(exact({ id })).toBe(true);
    expect(exact({ id, extra: 1 })).toBe(false);
    expect(exact({ note: 'x' })).toBe(false);
    expect(ajv.compile(openObject({ id: uuid }))({ id, extra: 1 })).toBe(true);
  });

  it('asks a POST for a body, a raw body or the word that it takes none', () => {
    const base = { method: 'POST', url: '/x' };
    const response = { 200: { type: 'object' } };
    expect(gapsOf({ ...base, schema: { summary: 's', response } })).toEqual(['body schema']);
    expect(gapsOf({ ...base, schema: { summary: 's', response, noRequestBody: true } })).toEqual([]);
    expect(gapsOf({ ...base, schema: { summary: 's', response, rawBody: joseBody('a JWS') } })).toEqual([]);
    expect(gapsOf({ ...base, schema: { summary: 's', response: { 404: {} } } })).toEqual([
      '2xx response schema',
      'body schema',
    ]);
  });
});
