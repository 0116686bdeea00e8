import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequestCounts } from './request-meter.ts';
import { createHttpServer } from './server.ts';

describe('the requests each server answered (httpRequestCounts)', () => {
  // A name of its own: other tests in this process count under theirs.
  const name = `meter-${randomUUID().slice(0, 8)}`;
  const app = createHttpServer({ name, inFlightRequestsMax: 1 });
  app.get('/hello', async () => ({ hello: 'world' }));
  let url = '';
  beforeAll(async () => {
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  it('counts every request a server answers under its name, a refused or unknown one too', async () => {
    const before = httpRequestCounts()[name] ?? 0;
    expect((await fetch(`${url}/hello`)).status).toBe(200);
    expect((await fetch(`${url}/hello`)).status).toBe(200);
    expect((await fetch(`${url}/nowhere`)).status).toBe(404);
    expect((httpRequestCounts()[name] ?? 0) - before).toBe(3);
  });

  it('gives a copy: a reading does not move with later requests', async () => {
    const reading = httpRequestCounts();
    const at = reading[name] ?? 0;
    await fetch(`${url}/hello`);
    expect(reading[name]).toBe(at);
    expect(httpRequestCounts()[name]).toBe(at + 1);
  });
});
