import { type Database, openTestDatabase } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, waitFor } from '../../../test/support/deadlines.ts';
import {
  bearerTokenAuthorizer,
  createMetricsRegistry,
  metricsTokenFromEnvironment,
  observeRouteSteps,
  parsePrometheusText,
  readDurationHistograms,
  registerDatabaseMetrics,
  registerMetricsRoute,
  routeOutcomeOf,
} from './metrics.ts';
import { createHttpServer } from './server.ts';

/**
 * The parts the services build their metrics from: the bearer-token check a
 * scraper passes, durations kept in a database turned into histograms, and
 * the timing of the routes that are protocol steps.
 */
describe('metricsTokenFromEnvironment (MPAY_METRICS_TOKEN of a service process)', () => {
  it('absent or empty: no token; 32 characters or more: the token; shorter or with whitespace: refuses', () => {
    expect(metricsTokenFromEnvironment({})).toBeUndefined();
    expect(metricsTokenFromEnvironment({ MPAY_METRICS_TOKEN: '' })).toBeUndefined();
    const token = 'f'.repeat(32);
    expect(metricsTokenFromEnvironment({ MPAY_METRICS_TOKEN: token })).toBe(token);
    expect(() => metricsTokenFromEnvironment({ MPAY_METRICS_TOKEN: 'f'.repeat(31) })).toThrow(
      /MPAY_METRICS_TOKEN must be at least 32 characters/,
    );
    expect(() => metricsTokenFromEnvironment({ MPAY_METRICS_TOKEN: `${token} ` })).toThrow(RangeError);
  });
});

describe('bearerTokenAuthorizer on GET /metrics', () => {
  const token = 'a-scrape-token-of-32-characters!';
  const app = createHttpServer({ name: 'test', logger: false });
  registerMetricsRoute(app, createMetricsRegistry(), { authorize: bearerTokenAuthorizer(token) });
  const unset = createHttpServer({ name: 'test', logger: false });
  registerMetricsRoute(unset, createMetricsRegistry(), { authorize: bearerTokenAuthorizer(undefined) });
  const short = createHttpServer({ name: 'test', logger: false });
  registerMetricsRoute(short, createMetricsRegistry(), { authorize: bearerTokenAuthorizer('short') });
  afterAll(async () => {
    await Promise.all([app.close(), unset.close(), short.close()]);
  });
  const status = async (server: typeof app, authorization?: string) =>
    (
      await server.inject({
        method: 'GET',
        url: '/metrics',
        headers: authorization === undefined ? {} : { authorization },
      })
    ).statusCode;

  it('answers the token and refuses everything else', async () => {
    expect(await status(app, `Bearer ${token}`)).toBe(200);
    expect(await status(app)).toBe(401);
    expect(await status(app, token)).toBe(401);
    expect(await status(app, `Bearer ${token.slice(0, -1)}?`)).toBe(401);
    expect(await status(app, `Bearer ${token}x`)).toBe(401);
    expect(await status(app, `Basic ${token}`)).toBe(401);
  });

  it('lets nobody scrape without a token, or with one too short to be secret', async () => {
    expect(await status(unset)).toBe(401);
    expect(await status(unset, 'Bearer ')).toBe(401);
    expect(await status(short, 'Bearer short')).toBe(401);
  });
});

