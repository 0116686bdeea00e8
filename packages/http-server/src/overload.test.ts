import { request } from 'node:http';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer } from './server.ts';

interface Gate {
  readonly opened: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Resolves once `condition` holds, polling; fails the test after 5 s. */
async function eventually(condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the in-flight limit', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  /** A server with /slow (waits for the test's gate), /fast and /events (a hijacked SSE stream). */
  async function start(options: { inFlightRequestsMax: number; overloadRetryAfterSeconds?: number }) {
    const server = createHttpServer({ name: 'test', ...options });
    app = server;
    const state = { gate: gate(), slowStarted: 0, slowFinished: 0 };
    server.get('/slow', async () => {
      state.slowStarted += 1;
      await state.gate.opened;
      state.slowFinished += 1;
      return { slow: true };
    });
    server.get('/fast', async () => ({ fast: true }));
    server.get('/events', async (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      reply.raw.write(': connected\n\n');
    });
    const url = await server.listen({ port: 0, host: '127.0.0.1' });
    return { url, state };
  }

  it('answers 503 SERVICE_OVERLOADED with Retry-After above the limit, and takes requests again once they end', async () => {
    const { url, state } = await start({ inFlightRequestsMax: 2, overloadRetryAfterSeconds: 7 });
    const slow = [fetch(`${url}/slow`), fetch(`${url}/slow`)];
    await eventually(() => state.slowStarted === 2);

    const refused = await fetch(`${url}/fast`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('7');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('SERVICE_OVERLOADED');

    state.gate.open();
    for (const response of await Promise.all(slow)) expect(response.status).toBe(200);
    await eventually(async () => (await fetch(`${url}/fast`)).status === 200);
    // Many requests one after the other: every slot was given back.
    for (let i = 0; i < 10; i += 1) expect((await fetch(`${url}/fast`)).status).toBe(200);
  });

  it('gives the slot back when the client goes away before the answer', async () => {
    const { url, state } = await start({ inFlightRequestsMax: 1 });
    const slow = request(`${url}/slow`);
    const closed = new Promise((resolve) => slow.once('close', resolve));
    slow.on('error', () => {});
    slow.end();
    await eventually(() => state.slowStarted === 1);
    expect((await fetch(`${url}/fast`)).status).toBe(503);

    slow.destroy();
    await closed;
    await eventually(async () => (await fetch(`${url}/fast`)).status === 200);
    expect(state.slowFinished).toBe(0);
    state.gate.open();
  });

  it('does not count a hijacked Server-Sent Events stream for as long as it is open', async () => {
    const { url } = await start({ inFlightRequestsMax: 1 });
    const streams = await Promise.all(
      [1, 2, 3].map(async () => {
        const abort = new AbortController();
        const response = await fetch(`${url}/events`, { signal: abort.signal });
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe('text/event-stream');
        return abort;
      }),
    );
    await eventually(async () => (await fetch(`${url}/fast`)).status === 200);
    expect((await fetch(`${url}/fast`)).status).toBe(200);
    for (const stream of streams) stream.abort();
  });

  it('counts with app.inject too, and answers the overload with the default Retry-After of 1 s', async () => {
    const server = createHttpServer({ name: 'test', inFlightRequestsMax: 1 });
    app = server;
    const slowGate = gate();
    server.get('/slow', async () => {
      await slowGate.opened;
      return {};
    });
    // inject is lazy: then() sends the request.
    const slow = server.inject({ method: 'GET', url: '/slow' }).then((response) => response);
    await eventually(async () => (await server.inject({ method: 'GET', url: '/health' })).statusCode === 503);
    const refused = await server.inject({ method: 'GET', url: '/health' });
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toMatchObject({ error: { code: 'SERVICE_OVERLOADED' } });
    slowGate.open();
    expect((await slow).statusCode).toBe(200);
    expect((await server.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it.each([
    [{ inFlightRequestsMax: 0 }],
    [{ inFlightRequestsMax: 1.5 }],
    [{ inFlightRequestsMax: Number.NaN }],
    [{ inFlightRequestsMax: 1_000_001 }],
    [{ overloadRetryAfterSeconds: 0 }],
    [{ overloadRetryAfterSeconds: 3_601 }],
  ])('refuses the option %o', (options) => {
    expect(() => createHttpServer({ name: 'test', ...options })).toThrow(RangeError);
  });
});

describe('Retry-After on errors', () => {
  const app = createHttpServer({ name: 'test' });
  app.get('/hinted', async () => {
    throw new MpayError('BANK_UNAVAILABLE', undefined, { retryAfterSeconds: 30 });
  });
  app.get('/rate-limited', async () => {
    throw new MpayError('REQUEST_RATE_LIMITED');
  });
  app.get('/overloaded', async () => {
    throw new MpayError('SERVICE_OVERLOADED');
  });
  app.get('/limiter', async (_request, reply) => {
    // What a rate-limit plugin does: its own Retry-After, then a 429 error.
    reply.header('retry-after', '60');
    throw Object.assign(new Error('rate limit'), { statusCode: 429 });
  });
  app.get('/unavailable', async () => {
    throw new MpayError('SERVICE_UNAVAILABLE');
  });
  app.get('/refused', async () => {
    throw new MpayError('INSUFFICIENT_FUNDS');
  });

  it.each([
    ['/hinted', 502, 'BANK_UNAVAILABLE', '30'],
    ['/rate-limited', 429, 'REQUEST_RATE_LIMITED', '1'],
    ['/overloaded', 503, 'SERVICE_OVERLOADED', '1'],
    ['/limiter', 429, 'REQUEST_RATE_LIMITED', '60'],
    ['/unavailable', 503, 'SERVICE_UNAVAILABLE', undefined],
    ['/refused', 422, 'INSUFFICIENT_FUNDS', undefined],
  ])('%s answers %i %s with Retry-After %s', async (url, status, code, retryAfter) => {
    const response = await app.inject({ method: 'GET', url });
    expect(response.statusCode).toBe(status);
    expect(response.json()).toMatchObject({ error: { code } });
    expect(response.headers['retry-after']).toBe(retryAfter);
  });
});
