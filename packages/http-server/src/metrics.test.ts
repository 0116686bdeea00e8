import { MpayError } from '@mpay/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMetricsLimits,
  createMetricsRegistry,
  histogramQuantile,
  parsePrometheusText,
  prometheusContentType,
  registerMetricsRoute,
} from './metrics.ts';
import { createHttpServer } from './server.ts';

const sampleOf = (text: string, name: string, labels: Record<string, string> = {}) =>
  parsePrometheusText(text).find(
    (sample) =>
      sample.name === name &&
      Object.keys(labels).length === Object.keys(sample.labels).length &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )?.value;

describe('the metrics registry', () => {
  it('renders counters, gauges and histograms in the Prometheus text format', async () => {
    const registry = createMetricsRegistry();
    const payments = registry.counter({
      name: 'payments_total',
      help: 'Payments that reached each state.',
      labelNames: ['state'],
    });
    const depth = registry.gauge({ name: 'outbox_pending', help: 'Rows waiting.', labelNames: ['kind'] });
    const latency = registry.histogram({
      name: 'payment_duration_seconds',
      help: 'Request to final state.',
      buckets: [0.5, 1, 5],
    });
    payments.inc({ state: 'completed' });
    payments.inc({ state: 'completed' }, 2);
    payments.inc({ state: 'declined' });
    depth.set({ kind: 'webhook' }, 4);
    depth.dec({ kind: 'webhook' });
    for (const seconds of [0.2, 0.7, 0.9, 3, 12]) latency.observe({}, seconds);
    const text = await registry.expose();
    expect(text).toBe(
      [
        '# HELP payments_total Payments that reached each state.',
        '# TYPE payments_total counter',
        'payments_total{state="completed"} 3',
        'payments_total{state="declined"} 1',
        '# HELP outbox_pending Rows waiting.',
        '# TYPE outbox_pending gauge',
        'outbox_pending{kind="webhook"} 3',
        '# HELP payment_duration_seconds Request to final state.',
        '# TYPE payment_duration_seconds histogram',
        'payment_duration_seconds_bucket{le="0.5"} 1',
        'payment_duration_seconds_bucket{le="1"} 3',
        'payment_duration_seconds_bucket{le="5"} 4',
        'payment_duration_seconds_bucket{le="+Inf"} 5',
        'payment_duration_seconds_sum 16.8',
        'payment_duration_seconds_count 5',
        '',
      ].join('\n'),
    );
  });

  it('escapes label values and help text, and parses them back', async () => {
    const registry = createMetricsRegistry();
    const gauge = registry.gauge({ name: 'odd', help: 'back\\slash\nnew line', labelNames: ['text'] });
    const value = 'a "quoted" \\ path\nand a line';
    gauge.set({ text: value }, -2.5);
    const text = await registry.expose();
    expect(text).toContain('# HELP odd back\\\\slash\\nnew line\n');
    expect(text).toContain('odd{text="a \\"quoted\\" \\\\ path\\nand a line"} -2.5');
    expect(parsePrometheusText(text)).toEqual([{ name: 'odd', labels: { text: value }, value: -2.5 }]);
  });

  it('round-trips any label values and counts through the parser', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat({ max: 1_000_000 }), { minLength: 8, maxLength: 8 }),
        async (values, counts) => {
          const registry = createMetricsRegistry();
          const counter = registry.counter({ name: 'things_total', help: 'h', labelNames: ['name'] });
          for (const [index, name] of values.entries()) counter.inc({ name }, counts[index] ?? 0);
          const parsed = parsePrometheusText(await registry.expose());
          expect(parsed.map((sample) => [sample.labels.name, sample.value])).toEqual(
            values.map((name, index) => [name, counts[index] ?? 0]),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('takes totals and histogram states counted elsewhere, from collectors run before each exposition', async () => {
    const registry = createMetricsRegistry();
    const counter = registry.counter({ name: 'rows_total', help: 'Rows.', labelNames: ['table'] });
    const histogram = registry.histogram({ name: 'wait_seconds', help: 'Waits.', buckets: [1, 10] });
    let rows = 5;
    registry.onCollect(async () => {
      counter.set({ table: 'payments' }, rows);
      histogram.set({}, { bucketCounts: [1, 3], count: 4, sum: 30 });
    });
    expect(sampleOf(await registry.expose(), 'rows_total', { table: 'payments' })).toBe(5);
    rows = 9;
    const text = await registry.expose();
    expect(sampleOf(text, 'rows_total', { table: 'payments' })).toBe(9);
    expect(sampleOf(text, 'wait_seconds_bucket', { le: '10' })).toBe(3);
    expect(sampleOf(text, 'wait_seconds_bucket', { le: '+Inf' })).toBe(4);
    expect(sampleOf(text, 'wait_seconds_sum')).toBe(30);
    rows = 8;
    await expect(registry.expose()).rejects.toThrow(/only goes up/);
  });

  it('refuses what would make a bad exposition or grow without bound', () => {
    const registry = createMetricsRegistry({ limits: { seriesPerMetricMax: 2 } });
    expect(() => registry.counter({ name: 'no_suffix', help: '' })).toThrow(/_total/);
    expect(() => registry.gauge({ name: '1bad', help: '' })).toThrow(RangeError);
    expect(() => registry.gauge({ name: 'bad_label', help: '', labelNames: ['a-b'] })).toThrow(RangeError);
    expect(() => registry.histogram({ name: 'h', help: '', buckets: [1, 1] })).toThrow(/increasing/);
    expect(() => registry.histogram({ name: 'h2', help: '', labelNames: ['le'], buckets: [1] })).toThrow();
    const counter = registry.counter({ name: 'c_total', help: '', labelNames: ['k'] });
    expect(() => counter.inc({ k: 'a' }, -1)).toThrow(/only goes up/);
    expect(() => counter.inc({ k: 'a' }, Number.NaN)).toThrow(/finite/);
    expect(() => counter.inc({ other: 'a' })).toThrow(/takes the labels k/);
    expect(() => counter.inc({})).toThrow(/takes the labels k/);
    counter.inc({ k: 'a' });
    counter.inc({ k: 'b' });
    expect(() => counter.inc({ k: 'c' })).toThrow(/2 series/);
    expect(() => registry.gauge({ name: 'c_total', help: '' })).toThrow(/defined already/);
    expect(() => createMetricsLimits({ seriesPerMetricMax: 0 })).toThrow(RangeError);
    const histogram = registry.histogram({ name: 'h3', help: '', buckets: [1, 2] });
    expect(() => histogram.set({}, { bucketCounts: [2, 1], count: 3, sum: 1 })).toThrow(/cumulative/);
    expect(() => histogram.set({}, { bucketCounts: [1], count: 3, sum: 1 })).toThrow(/2 buckets/);
  });

  it('runs collectors one at a time, however many scrapes arrive at once', async () => {
    const registry = createMetricsRegistry();
    const gauge = registry.gauge({ name: 'running', help: '' });
    let running = 0;
    let most = 0;
    registry.onCollect(async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((done) => setImmediate(done));
      gauge.set({}, running);
      running -= 1;
    });
    await Promise.all(Array.from({ length: 5 }, () => registry.expose()));
    expect(most).toBe(1);
  });
});

describe('reading an exposition', () => {
  it('reads samples with and without labels, special values and timestamps', () => {
    const text = [
      '# HELP x y',
      'plain 3',
      'spaced{a="1", b="2",} 1.5e3 1700000000000',
      'inf{le="+Inf"} +Inf',
      'nan NaN',
      '',
    ].join('\n');
    const samples = parsePrometheusText(text);
    expect(samples.map((sample) => [sample.name, sample.labels, sample.value])).toEqual([
      ['plain', {}, 3],
      ['spaced', { a: '1', b: '2' }, 1500],
      ['inf', { le: '+Inf' }, Number.POSITIVE_INFINITY],
      ['nan', {}, Number.NaN],
    ]);
  });

  it('refuses a broken line with REQUEST_INVALID naming it', () => {
    for (const line of [
      'x{a="1} 2',
      'x{a=1} 2',
      'x 1 2 3',
      'x abc',
      '{a="b"} 1',
      'x{a="\\q"} 1',
      'x{a="1",a="2"} 1',
    ])
      expect(() => parsePrometheusText(`ok 1\n${line}`), line).toThrow(
        expect.objectContaining({ code: 'REQUEST_INVALID', detail: 'exposition line 2' }),
      );
    expect(() => parsePrometheusText('x 1\n'.repeat(4), { textLengthMax: 100, samplesMax: 3 })).toThrow(
      MpayError,
    );
  });

  it('estimates percentiles from cumulative buckets as Prometheus does', () => {
    const buckets = [
      { upperBound: 1, count: 10 },
      { upperBound: 2, count: 30 },
      { upperBound: 4, count: 40 },
      { upperBound: Number.POSITIVE_INFINITY, count: 40 },
    ];
    expect(histogramQuantile(0.25, buckets)).toBe(1);
    expect(histogramQuantile(0.5, buckets)).toBe(1.5);
    expect(histogramQuantile(0.9, buckets)).toBe(3.2);
    expect(histogramQuantile(1, buckets)).toBe(4);
    // A rank beyond the last finite bucket answers the highest finite bound.
    expect(histogramQuantile(0.99, [...buckets.slice(0, 3), { upperBound: Infinity, count: 80 }])).toBe(4);
    expect(histogramQuantile(0.5, [{ upperBound: Infinity, count: 0 }])).toBeUndefined();
    expect(() => histogramQuantile(1.5, buckets)).toThrow(RangeError);
  });
});

describe('GET /metrics', () => {
  const app = createHttpServer({ name: 'test' });
  const registry = createMetricsRegistry();
  const gauge = registry.gauge({ name: 'depth', help: 'Depth.' });
  let failing = false;
  registry.onCollect(async () => {
    if (failing) throw new Error('database gone');
    gauge.set({}, 7);
  });
  let url = '';
  beforeAll(async () => {
    registerMetricsRoute(app, registry, {
      authorize: (request) => {
        if (request.headers.authorization !== 'Bearer secret') throw new MpayError('AUTHENTICATION_FAILED');
      },
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  it('answers the text format to the authorised scraper only', async () => {
    const refused = await fetch(`${url}/metrics`);
    expect(refused.status).toBe(401);
    const answer = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer secret' } });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe(prometheusContentType);
    expect(sampleOf(await answer.text(), 'depth')).toBe(7);
  });

  it('answers 503 when a collector fails, never a partial page', async () => {
    failing = true;
    const answer = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer secret' } });
    failing = false;
    expect(answer.status).toBe(503);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('SERVICE_UNAVAILABLE');
  });
});
