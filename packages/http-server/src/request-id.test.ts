import { requestJson } from '@mpay/http-client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withRequestId } from './request-id.ts';
import { createHttpServer } from './server.ts';

/**
 * Two services: the front answers by calling the back with @mpay/http-client,
 * as the gateway calls a bank. The back says which request id it was given.
 */
let front: FastifyInstance;
let back: FastifyInstance;
let frontUrl = '';
let backUrl = '';

beforeAll(async () => {
  back = createHttpServer({ name: 'back' });
  back.get('/whoami', async (request) => ({
    requestId: request.id,
    header: request.headers['x-request-id'] ?? null,
  }));
  backUrl = await back.listen({ port: 0, host: '127.0.0.1' });
  front = createHttpServer({ name: 'front' });
  front.get('/work', async (request) => {
    // Something asynchronous first, as real work does: the id must survive it.
    await new Promise((resolve) => setTimeout(resolve, 1));
    const { body } = await requestJson<{ requestId: string }>(`${backUrl}/whoami`);
    return { front: request.id, back: body.requestId };
  });
  frontUrl = await front.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await front?.close();
  await back?.close();
});

describe('request ids', () => {
  it("carries the caller's well-formed id through the service to the next one, and answers with it", async () => {
    const response = await fetch(`${frontUrl}/work`, { headers: { 'x-request-id': 'shop-order-42:try-1' } });
    expect(response.headers.get('x-request-id')).toBe('shop-order-42:try-1');
    expect(await response.json()).toEqual({ front: 'shop-order-42:try-1', back: 'shop-order-42:try-1' });
  });

  it('makes a new id for a request without one or with a malformed one, and each request has its own', async () => {
    const ids = new Set<string>();
    for (const given of [undefined, '', 'x'.repeat(101), 'two words', 'caf\u00e9', '<script>']) {
      const response = await fetch(`${frontUrl}/work`, {
        headers: given === undefined ? {} : { 'x-request-id': given },
      });
      const body = (await response.json()) as { front: string; back: string };
      expect(body.front).toMatch(/^[0-9a-f-]{36}$/);
      expect(body.back).toBe(body.front);
      expect(response.headers.get('x-request-id')).toBe(body.front);
      ids.add(body.front);
    }
    expect(ids.size).toBe(6);
  });

  it('names background work by withRequestId, and calls outside any work carry none', async () => {
    const named = await withRequestId('payment:0b6f7f1e', () =>
      requestJson<{ requestId: string; header: string | null }>(`${backUrl}/whoami`),
    );
    expect(named.body).toEqual({ requestId: 'payment:0b6f7f1e', header: 'payment:0b6f7f1e' });
    const bare = await requestJson<{ requestId: string; header: string | null }>(`${backUrl}/whoami`);
    expect(bare.body.header).toBeNull();
    expect(() => withRequestId('not valid', () => 1)).toThrow(RangeError);
  });
});