describe('readDurationHistograms', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openTestDatabase('metrics');
    await database.exec(
      `CREATE TABLE steps (kind text NOT NULL, seconds float8 NOT NULL);
       INSERT INTO steps VALUES ('a', 0.2), ('a', 1), ('a', 7), ('b', 0.5), ('c', 100);`,
    );
  });
  afterAll(async () => {
    await database?.close();
  });

  it('counts each key cumulatively per bound, with its count and sum', async () => {
    const histograms = await readDurationHistograms(
      database,
      'SELECT kind AS key, seconds FROM steps WHERE kind <> $1',
      ['c'],
      [0.5, 1, 5],
    );
    expect(Object.fromEntries(histograms)).toEqual({
      a: { bucketCounts: [1, 2, 2], count: 3, sum: 8.2 },
      b: { bucketCounts: [1, 1, 1], count: 1, sum: 0.5 },
    });
  });

  it('answers no key for no rows', async () => {
    const histograms = await readDurationHistograms(
      database,
      'SELECT kind AS key, seconds FROM steps WHERE false',
      [],
      [1],
    );
    expect(histograms.size).toBe(0);
  });

  it('gives a registry histogram the same figures as observing each value', async () => {
    const registry = createMetricsRegistry();
    const read = registry.histogram({ name: 'read_seconds', help: 'Read.', buckets: [0.5, 1, 5] });
    const observed = registry.histogram({
      name: 'observed_seconds',
      help: 'Observed.',
      buckets: [0.5, 1, 5],
    });
    const histograms = await readDurationHistograms(
      database,
      `SELECT kind AS key, seconds FROM steps WHERE kind = 'a'`,
      [],
      [0.5, 1, 5],
    );
    read.set({}, histograms.get('a')!);
    for (const value of [0.2, 1, 7]) observed.observe({}, value);
    const samples = parsePrometheusText(await registry.expose());
    const figures = (prefix: string) =>
      samples
        .filter((sample) => sample.name.startsWith(prefix))
        .map((sample) => [sample.name.slice(prefix.length), sample.labels.le, sample.value]);
    expect(figures('read_seconds')).toEqual(figures('observed_seconds'));
  });
});

describe('observeRouteSteps', () => {
  it('times only the routes named as steps, by their pattern, with how they ended', async () => {
    const app = createHttpServer({ name: 'test', logger: false });
    const seen: [string, string, number][] = [];
    observeRouteSteps(app, { 'POST /orders/:id': 'order', 'GET /fail': 'fail' }, (step, outcome, seconds) =>
      seen.push([step, outcome, seconds]),
    );
    app.register(async (scope) => {
      scope.post('/orders/:id', async (request, reply) =>
        reply.code((request.params as { id: string }).id === 'bad' ? 422 : 201).send({}),
      );
    });
    app.get('/fail', async () => {
      throw new Error('boom');
    });
    app.get('/other', async () => ({}));
    await app.inject({ method: 'POST', url: '/orders/1', payload: {} });
    await app.inject({ method: 'POST', url: '/orders/bad', payload: {} });
    await app.inject({ method: 'GET', url: '/fail' });
    await app.inject({ method: 'GET', url: '/other' });
    await app.close();
    expect(seen.map(([step, outcome]) => [step, outcome])).toEqual([
      ['order', 'ok'],
      ['order', 'refused'],
      ['fail', 'error'],
    ]);
    for (const [, , seconds] of seen) expect(seconds).toBeGreaterThanOrEqual(0);
  });

  it('names outcomes by status class', () => {
    expect([200, 202, 299, 300, 400, 404, 499, 500, 503].map(routeOutcomeOf)).toEqual([
      'ok',
      'ok',
      'ok',
      'error',
      'refused',
      'refused',
      'refused',
      'error',
      'error',
    ]);
  });
});

describe('registerDatabaseMetrics: the connections the server ended', () => {
  let database: Database;
  let administrator: Database;
  beforeAll(async () => {
    database = await openTestDatabase('metrics_lost');
    administrator = await openTestDatabase('metrics_admin');
  });
  afterAll(async () => {
    await Promise.all([database.close(), administrator.close()]);
  });

  it('counts each connection the server ends (PostgreSQL), labelled with the schema; nothing on PGlite', async () => {
    const registry = createMetricsRegistry();
    registerDatabaseMetrics(registry, database);
    const lostOf = async () =>
      parsePrometheusText(await registry.expose()).find(
        (sample) => sample.name === 'mpay_database_connections_lost_total',
      );
    if (database.backend === 'pglite') {
      expect(await lostOf()).toBeUndefined();
      return;
    }
    expect(await lostOf()).toMatchObject({ labels: { schema: database.schema }, value: 0 });
    await database
      .transaction(async (sql) => {
        const { rows } = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await administrator.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        await waitFor(
          async () =>
            (await administrator.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [rows[0]!.pid])).rows
              .length === 0,
          { deadlineMs: requestDeadlineMs, what: 'the backend to end' },
        );
        await sql.query('SELECT 1');
      })
      .catch(() => undefined);
    expect(await lostOf()).toMatchObject({ labels: { schema: database.schema }, value: 1 });
  });
});
