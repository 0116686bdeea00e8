import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptsGzip, createCompressionLimits, gunzipRequests, gzipAnswers } from './compression.ts';
import { createHttpServer } from './server.ts';

describe('acceptsGzip (RFC 9110 §12.5.3)', () => {
  it.each([
    ['gzip', true],
    ['gzip, deflate, br', true],
    ['deflate, GZIP;q=0.5', true],
    ['x-gzip', true],
    ['*', true],
    ['*;q=0.1', true],
    ['br;q=1, gzip;q=0.001', true],
    ['gzip;q=1.000', true],
  ])('%j takes gzip', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });

  it.each([
    [undefined],
    [''],
    ['identity'],
    ['deflate, br'],
    ['gzip;q=0'],
    ['gzip;q=0.000'],
    ['gzip;q=0, *'],
    ['*;q=0'],
    ['gzip;q=2'],
    ['gzip;q=abc'],
    ['gzip;q=0.5555'],
    ['gzip;q='],
    [`${'deflate, '.repeat(200)}gzip`],
    [`${Array.from({ length: 40 }, () => 'a').join(',')},gzip`],
  ])('%j does not', (header) => {
    expect(acceptsGzip(header)).toBe(false);
  });

  it('reads a header given as several lines', () => {
    expect(acceptsGzip(['deflate', 'gzip'])).toBe(true);
    expect(acceptsGzip(['deflate', 'br'])).toBe(false);
  });
});

describe('createCompressionLimits', () => {
  it('refuses limits out of range', () => {
    expect(() => createCompressionLimits({ level: 0 })).toThrow(/level/);
    expect(() => createCompressionLimits({ level: 10 })).toThrow(/level/);
    expect(() => createCompressionLimits({ minimumBytes: -1 })).toThrow(/minimumBytes/);
    expect(() => createCompressionLimits({ minimumBytes: 1.5 })).toThrow(/minimumBytes/);
    expect(createCompressionLimits({ level: 9 }).level).toBe(9);
    expect(() => createCompressionLimits({ inlineBytesMax: -1 })).toThrow(/inlineBytesMax/);
    expect(() => createCompressionLimits({ inlineBytesMax: (1 << 20) + 1 })).toThrow(/inlineBytesMax/);
  });
});

/** Random base64url text, as compact JOSE is: what the routes that opt in carry. */
function joseLike(length: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(Math.ceil((length * 3) / 4))))
    .toString('base64url')
    .slice(0, length);
}

describe('gzipAnswers, over real HTTP', () => {
  const app = createHttpServer({ name: 'compression' });
  const big = { receipt: joseLike(1_200) };
  let url = '';
  beforeAll(async () => {
    app.get('/big', { onSend: gzipAnswers() }, async () => big);
    app.get('/small', { onSend: gzipAnswers() }, async () => ({ ok: true }));
    app.get('/pooled', { onSend: gzipAnswers({ inlineBytesMax: 0 }) }, async () => big);
    app.get('/plain', async () => big);
    app.get('/varies', { onSend: gzipAnswers() }, async (_request, reply) =>
      reply.header('vary', ['origin', 'accept-language']).send(big),
    );
    app.get('/error', { onSend: gzipAnswers({ minimumBytes: 0, level: 6 }) }, async (_request, reply) =>
      reply.code(404).send({ error: { code: 'PAYMENT_UNKNOWN', message: 'No such payment.' } }),
    );
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  /** The answer as it crossed the wire: fetch would decode it, so read it raw. */
  async function raw(path: string, acceptEncoding: string | undefined) {
    const { request } = await import('node:http');
    return new Promise<{ headers: Record<string, unknown>; body: Buffer; status: number }>((done, failed) => {
      const call = request(
        `${url}${path}`,
        { headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            done({
              headers: response.headers,
              body: Buffer.concat(chunks),
              status: response.statusCode ?? 0,
            }),
          );
        },
      );
      call.on('error', failed);
      call.end();
    });
  }

  it('gzips an answer above inlineBytesMax on the thread pool: the same bytes as in place', async () => {
    const inPlace = await raw('/big', 'gzip');
    const pooled = await raw('/pooled', 'gzip');
    expect(pooled.headers['content-encoding']).toBe('gzip');
    expect(Number(pooled.headers['content-length'])).toBe(pooled.body.length);
    expect(pooled.body.equals(inPlace.body)).toBe(true);
    expect(JSON.parse(gunzipSync(pooled.body).toString('utf8'))).toEqual(big);
  });

  it('gzips a large answer for a client that takes gzip: smaller, and the same JSON once decoded', async () => {
    const answer = await raw('/big', 'gzip, deflate');
    expect(answer.headers['content-encoding']).toBe('gzip');
    expect(answer.headers.vary).toBe('accept-encoding');
    expect(Number(answer.headers['content-length'])).toBe(answer.body.length);
    const plain = JSON.stringify(big);
    expect(JSON.parse(gunzipSync(answer.body).toString('utf8'))).toEqual(big);
    // Base64url carries 6 bits per character: deflate gives back at least a sixth.
    expect(answer.body.length).toBeLessThan((plain.length * 5) / 6);
  });

  it('sends it as it is to a client that does not take gzip, still saying it varies', async () => {
    for (const acceptEncoding of [undefined, 'identity', 'gzip;q=0']) {
      const answer = await raw('/big', acceptEncoding);
      expect(answer.headers['content-encoding'], String(acceptEncoding)).toBeUndefined();
      expect(answer.headers.vary).toBe('accept-encoding');
      expect(JSON.parse(answer.body.toString('utf8'))).toEqual(big);
    }
  });

  it('leaves small answers, and the routes that did not opt in, alone', async () => {
    const small = await raw('/small', 'gzip');
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(small.body.toString('utf8'))).toEqual({ ok: true });
    const plain = await raw('/plain', 'gzip');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBeUndefined();
  });

  it('adds accept-encoding to a Vary the route set, as a string or as several values', async () => {
    const answer = await raw('/varies', 'gzip');
    expect(answer.headers.vary).toBe('origin, accept-language, accept-encoding');
    expect(answer.headers['content-encoding']).toBe('gzip');
  });

  it('gzips an error answer too, and fetch reads it back transparently', async () => {
    const answer = await raw('/error', 'gzip');
    expect(answer.status).toBe(404);
    expect(answer.headers['content-encoding']).toBe('gzip');
    const viaFetch = await fetch(`${url}/error`);
    expect(await viaFetch.json()).toEqual({
      error: { code: 'PAYMENT_UNKNOWN', message: 'No such payment.' },
    });
  });
});

