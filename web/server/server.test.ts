import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip, gunzipSync, constants as zlibConstants } from 'node:zlib';
import { createHttpServer, gzipAnswers } from '@mpay/http-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebServer, type WebServer } from './index.ts';

/** A run of base64url as long as a receipt's JWE: what the gateway compresses. */
const joseLike = Buffer.from(crypto.getRandomValues(new Uint8Array(900))).toString('base64url');

/** The web front over real HTTP against a real upstream service: what passes, what does not, and the pages. */
describe('web server', () => {
  const upstream = createHttpServer({ name: 'upstream' });
  let upstreamUrl = '';
  let downUrl = '';
  let dist = '';
  let web: WebServer;
  const seen: { headers: Record<string, unknown>; body: string; url: string }[] = [];

  beforeAll(async () => {
    upstream.post('/echo', async (request) => {
      seen.push({ headers: request.headers, body: String(request.body), url: request.url });
      return { body: request.body, authorization: request.headers.authorization ?? null };
    });
    upstream.get('/cookie', async (_request, reply) =>
      reply
        .header('set-cookie', 'mpay_console=stolen; Path=/console')
        .header('access-control-allow-origin', '*')
        .header('content-security-policy', 'default-src *')
        .type('text/html')
        .send('<script>alert(1)</script>'),
    );
    upstream.get('/admin/secrets', async () => ({ secret: true }));
    upstream.get('/items/:id', async (request) => {
      seen.push({ headers: request.headers, body: '', url: request.url });
      return { id: (request.params as { id: string }).id, query: request.query };
    });
    upstream.get('/stream', async (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      reply.raw.write('event: first\ndata: one\n\n');
      // The second event goes only once the first reached the client: the proxy must not buffer.
      streamGate = () => {
        reply.raw.write('event: second\ndata: two\n\n');
        reply.raw.end();
      };
    });
    // What the gateway compresses (the device's answers and stream): gzipped by the service itself.
    upstream.get('/zipped', { onSend: gzipAnswers() }, async () => ({ receipt: joseLike }));
    upstream.get('/zstream', async (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
      const gzip = createGzip();
      gzip.pipe(reply.raw);
      gzip.write(`event: first\ndata: ${joseLike}\n\n`);
      gzip.flush(zlibConstants.Z_SYNC_FLUSH);
      zipGate = () => {
        gzip.end('event: second\ndata: two\n\n');
      };
    });
    upstreamUrl = await upstream.listen({ port: 0, host: '127.0.0.1' });
    // A port that was free a moment ago and that nothing listens on: a service that is down.
    const closed = createHttpServer({ name: 'closed' });
    const closedUrl = await closed.listen({ port: 0, host: '127.0.0.1' });
    await closed.close();
    downUrl = closedUrl;
    dist = await mkdtemp(join(tmpdir(), 'mpay-web-test-'));
    await mkdir(join(dist, 'wallet'), { recursive: true });
    await mkdir(join(dist, 'assets'), { recursive: true });
    await writeFile(join(dist, 'index.html'), '<!doctype html><title>home</title>');
    await writeFile(join(dist, 'wallet', 'index.html'), '<!doctype html><title>wallet</title>');
    await writeFile(join(dist, 'assets', 'app-1234.js'), 'console.log(1)');
    await writeFile(join(dist, '.sources-sha256'), 'secret-ish');
    web = await startWebServer({
      upstreams: { svc: upstreamUrl, down: downUrl },
      config: {
        fspId: 'fsp.test',
        custodyId: 'custody.test',
        currency: 'EUR',
        banks: [],
        log: { origin: 'log.test', logVerifierKey: 'k', witnessVerifierKeys: [], witnessesRequired: 0 },
      },
      distDir: dist,
    });
  });
  afterAll(async () => {
    await web?.close();
    await upstream.close();
    await rm(dist, { recursive: true, force: true });
  });

  let streamGate: () => void = () => undefined;
  let zipGate: () => void = () => undefined;

  /** Sends a raw request line (what fetch would normalise away) and returns the status code. */
  async function rawStatus(requestLine: string): Promise<number> {
    const { hostname, port } = new URL(web.url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(`${requestLine}\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString();
      });
      socket.on('end', () => resolve(Number(text.split(' ')[1])));
      socket.on('error', reject);
    });
  }

  it('passes method, path, query, body and the request headers a service needs; keeps cookies and host here', async () => {
    const response = await fetch(`${web.url}/api/svc/echo`, {
      method: 'POST',
      body: 'signed body',
      headers: {
        'content-type': 'text/plain',
        authorization: 'MPay token',
        'idempotency-key': 'key-1',
        cookie: 'console=secret',
      },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ body: 'signed body', authorization: 'MPay token' });
    const request = seen.at(-1)!;
    expect(request.url).toBe('/echo');
    expect(request.headers['idempotency-key']).toBe('key-1');
    expect(request.headers.cookie).toBeUndefined();
    expect(await (await fetch(`${web.url}/api/svc/items/7?page=2`)).json()).toEqual({
      id: '7',
      query: { page: '2' },
    });
  });

  it('never leaves the service: absolute-form request lines and an encoded service name are refused (they once shifted the port)', async () => {
    const { port } = new URL(upstreamUrl);
    for (const line of [
      `GET http://a7/api/svc/../../anything HTTP/1.1`,
      `GET http://x/api/svc/items/1 HTTP/1.1`,
      'GET /api/sv%63/items/1 HTTP/1.1',
      'GET /api/svc HTTP/1.1',
    ])
      expect(await rawStatus(line), line).toBe(404);
    for (const path of [
      '/api/svc//127.0.0.1:1/x',
      `/api/svc/@127.0.0.1:${port}9/x`,
      '/api/svc/..%2f..%2fadmin',
    ])
      expect([404, 400], path).toContain((await fetch(`${web.url}${path}`)).status);
  });

  it('keeps the operators’ routes off the public origin', async () => {
    for (const path of ['/api/svc/admin/secrets', '/api/svc/ADMIN/secrets', '/api/svc/metrics'])
      expect((await fetch(`${web.url}${path}`)).status, path).toBe(404);
  });

  it('passes no cookie, CORS or framing rule of a service to the pages’ origin, and no page from it', async () => {
    const response = await fetch(`${web.url}/api/svc/cookie`);
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('content-security-policy')).toBe(
      "default-src 'none'; frame-ancestors 'none'",
    );
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('passes the service’s error answers through with their status', async () => {
    const response = await fetch(`${web.url}/api/svc/nowhere`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('streams an event stream as it comes, without waiting for its end', async () => {
    const response = await fetch(`${web.url}/api/svc/stream`);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('data: one')) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream ended before its first event');
      text += decoder.decode(value, { stream: true });
    }
    streamGate();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toContain('data: two');
  });

  /** An answer as it crossed the wire from the pages' origin (fetch would decode it): its headers and bytes. */
  async function rawGet(path: string, acceptEncoding: string | undefined) {
    return new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      const call = httpGet(
        `${web.url}${path}`,
        { headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ headers: response.headers, body: Buffer.concat(chunks) }));
        },
      );
      call.on('error', reject);
    });
  }

  it('gzips again for the page what the service gzipped, only for a page that takes gzip; nothing else', async () => {
    const zipped = await rawGet('/api/svc/zipped', 'gzip, deflate');
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toBe('accept-encoding');
    expect(JSON.parse(gunzipSync(zipped.body).toString('utf8'))).toEqual({ receipt: joseLike });
    const plainToo = await rawGet('/api/svc/zipped', undefined);
    expect(plainToo.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(plainToo.body.toString('utf8'))).toEqual({ receipt: joseLike });
    // An answer the service did not compress is not compressed here either.
    const notChosen = await rawGet('/api/svc/items/7', 'gzip');
    expect(notChosen.headers['content-encoding']).toBeUndefined();
  });

  it('passes a gzipped event stream on gzipped, each event as it comes', async () => {
    const response = await fetch(`${web.url}/api/svc/zstream`);
    expect(response.headers.get('content-encoding')).toBe('gzip');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('event: first')) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream ended before its first event');
      text += decoder.decode(value, { stream: true });
    }
    zipGate();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toBe(`event: first\ndata: ${joseLike}\n\nevent: second\ndata: two\n\n`);
  });

  it('answers SERVICE_UNAVAILABLE with Retry-After when a service does not answer, NOT_FOUND for no such service', async () => {
    const down = await fetch(`${web.url}/api/down/anything`);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(((await down.json()) as { error: { code: string } }).error.code).toBe('SERVICE_UNAVAILABLE');
    const unknown = await fetch(`${web.url}/api/constructor/x`);
    expect(unknown.status).toBe(404);
  });

  it('serves only the built files: pages with their policy, hashed assets cached for good', async () => {
    const page = await fetch(`${web.url}/wallet/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const redirect = await fetch(`${web.url}/wallet`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/wallet/');
    const asset = await fetch(`${web.url}/assets/app-1234.js`);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    for (const path of ['/.sources-sha256', '/wallet/..%2f..%2fpackage.json', '/assets/', '/index.htm'])
      expect((await fetch(`${web.url}${path}`)).status, path).toBe(404);
  });
});
