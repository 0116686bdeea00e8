import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, securityHeaders } from './server.ts';

/** The headers every answer carries, over real HTTP: a JSON answer, an error, the health check, a route's own. */
describe('security headers and a database that gave up waiting', () => {
  let databaseWorks = true;
  const app = createHttpServer({
    name: 'headers',
    readiness: [
      {
        name: 'database',
        check: async () => (databaseWorks ? undefined : Promise.reject(new Error('down'))),
      },
      { name: 'hsm', check: async () => undefined },
    ],
  });
  let url = '';
  beforeAll(async () => {
    app.get('/json', async () => ({ ok: true }));
    app.get('/cached', async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=60').send('tile'),
    );
    app.get('/locked', async () => {
      // What pg throws when lock_timeout runs out.
      throw Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' });
    });
    app.get('/slow', async () => {
      throw Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  it('sets every security header on answers, errors and the health check', async () => {
    for (const path of ['/json', '/health', '/nowhere']) {
      const response = await fetch(`${url}${path}`);
      for (const [name, value] of Object.entries(securityHeaders))
        expect(response.headers.get(name), `${path} ${name}`).toBe(value);
    }
  });

  it("keeps a route's own cache-control", async () => {
    const response = await fetch(`${url}/cached`);
    expect(response.headers.get('cache-control')).toBe('public, max-age=60');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers a lock or statement timeout with 503 SERVICE_UNAVAILABLE and Retry-After, not a 500', async () => {
    for (const path of ['/locked', '/slow']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status, path).toBe(503);
      expect(response.headers.get('retry-after'), path).toBe('1');
      expect(((await response.json()) as { error: { code: string } }).error.code, path).toBe(
        'SERVICE_UNAVAILABLE',
      );
    }
  });

  it('answers /ready with each check, 503 naming the one that failed (its cause for the log only)', async () => {
    const ready = await fetch(`${url}/ready`);
    expect([ready.status, await ready.json()]).toEqual([
      200,
      { status: 'ready', service: 'headers', checks: { database: 'ok', hsm: 'ok' } },
    ]);
    databaseWorks = false;
    const failing = await fetch(`${url}/ready`);
    expect([failing.status, await failing.json()]).toEqual([
      503,
      { status: 'not_ready', service: 'headers', checks: { database: 'failed', hsm: 'ok' } },
    ]);
    databaseWorks = true;
  });
});

describe('a readiness check that hangs', () => {
  let calls = 0;
  let hanging = true;
  let release: () => void = () => undefined;
  const app = createHttpServer({
    name: 'stuck',
    readinessDeadlineMs: 200,
    readiness: [
      {
        name: 'database',
        check: () => {
          calls += 1;
          return hanging
            ? new Promise<void>((done) => {
                release = done;
              })
            : Promise.resolve();
        },
      },
    ],
  });
  let url = '';
  beforeAll(async () => {
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    release();
    await app.close();
  });

  it('runs once for many probes while it hangs (a query waiting on a lock holds one connection, not the pool)', async () => {
    const probes = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const answer = await fetch(`${url}/ready`);
        return [answer.status, ((await answer.json()) as { checks: unknown }).checks];
      }),
    );
    expect(probes).toEqual(Array.from({ length: 5 }, () => [503, { database: 'timeout' }]));
    const again = await fetch(`${url}/ready`);
    expect(again.status).toBe(503);
    await again.arrayBuffer();
    expect(calls).toBe(1);
    // Once it ends, the next probe runs it again.
    hanging = false;
    release();
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    expect(calls).toBe(2);
  });
});