describe('gunzipRequests, over real HTTP', () => {
  const bodyLimitBytes = 4_096;
  const app = createHttpServer({ name: 'compression', bodyLimitBytes });
  let url = '';
  beforeAll(async () => {
    app.post('/echo', { preParsing: gunzipRequests() }, async (request) => ({
      length: String(request.body).length,
      body: String(request.body),
    }));
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  /** A POST of `body` as application/jose with these headers: the status, the answer's JSON and headers. */
  async function post(body: Uint8Array<ArrayBuffer> | string, headers: Record<string, string>) {
    const response = await fetch(`${url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/jose', ...headers },
      body,
    });
    return {
      status: response.status,
      json: (await response.json()) as { body?: string; error?: { code: string } },
      acceptEncoding: response.headers.get('accept-encoding'),
    };
  }

  it('reads a gzipped body as the text it compresses, and a body without a coding as it is', async () => {
    const jwe = joseLike(720);
    expect((await post(gzipSync(jwe), { 'content-encoding': 'gzip' })).json.body).toBe(jwe);
    expect((await post(gzipSync(jwe), { 'content-encoding': ' GZIP ' })).json.body).toBe(jwe);
    expect((await post(jwe, {})).json.body).toBe(jwe);
    expect((await post(jwe, { 'content-encoding': 'identity' })).json.body).toBe(jwe);
    // base64url text: deflate codes it at about three quarters, plus gzip's 18 bytes of framing.
    expect(gzipSync(jwe).length).toBeLessThan(jwe.length * 0.85);
  });

  it('refuses a body that inflates past the limit (413), that is not gzip (400), or another coding (415)', async () => {
    // A bomb: 64 bytes or so that inflate to a megabyte.
    const bomb = gzipSync(Buffer.alloc(1 << 20, 0x41));
    expect(bomb.length).toBeLessThan(bodyLimitBytes);
    const inflated = await post(bomb, { 'content-encoding': 'gzip' });
    expect([inflated.status, inflated.json.error?.code]).toEqual([413, 'REQUEST_TOO_LARGE']);
    const broken = await post('not gzip at all', { 'content-encoding': 'gzip' });
    expect([broken.status, broken.json.error?.code]).toEqual([400, 'REQUEST_INVALID']);
    const cut = gzipSync(joseLike(720)).subarray(0, 100);
    expect((await post(cut, { 'content-encoding': 'gzip' })).status).toBe(400);
    // A gzip header whose file name never ends: gzip gives no output, the encoded bytes still count.
    const endlessName = Buffer.concat([
      Buffer.from([0x1f, 0x8b, 0x08, 0x08, 0, 0, 0, 0, 0, 0x03]),
      Buffer.alloc(2 * bodyLimitBytes, 0x61),
    ]);
    const unnamed = await post(endlessName, { 'content-encoding': 'gzip' });
    expect([unnamed.status, unnamed.json.error?.code]).toEqual([413, 'REQUEST_TOO_LARGE']);
    const other = await post(joseLike(100), { 'content-encoding': 'br' });
    expect([other.status, other.json.error?.code, other.acceptEncoding]).toEqual([
      415,
      'REQUEST_ENCODING_UNSUPPORTED',
      'gzip',
    ]);
  });
});
