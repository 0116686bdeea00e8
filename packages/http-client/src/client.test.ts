import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectedCodeOf } from '../../../test/support/code-of.ts';
import { requestAnswer, requestJson, requestObject, requestText } from './client.ts';
import { readBoundedBytes } from './transport.ts';

/** A real HTTP server on loopback answering what each path asks for. */
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url === '/ok') return response.end(JSON.stringify({ fine: true }));
    if (request.url === '/refused') {
      response.statusCode = 422;
      return response.end(JSON.stringify({ error: { code: 'INSUFFICIENT_FUNDS' }, extra: 'kept' }));
    }
    if (request.url === '/garbage') return response.end('<html>');
    if (request.url === '/busy') {
      response.writeHead(429, { 'retry-after': '3', 'x-repeated': ['a', 'b'] });
      return response.end('{}');
    }
    if (request.url === '/bytes') {
      // Not UTF-8: a reader that decodes would change them.
      response.setHeader('content-type', 'application/octet-stream');
      return response.end(Buffer.from([0xff, 0xfe, 0x00, 0x80]));
    }
    // Valid JSON, but not an object: what a caller reading fields of the answer must not take.
    const notObjects: Record<string, string> = {
      '/null': 'null',
      '/array': '[]',
      '/string': '"ok"',
      '/empty': '',
    };
    const notObject = notObjects[request.url ?? ''];
    if (notObject !== undefined) return response.end(notObject);
    // Never answers: only the caller's signal or timeout ends the request.
    if (request.url === '/silent') return;
    if (request.url === '/huge') {
      // Far more than the client's limit, in many chunks: the client must stop reading early.
      const chunk = 'x'.repeat(64 * 1024);
      let sent = 0;
      const write = () => {
        while (sent < 200 && response.write(chunk)) sent += 1;
        if (sent < 200) response.once('drain', write);
        else response.end();
      };
      return write();
    }
    response.statusCode = 500;
    return response.end('');
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((closed) => server.close(closed));
});

describe('bounded JSON requests', () => {
  it('answers a success, and turns an error answer into its stable code', async () => {
    expect((await requestJson<{ fine: boolean }>(`${base}/ok`)).body).toEqual({ fine: true });
    expect(await rejectedCodeOf(requestJson(`${base}/refused`))).toBe('INSUFFICIENT_FUNDS');
    expect(await rejectedCodeOf(requestJson(`${base}/empty-500`))).toBe('SERVICE_UNAVAILABLE');
  });

  it('requestAnswer keeps the whole error answer for callers that need more than the code', async () => {
    const answer = await requestAnswer(`${base}/refused`);
    expect(answer).toEqual({ status: 422, body: { error: { code: 'INSUFFICIENT_FUNDS' }, extra: 'kept' } });
  });

  it('refuses an answer over the limit and one that is not JSON with the unreachable code, never a raw error', async () => {
    expect(
      await rejectedCodeOf(requestJson(`${base}/huge`, { responseBytesMax: 100_000 }, 'BANK_UNAVAILABLE')),
    ).toBe('BANK_UNAVAILABLE');
    expect(await rejectedCodeOf(requestJson(`${base}/garbage`))).toBe('SERVICE_UNAVAILABLE');
    expect(await rejectedCodeOf(requestJson('http://127.0.0.1:1/nothing-listens'))).toBe(
      'SERVICE_UNAVAILABLE',
    );
  });

  it("ends a request when the caller's signal aborts, long before its timeout", async () => {
    const caller = new AbortController();
    const pending = rejectedCodeOf(
      requestJson(`${base}/silent`, { timeoutMs: 10 * 60_000, signal: caller.signal }),
    );
    caller.abort();
    expect(await pending).toBe('SERVICE_UNAVAILABLE');
    const already = AbortSignal.abort();
    expect(
      await rejectedCodeOf(requestJson(`${base}/silent`, { timeoutMs: 10 * 60_000, signal: already })),
    ).toBe('SERVICE_UNAVAILABLE');
  });

  it('requestObject refuses a success whose body is not a JSON object with the unreachable code', async () => {
    expect((await requestObject<{ fine?: unknown }>(`${base}/ok`)).body).toEqual({ fine: true });
    for (const path of ['/null', '/array', '/string', '/empty'])
      expect(await rejectedCodeOf(requestObject(`${base}${path}`, {}, 'BANK_UNAVAILABLE')), path).toBe(
        'BANK_UNAVAILABLE',
      );
    // requestJson takes them as they are (a 204 with no body is a success for some callers).
    expect((await requestJson(`${base}/empty`)).body).toBeNull();
    expect(await rejectedCodeOf(requestObject(`${base}/refused`))).toBe('INSUFFICIENT_FUNDS');
  });

  it('requestText answers any status with its text and content type, within the same limits', async () => {
    expect(await requestText(`${base}/garbage`)).toMatchObject({
      status: 200,
      contentType: '',
      text: '<html>',
    });
    // The answer's headers by name, in any case: what a caller waits on a 429 for.
    const busy = await requestText(`${base}/busy`);
    expect(busy.status).toBe(429);
    expect(busy.header('Retry-After')).toBe('3');
    expect(busy.header('x-repeated')).toBe('a, b');
    expect(busy.header('x-absent')).toBeUndefined();
    expect(await requestText(`${base}/refused`)).toMatchObject({ status: 422 });
    await expect(
      requestText(`${base}/huge`, { responseBytesMax: 100_000 }, 'BANK_UNAVAILABLE'),
    ).rejects.toMatchObject({
      code: 'BANK_UNAVAILABLE',
      detail: 'response too large',
    });
    await expect(requestText(`${base}/silent`, { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
  });

  it('readBoundedBytes gives the bytes as they came, and nothing past the limit', async () => {
    expect(await readBoundedBytes(await fetch(`${base}/bytes`), 4)).toEqual(
      new Uint8Array([0xff, 0xfe, 0x00, 0x80]),
    );
    expect(await readBoundedBytes(await fetch(`${base}/bytes`), 3)).toBeUndefined();
  });
});
