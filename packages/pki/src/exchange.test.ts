import { createServer, type Server } from 'node:http';
import { exchangeFor, requestJson, setFetchSource } from '@mpay/http-client';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, waitFor } from '../../../test/support/deadlines.ts';
import { type EndlessAnswerServer, startEndlessAnswerServer } from '../../../test/support/endless-answer.ts';
import {
  createPlainServiceClient,
  discardDrainBytesMax,
  discardDrainMs,
  exchangeThrough,
  tlsClientScope,
} from './client.ts';

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

  it('stops reading an answer it discards past discardDrainBytesMax, the connection with it', async () => {
    expect(discardDrainBytesMax).toBe(16 * 1024);
    // Its own endless server: `streamed` says what its first answer wrote before its client went.
    const own = await startEndlessAnswerServer(streamedBytesMax);
    try {
      const answer = await exchangeThrough(agent, `${own.base}/endless`, {
        method: 'GET',
        headers: {},
        signal: AbortSignal.timeout(30_000),
      });
      await answer.discard();
      // Cut past the bytes, not after discardDrainMs (by then the whole 64 MiB would have come).
      expect(await own.streamed).toBeLessThan(streamedBytesMax / 2);
    } finally {
      await own.close();
    }
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

describe('an answer discarded (a webhook’s): its connection kept when its body ends soon', () => {
  let connections = 0;
  const closedAnswers: string[] = [];
  let drips: Server;
  let dripsBase = '';
  // One connection to the server: a call after another goes over the first's connection if it was kept.
  let dripAgent = new Agent({ connections: 1 });

  beforeAll(async () => {
    drips = createServer((request, response) => {
      response.on('close', () => closedAnswers.push(request.url ?? ''));
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('a');
      if (request.url === '/short') {
        // Still arriving when the client discards it: the rest comes a moment later.
        setTimeout(() => response.end('b'), 50);
        return;
      }
      // /drip: a byte every 100 ms, never the end.
      const timer = setInterval(() => response.write('x'), 100);
      response.on('close', () => clearInterval(timer));
    });
    drips.on('connection', () => {
      connections += 1;
    });
    await new Promise<void>((done) => drips.listen(0, '127.0.0.1', done));
    dripsBase = `http://127.0.0.1:${(drips.address() as { port: number }).port}`;
  });
  afterEach(async () => {
    await dripAgent.close();
    dripAgent = new Agent({ connections: 1 });
  });
  afterAll(async () => {
    await dripAgent.close();
    drips.closeAllConnections();
    await new Promise((done) => drips.close(done));
  });

  const discarded = async (path: string) => {
    const answer = await exchangeThrough(dripAgent, `${dripsBase}${path}`, {
      method: 'GET',
      headers: {},
      signal: AbortSignal.timeout(requestDeadlineMs),
    });
    expect(answer.status).toBe(200);
    const discarding = performance.now();
    await answer.discard();
    return performance.now() - discarding;
  };

  it('reads a short body still arriving to its end, and the next call goes over the same connection', async () => {
    const before = connections;
    await discarded('/short');
    await discarded('/short');
    expect(connections - before).toBe(1);
  });

  it('returns at once, drops a body that has not ended after discardDrainMs, and its connection with it', async () => {
    expect(discardDrainMs).toBe(1_000);
    const before = connections;
    const started = performance.now();
    // The caller does not wait for the body (a delivery queued behind a webhook must not).
    expect(await discarded('/drip')).toBeLessThan(discardDrainMs / 2);
    // The server sees its answer's connection go, not before discardDrainMs.
    await waitFor(() => closedAnswers.includes('/drip'), {
      deadlineMs: requestDeadlineMs,
      what: 'the dripping answer closed',
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(discardDrainMs - 50);
    // Then a call needs a connection of its own (undici may open it before the call is made).
    await discarded('/short');
    expect(connections - before).toBeGreaterThanOrEqual(2);
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
