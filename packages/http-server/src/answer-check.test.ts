import { MpayError } from '@mpay/protocol';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it } from 'vitest';
import { type AnswerMismatch, checkAnswersWith } from './answer-check.ts';
import { documentSecurity, type OpenApiDocument } from './openapi.ts';
import { exactObject, operatorOnly, stringSchema } from './openapi-schemas.ts';
import { createHttpServer } from './server.ts';

/**
 * The contract check the e2e suites install: each answer against its route's
 * documented schema, status and media type, and a 2xx without the credential
 * the document requires; and the document's security requirements.
 */
describe('the answer check (checkAnswersWith) and documented security', () => {
  const ajv = new Ajv2020({ strict: false });
  const mismatches: AnswerMismatch[] = [];
  checkAnswersWith({
    validate: (schema, value) => {
      const validate = ajv.compile(schema);
      return validate(value) ? undefined : ajv.errorsText(validate.errors);
    },
    report: (mismatch) => mismatches.push(mismatch),
  });
  const app = createHttpServer({ name: 'test', logger: false });
  checkAnswersWith(undefined);
  const unchecked = createHttpServer({ name: 'test', logger: false });
  documentSecurity(app, { 'GET /guarded': operatorOnly });
  let answer: unknown = { a: 'text' };
  let status = 200;
  const schema = { summary: 'A route', response: { 200: exactObject({ a: stringSchema }) } };
  for (const server of [app, unchecked]) {
    server.get('/guarded', { schema }, async (_request, reply) => reply.code(status as 200).send(answer));
    server.get('/open', { schema }, async () => {
      throw new MpayError('NOT_FOUND');
    });
  }
  afterAll(async () => {
    await Promise.all([app.close(), unchecked.close()]);
  });
  const get = async (url: string, authorization?: string) => {
    mismatches.length = 0;
    await app.inject({ method: 'GET', url, headers: authorization === undefined ? {} : { authorization } });
    return mismatches.map((mismatch) => `${mismatch.route} ${mismatch.status}: ${mismatch.problem}`);
  };

  it('passes an answer as documented, and an error as mpay’s error body', async () => {
    answer = { a: 'text' };
    status = 200;
    expect(await get('/guarded', 'Bearer token')).toEqual([]);
    expect(await get('/open')).toEqual([]);
    expect(await get('/health')).toEqual([]);
  });

  it('reports a member the schema does not name, a wrong type, an undocumented status', async () => {
    answer = { a: 'text', extra: 1 };
    expect(await get('/guarded', 'Bearer token')).toEqual([
      expect.stringMatching(/^\/guarded 200: .*additional properties/),
    ]);
    answer = { a: 1 };
    expect(await get('/guarded', 'Bearer token')).toEqual([expect.stringMatching(/must be string/)]);
    answer = { a: 'text' };
    status = 201;
    expect(await get('/guarded', 'Bearer token')).toEqual(['/guarded 201: status 201 not documented']);
    status = 200;
  });

  it('reports a 2xx to a request without the credential the document requires', async () => {
    expect(await get('/guarded')).toEqual([
      '/guarded 200: answered 200 without the credential its document requires (operatorToken)',
    ]);
  });

  it('documents the security of each operation and the schemes used', async () => {
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApiDocument;
    expect(document.paths['/guarded']?.get?.security).toEqual([{ operatorToken: [] }]);
    expect(document.paths['/open']?.get?.security).toEqual([]);
    expect(Object.keys(document.components.securitySchemes ?? {})).toEqual(['operatorToken']);
  });

  it('checks nothing on a server created without a checker', async () => {
    answer = { wrong: true };
    mismatches.length = 0;
    await unchecked.inject({ method: 'GET', url: '/guarded' });
    expect(mismatches).toEqual([]);
  });
});
