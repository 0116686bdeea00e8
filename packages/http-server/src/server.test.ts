import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, within } from '../../../test/support/deadlines.ts';
import { createHttpServer } from './server.ts';

describe('the HTTP edge', () => {
  const app = createHttpServer({ name: 'test', bodyLimitBytes: 1024 });
  let url = '';
  beforeAll(async () => {
    app.post(
      '/echo',
      {
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['amount'],
            properties: { amount: { type: 'string' } },
          },
        },
      },
      async (request) => request.body,
    );
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  const post = async (body: string, type = 'application/json') => {
    const response = await fetch(`${url}/echo`, { method: 'POST', body, headers: { 'content-type': type } });
    return { status: response.status, body: (await response.json()) as { error?: { code: string } } };
  };

  it('refuses a number where a string is expected instead of coercing it', async () => {
    expect(await post('{"amount":100}')).toMatchObject({
      status: 400,
      body: { error: { code: 'REQUEST_INVALID' } },
    });
  });

  it('refuses unknown fields instead of dropping them', async () => {
    expect(await post('{"amount":"1","extra":true}')).toMatchObject({
      status: 400,
      body: { error: { code: 'REQUEST_INVALID' } },
    });
  });

  it('answers 413 REQUEST_TOO_LARGE over the body limit and REQUEST_INVALID on broken JSON', async () => {
    expect(await post(`{"amount":"${'9'.repeat(2048)}"}`)).toMatchObject({
      status: 413,
      body: { error: { code: 'REQUEST_TOO_LARGE' } },
    });
    expect(await post('{"amount":')).toMatchObject({
      status: 400,
      body: { error: { code: 'REQUEST_INVALID' } },
    });
  });

  it('answers unknown routes with NOT_FOUND', async () => {
    const response = await fetch(`${url}/nope`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });
});

/** How a GET ends for the client: 'answered', or the error's code (ECONNRESET when the server cuts it). */
function outcomeOf(port: number, path: string): Promise<string> {
  return new Promise<string>((resolve) => {
    const call = request({ host: '127.0.0.1', port, path, agent: false }, () => resolve('answered'));
    call.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message));
    call.end();
  });
}

describe('closing with a request that never ends', () => {
  it('cuts the connections still open once closeGraceMs is over, so that the close ends', async () => {
    const app = createHttpServer({ name: 'test', closeGraceMs: 100 });
    let arrived: () => void = () => undefined;
    const handlerReached = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    // A handler that never answers: a peer that stops reading leaves the server in the same place.
    app.get('/stuck', () => {
      arrived();
      return new Promise(() => undefined);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const cut = outcomeOf(port, '/stuck');
    await within(handlerReached, { deadlineMs: requestDeadlineMs, what: 'the request to reach its handler' });
    await within(app.close(), { deadlineMs: requestDeadlineMs, what: 'the close to end' });
    expect(await cut).toBe('ECONNRESET');
  });

  it('waits, after the cut, for a handler still running to end before the close ends', async () => {
    const app = createHttpServer({ name: 'test', closeGraceMs: 100 });
    const order: string[] = [];
    let arrived: () => void = () => undefined;
    const handlerReached = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    app.get('/slow', async () => {
      arrived();
      await released;
      order.push('handler ended');
      return { ok: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const cut = outcomeOf(port, '/slow');
    await within(handlerReached, { deadlineMs: requestDeadlineMs, what: 'the request to reach its handler' });
    const closed = app.close().then(() => order.push('close ended'));
    expect(await within(cut, { deadlineMs: requestDeadlineMs, what: 'the connection to be cut' })).toBe(
      'ECONNRESET',
    );
    // The connection is gone; the handler's work (a transaction, an HSM call) must still end first.
    release();
    await within(closed, { deadlineMs: requestDeadlineMs, what: 'the close to end' });
    expect(order).toEqual(['handler ended', 'close ended']);
  });

  it('refuses a grace outside 0..600,000 ms', () => {
    expect(() => createHttpServer({ name: 'test', closeGraceMs: -1 })).toThrow(/closeGraceMs/);
    expect(() => createHttpServer({ name: 'test', closeGraceMs: 600_001 })).toThrow(/closeGraceMs/);
  });
});
