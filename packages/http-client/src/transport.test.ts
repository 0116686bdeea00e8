import { afterEach, describe, expect, it } from 'vitest';
import { requestJson } from './client.ts';
import { type FetchFunction, setFetchSource } from './transport.ts';

function answering(name: string, seen: string[]): FetchFunction {
  return async (url) => {
    seen.push(`${name} ${url}`);
    return new Response(JSON.stringify({ from: name }), { headers: { 'content-type': 'application/json' } });
  };
}

afterEach(() => setFetchSource(undefined));

describe('the fetch outgoing calls use', () => {
  it('is the one given to the call, else the registered source, never the global fetch', async () => {
    const seen: string[] = [];
    setFetchSource(() => answering('source', seen));
    expect((await requestJson('https://bank.test/a')).body).toEqual({ from: 'source' });
    expect((await requestJson('https://bank.test/b', { fetch: answering('given', seen) })).body).toEqual({
      from: 'given',
    });
    expect(seen).toEqual(['source https://bank.test/a', 'given https://bank.test/b']);
  });

  it('falls back to the global fetch when the source has none for the current work', async () => {
    setFetchSource(() => undefined);
    // Nothing listens on loopback port 9 (discard): the global fetch fails, as SERVICE_UNAVAILABLE.
    await expect(requestJson('http://127.0.0.1:9/none', { timeoutMs: 5_000 })).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
  });

  it("goes through a fetch's own exchange when it has one, and through the fetch when it has none", async () => {
    const calls: string[] = [];
    const withExchange: FetchFunction = Object.assign(
      async () => {
        calls.push('fetch');
        return new Response('{"via":"fetch"}');
      },
      {
        exchange: async (url: string, request: { method: string }) => {
          calls.push(`exchange ${request.method} ${url}`);
          return {
            status: 200,
            contentType: 'application/json',
            header: () => undefined,
            read: async () => '{"via":"exchange"}',
            discard: async () => undefined,
          };
        },
      },
    );
    setFetchSource(() => withExchange);
    expect((await requestJson('https://bank.test/a', { body: '{}' })).body).toEqual({ via: 'exchange' });
    expect((await requestJson('https://bank.test/b', { fetch: answering('given', calls) })).body).toEqual({
      from: 'given',
    });
    expect(calls).toEqual(['exchange POST https://bank.test/a', 'given https://bank.test/b']);
  });
});
