import { createServer, type Server } from 'node:http';
import { exchangeFor, requestJson, setFetchSource } from '@mpay/http-client';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EndlessAnswerServer, startEndlessAnswerServer } from '../../../test/support/endless-answer.ts';
import { createPlainServiceClient, exchangeThrough, tlsClientScope } from './client.ts';

/** Bytes the endless answer sends at most (it stops when the client goes away before). */
const streamedBytesMax = 64 * 1024 * 1024;

let server: Server;
let base = '';
let endless: EndlessAnswerServer;
const agent = new Agent();

beforeAll(async () => {
  endless = await startEndlessAnswerServer(streamedBytesMax);
  server = createServer((request, response) => {
    if (request.url === '/json') {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      request.on('end', () => {
        response.writeHead(201, {
          'content-type': 'application/json; charset=utf-8',
          'retry-after': '7',
          'x-repeated': ['a', 'b'],
        });
        response.end(
          JSON.stringify({ method: request.method, header: request.headers['x-test'] ?? null, body }),
        );
      });
    } else if (request.url === '/moved') {
      response.writeHead(302, { location: '/json' });
      response.end();
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await agent.close();
  await endless.close();
  await new Promise((done) => server.close(done));
});
afterEach(() => setFetchSource(undefined));

describe("an exchange over undici's request (calls between services)", () => {
  it('sends the method, headers and body, and reads the status, Content-Type and body', async () => {
    const answer = await exchangeThrough(agent, `${base}/json`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-test': 'yes' },
      body: 'hello',
      signal: AbortSignal.timeout(10_000),
    });
    expect(answer.status).toBe(201);
    expect(answer.contentType).toBe('application/json; charset=utf-8');
    // By name in any case; a repeated header joined as fetch's Headers joins it.
    expect(answer.header('Retry-After')).toBe('7');
    expect(answer.header('x-repeated')).toBe('a, b');
    expect(answer.header('x-absent')).toBeUndefined();
    expect(JSON.parse((await answer.read(1024)) ?? '')).toEqual({
      method: 'POST',
      header: 'yes',
      body: 'hello',
    });
  });

  it('answers a redirect as it is, never following it', async () => {
    const answer = await exchangeThrough(agent, `${base}/moved`, {
      method: 'GET',
      headers: {},
      signal: AbortSignal.timeout(10_000),
    });
    expect(answer.status).toBe(302);
    await answer.discard();
  });

  it('stops reading an answer past its limit, without reading the rest', async () => {
    const answer = await exchangeThrough(agent, `${endless.base}/endless`, {
      method: 'GET',
      headers: {},
      signal: AbortSignal.timeout(30_000),
    });
    expect(await answer.read(1024 * 1024)).toBeUndefined();
    // The server saw its client go away long before the 64 MiB it would have sent.
    expect(await endless.streamed).toBeLessThan(streamedBytesMax / 2);
  });

  it('rejects when nothing answers, and when the signal ends the call', async () => {
    await expect(
      exchangeThrough(agent, 'http://127.0.0.1:9/none', {
        method: 'GET',
        headers: {},
        signal: AbortSignal.timeout(10_000),
      }),
    ).rejects.toThrow();
    await expect(
      exchangeThrough(agent, `${base}/json`, { method: 'GET', headers: {}, signal: AbortSignal.abort() }),
    ).rejects.toThrow();
  });
});

describe('the plain service client', () => {
  it("carries the services' calls in its scope through its exchange, and leaves the rest to the global fetch", async () => {
    const client = createPlainServiceClient();
    setFetchSource(() => tlsClientScope.source());
    const realFetch = globalThis.fetch;
    const viaGlobal: string[] = [];
    globalThis.fetch = (input, init) => {
      viaGlobal.push(String(input));
      return realFetch(input, init);
    };
    try {
      const inScope = await tlsClientScope.run(client.fetch, () =>
        requestJson<{ body: string }>(`${base}/json`, { body: 'in scope', contentType: 'text/plain' }),
      );
      expect(inScope.body.body).toBe('in scope');
      expect(viaGlobal).toEqual([]);
      // Outside any service's scope (an SDK, the seed): the global fetch, where a test or a meter watches.
      const outside = await requestJson<{ body: string }>(`${base}/json`, {
        body: 'outside',
        contentType: 'text/plain',
      });
      expect(outside.body.body).toBe('outside');
      expect(viaGlobal).toEqual([`${base}/json`]);
      // A plain fetch in the scope stays the global one.
      expect(tlsClientScope.run(client.fetch, () => exchangeFor(undefined))).toBe(client.fetch.exchange);
      await tlsClientScope.run(client.fetch, () => client.fetch(`${base}/json`, { method: 'GET' }));
      expect(viaGlobal).toHaveLength(2);
    } finally {
      globalThis.fetch = realFetch;
      await client.close();
    }
  });
});
