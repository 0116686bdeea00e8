import { timingSafeEqual } from 'node:crypto';
import { MpayError } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SecurityRequirement } from './openapi.ts';
import { metricsScrape } from './openapi-schemas.ts';

/**
 * A small metrics registry and its Prometheus text exposition (format 0.0.4):
 * counters, gauges and histograms with labels, plus collectors that read what
 * is kept elsewhere (a database's counts, an outbox's depth) just before each
 * exposition. The reverse too: `parsePrometheusText` reads an exposition back
 * (the operator console scrapes the services), and `histogramQuantile`
 * estimates a percentile from cumulative buckets as Prometheus does.
 */

/** The content type Prometheus expects of the text format. */
export const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricLabels = Readonly<Record<string, string>>;

export interface MetricsLimits {
  /** Label combinations one metric keeps at most: a label fed from data cannot grow memory without bound. */
  readonly seriesPerMetricMax: number;
  /** Longest label value, in characters. */
  readonly labelValueLengthMax: number;
  /** Most buckets of one histogram. */
  readonly bucketsMax: number;
  /** Most metrics one registry holds. */
  readonly metricsMax: number;
}

export const defaultMetricsLimits: MetricsLimits = Object.freeze({
  seriesPerMetricMax: 1_000,
  labelValueLengthMax: 128,
  bucketsMax: 64,
  metricsMax: 256,
});

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new RangeError(`metrics limits: ${name} must be an integer in ${min}..${max}`);
  return value;
}

export function createMetricsLimits(options: Partial<MetricsLimits> = {}): MetricsLimits {
  const limits = { ...defaultMetricsLimits, ...options };
  checkInteger('seriesPerMetricMax', limits.seriesPerMetricMax, 1, 100_000);
  checkInteger('labelValueLengthMax', limits.labelValueLengthMax, 1, 4_096);
  checkInteger('bucketsMax', limits.bucketsMax, 1, 1_000);
  checkInteger('metricsMax', limits.metricsMax, 1, 10_000);
  return Object.freeze(limits);
}

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export interface MetricDefinition {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`, unit last (`_seconds`, `_bytes`); a counter's ends in `_total`. */
  readonly name: string;
  readonly help: string;
  /** The labels every sample of this metric carries, in this order. */
  readonly labelNames?: readonly string[];
}

export interface HistogramDefinition extends MetricDefinition {
  /** Upper bounds, strictly increasing and finite; `+Inf` is added. */
  readonly buckets: readonly number[];
}

export interface Counter {
  /** Adds `amount` (≥ 0, default 1). */
  inc(labels?: MetricLabels, amount?: number): void;
  /**
   * Sets a total counted elsewhere (rows of an append-only table), read by a
   * collector. A counter never goes down: a smaller total is a RangeError.
   */
  set(labels: MetricLabels, total: number): void;
}

export interface Gauge {
  set(labels: MetricLabels, value: number): void;
  inc(labels?: MetricLabels, amount?: number): void;
  dec(labels?: MetricLabels, amount?: number): void;
}

/** A histogram's state: counts per upper bound (cumulative, in the order of the buckets), the count and the sum. */
export interface HistogramSnapshot {
  readonly bucketCounts: readonly number[];
  readonly count: number;
  readonly sum: number;
}

export interface Histogram {
  observe(labels: MetricLabels, value: number): void;
  /** Sets the state from what is counted elsewhere (a database's durations), read by a collector. */
  set(labels: MetricLabels, snapshot: HistogramSnapshot): void;
}

export interface MetricsRegistry {
  readonly limits: MetricsLimits;
  counter(definition: MetricDefinition): Counter;
  gauge(definition: MetricDefinition): Gauge;
  histogram(definition: HistogramDefinition): Histogram;
  /** Runs before every exposition (one at a time; expositions asked meanwhile share it). */
  onCollect(collect: () => Promise<void>): void;
  /** Runs the collectors, then renders every metric in the text format. */
  expose(): Promise<string>;
}

type MetricType = 'counter' | 'gauge' | 'histogram';

interface Series {
  readonly labelValues: readonly string[];
  value: number;
  /** Histograms only: cumulative counts per bucket, and the sum. */
  bucketCounts?: number[];
  sum?: number;
}

interface Metric {
  readonly type: MetricType;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[];
  readonly series: Map<string, Series>;
}

function checkDefinition(definition: MetricDefinition, type: MetricType): readonly string[] {
  if (!metricNamePattern.test(definition.name))
    throw new RangeError(`metrics: ${JSON.stringify(definition.name)} is not a metric name`);
  if (type === 'counter' && !definition.name.endsWith('_total'))
    throw new RangeError(`metrics: counter ${definition.name} must end in _total`);
  const labelNames = definition.labelNames ?? [];
  for (const label of labelNames) {
    if (!labelNamePattern.test(label) || label.startsWith('__') || (type === 'histogram' && label === 'le'))
      throw new RangeError(`metrics: ${JSON.stringify(label)} is not a label name of ${definition.name}`);
  }
  if (new Set(labelNames).size !== labelNames.length)
    throw new RangeError(`metrics: ${definition.name} names a label twice`);
  return Object.freeze([...labelNames]);
}

function checkBuckets(name: string, buckets: readonly number[], limits: MetricsLimits): readonly number[] {
  if (buckets.length === 0 || buckets.length > limits.bucketsMax)
    throw new RangeError(`metrics: ${name} needs 1..${limits.bucketsMax} buckets`);
  for (const [index, bound] of buckets.entries()) {
    const previous = buckets[index - 1];
    if (!Number.isFinite(bound) || (previous !== undefined && bound <= previous))
      throw new RangeError(`metrics: the buckets of ${name} must be finite and strictly increasing`);
  }
  return Object.freeze([...buckets]);
}

function checkValue(metric: Metric, value: number, what: string): void {
  if (!Number.isFinite(value)) throw new RangeError(`metrics: ${metric.name} ${what} must be finite`);
}

/** The series of `labels`, created on first use within the limit; the labels must be exactly the metric's. */
function seriesOf(metric: Metric, labels: MetricLabels, limits: MetricsLimits): Series {
  const names = Object.keys(labels);
  if (
    names.length !== metric.labelNames.length ||
    !metric.labelNames.every((name) => Object.hasOwn(labels, name))
  )
    throw new RangeError(
      `metrics: ${metric.name} takes the labels ${metric.labelNames.join(', ') || '(none)'}`,
    );
  const labelValues = metric.labelNames.map((name) => {
    const value = labels[name] ?? '';
    if (typeof value !== 'string' || value.length > limits.labelValueLengthMax)
      throw new RangeError(`metrics: label ${name} of ${metric.name} is not a short string`);
    return value;
  });
  const key = JSON.stringify(labelValues);
  const existing = metric.series.get(key);
  if (existing !== undefined) return existing;
  if (metric.series.size >= limits.seriesPerMetricMax)
    throw new RangeError(`metrics: ${metric.name} has ${limits.seriesPerMetricMax} series already`);
  const created: Series =
    metric.type === 'histogram'
      ? { labelValues, value: 0, bucketCounts: metric.buckets.map(() => 0), sum: 0 }
      : { labelValues, value: 0 };
  metric.series.set(key, created);
  return created;
}

/** A number as the text format writes it: integers plainly, `+Inf`, `-Inf`, `NaN`. */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const pairs = names.map((name, index) => `${name}="${escapeLabelValue(values[index] ?? '')}"`);
  if (extra !== undefined) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

function renderMetric(metric: Metric): string {
  const lines = [`# HELP ${metric.name} ${escapeHelp(metric.help)}`, `# TYPE ${metric.name} ${metric.type}`];
  for (const series of metric.series.values()) {
    if (metric.type !== 'histogram') {
      lines.push(
        `${metric.name}${labelText(metric.labelNames, series.labelValues)} ${formatSampleValue(series.value)}`,
      );
      continue;
    }
    const counts = series.bucketCounts ?? [];
    for (const [index, bound] of metric.buckets.entries()) {
      const labels = labelText(metric.labelNames, series.labelValues, ['le', formatSampleValue(bound)]);
      lines.push(`${metric.name}_bucket${labels} ${formatSampleValue(counts[index] ?? 0)}`);
    }
    const infinity = labelText(metric.labelNames, series.labelValues, ['le', '+Inf']);
    const labels = labelText(metric.labelNames, series.labelValues);
    lines.push(`${metric.name}_bucket${infinity} ${formatSampleValue(series.value)}`);
    lines.push(`${metric.name}_sum${labels} ${formatSampleValue(series.sum ?? 0)}`);
    lines.push(`${metric.name}_count${labels} ${formatSampleValue(series.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function createMetricsRegistry(options: { limits?: Partial<MetricsLimits> } = {}): MetricsRegistry {
  const limits = createMetricsLimits(options.limits);
  const metrics = new Map<string, Metric>();
  const collectors: (() => Promise<void>)[] = [];
  let collecting: Promise<void> | undefined;

  const define = (definition: MetricDefinition, type: MetricType, buckets: readonly number[] = []) => {
    const labelNames = checkDefinition(definition, type);
    if (metrics.has(definition.name)) throw new RangeError(`metrics: ${definition.name} is defined already`);
    if (metrics.size >= limits.metricsMax) throw new RangeError(`metrics: more than ${limits.metricsMax}`);
    const metric: Metric = {
      type,
      name: definition.name,
      help: definition.help,
      labelNames,
      buckets,
      series: new Map(),
    };
    metrics.set(metric.name, metric);
    return metric;
  };

  const collect = async () => {
    for (const collector of collectors) await collector();
  };

  return Object.freeze({
    limits,
    counter(definition: MetricDefinition): Counter {
      const metric = define(definition, 'counter');
      return Object.freeze({
        inc(labels: MetricLabels = {}, amount = 1) {
          checkValue(metric, amount, 'increment');
          if (amount < 0) throw new RangeError(`metrics: counter ${metric.name} only goes up`);
          seriesOf(metric, labels, limits).value += amount;
        },
        set(labels: MetricLabels, total: number) {
          checkValue(metric, total, 'total');
          const series = seriesOf(metric, labels, limits);
          if (total < series.value) throw new RangeError(`metrics: counter ${metric.name} only goes up`);
          series.value = total;
        },
      });
    },
    gauge(definition: MetricDefinition): Gauge {
      const metric = define(definition, 'gauge');
      const add = (labels: MetricLabels, amount: number) => {
        checkValue(metric, amount, 'change');
        seriesOf(metric, labels, limits).value += amount;
      };
      return Object.freeze({
        set(labels: MetricLabels, value: number) {
          checkValue(metric, value, 'value');
          seriesOf(metric, labels, limits).value = value;
        },
        inc: (labels: MetricLabels = {}, amount = 1) => add(labels, amount),
        dec: (labels: MetricLabels = {}, amount = 1) => add(labels, -amount),
      });
    },
    histogram(definition: HistogramDefinition): Histogram {
      const buckets = checkBuckets(definition.name, definition.buckets, limits);
      const metric = define(definition, 'histogram', buckets);
      return Object.freeze({
        observe(labels: MetricLabels, value: number) {
          checkValue(metric, value, 'observation');
          const series = seriesOf(metric, labels, limits);
          const counts = series.bucketCounts ?? [];
          for (const [index, bound] of buckets.entries())
            if (value <= bound) counts[index] = (counts[index] ?? 0) + 1;
          series.value += 1;
          series.sum = (series.sum ?? 0) + value;
        },
        set(labels: MetricLabels, snapshot: HistogramSnapshot) {
          const { bucketCounts, count, sum } = snapshot;
          if (bucketCounts.length !== buckets.length)
            throw new RangeError(`metrics: ${metric.name} has ${buckets.length} buckets`);
          checkValue(metric, sum, 'sum');
          let previous = 0;
          for (const bucketCount of [...bucketCounts, count]) {
            if (!Number.isSafeInteger(bucketCount) || bucketCount < previous)
              throw new RangeError(`metrics: the counts of ${metric.name} must be cumulative integers`);
            previous = bucketCount;
          }
          const series = seriesOf(metric, labels, limits);
          series.bucketCounts = [...bucketCounts];
          series.value = count;
          series.sum = sum;
        },
      });
    },
    onCollect(collector: () => Promise<void>) {
      collectors.push(collector);
    },
    async expose() {
      collecting ??= collect().finally(() => {
        collecting = undefined;
      });
      await collecting;
      return [...metrics.values()].map(renderMetric).join('');
    },
  });
}

export interface MetricsRouteOptions {
  /** Default `/metrics`. */
  readonly path?: string;
  /** Throws to refuse (an operator's bearer token: volumes and backlogs are not for everyone). */
  readonly authorize?: (request: FastifyRequest) => void | Promise<void>;
  /** What the document names as the route's credential when `authorize` is given (default: the `metricsToken` bearer). */
  readonly security?: readonly SecurityRequirement[];
}

/** GET /metrics: the registry in Prometheus text; a collector that fails answers 503, never a half exposition. */
export function registerMetricsRoute(
  app: FastifyInstance,
  registry: MetricsRegistry,
  options: MetricsRouteOptions = {},
): void {
  const text = { content: { 'text/plain': { schema: { type: 'string' } } } };
  const schema = {
    summary: 'Metrics in Prometheus text',
    tags: ['operations'],
    response: { 200: text },
    ...(options.authorize === undefined ? {} : { security: options.security ?? metricsScrape }),
  };
  app.get(options.path ?? '/metrics', { schema }, async (request, reply) => {
    await options.authorize?.(request);
    let text: string;
    try {
      text = await registry.expose();
    } catch (error) {
      request.log.warn({ err: error }, 'metrics collection failed');
      throw new MpayError('SERVICE_UNAVAILABLE', 'metrics', { retryAfterSeconds: 1 });
    }
    return reply.header('cache-control', 'no-store').type(prometheusContentType).send(text);
  });
}

/** Shortest bearer token a scrape is accepted with: a shorter (or no) configured token refuses every scrape. */
export const metricsTokenLengthMin = 16;

/** The environment variable a service's own process (its src/main.ts) reads its metrics token from. */
export const metricsTokenVariable = 'MPAY_METRICS_TOKEN';
/** Shortest token a process accepts from MPAY_METRICS_TOKEN: a deployment's secret, not a test's word. */
export const metricsTokenFromEnvironmentLengthMin = 32;

/**
 * The metrics token of a service's process, from MPAY_METRICS_TOKEN: absent
 * or empty, undefined (GET /metrics then refuses every scrape); shorter than
 * `metricsTokenFromEnvironmentLengthMin` characters or with whitespace, a
 * RangeError that names the variable, so that the process refuses to start
 * rather than serve metrics behind a guessable token.
 */
export function metricsTokenFromEnvironment(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = env[metricsTokenVariable];
  if (token === undefined || token === '') return undefined;
  if (token.length < metricsTokenFromEnvironmentLengthMin || /\s/.test(token))
    throw new RangeError(
      `${metricsTokenVariable} must be at least ${metricsTokenFromEnvironmentLengthMin} characters without whitespace (e.g. openssl rand -hex 32); unset it to refuse every scrape`,
    );
  return token;
}

/**
 * An `authorize` for registerMetricsRoute: `Authorization: Bearer <token>`,
 * compared in constant time, as a Prometheus scraper sends it
 * (`authorization.credentials`). Without a configured token of at least
 * `metricsTokenLengthMin` characters nobody scrapes. Any failure is
 * AUTHENTICATION_FAILED, without saying why.
 */
export function bearerTokenAuthorizer(token: string | undefined): (request: FastifyRequest) => void {
  const expected = Buffer.from(token ?? '');
  return (request) => {
    const header = request.headers.authorization ?? '';
    const presented = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    if (
      expected.length < metricsTokenLengthMin ||
      presented.length !== expected.length ||
      !timingSafeEqual(presented, expected)
    )
      throw new MpayError('AUTHENTICATION_FAILED');
  };
}

/**
 * Histograms of durations kept in a database, computed there at scrape time
 * (so they survive restarts and agree across processes): `source` is a
 * SELECT of rows `(key text, seconds float8)`, one row per observation, and
 * `params` its parameters; the answer has a snapshot per key, cumulative over
 * `buckets`. Linear in the rows `source` selects: bound it there.
 */
export async function readDurationHistograms(
  sql: Sql,
  source: string,
  params: readonly unknown[],
  buckets: readonly number[],
): Promise<Map<string, HistogramSnapshot>> {
  const bucketsParameter = `$${params.length + 1}`;
  const { rows } = await sql.query<{
    key: string;
    i: number | string;
    within: string;
    count: string;
    sum: number | string | null;
  }>(
    `WITH observations AS (${source})
     SELECT o.key, b.i AS i, count(*) FILTER (WHERE o.seconds <= b.bound)::text AS within,
       count(*)::text AS count, sum(o.seconds)::float8 AS sum
     FROM observations o CROSS JOIN unnest(${bucketsParameter}::float8[]) WITH ORDINALITY AS b(bound, i)
     GROUP BY o.key, b.i`,
    [...params, [...buckets]],
  );
  const snapshots = new Map<string, { bucketCounts: number[]; count: number; sum: number }>();
  for (const row of rows) {
    const snapshot = snapshots.get(row.key) ?? {
      bucketCounts: buckets.map(() => 0),
      count: Number(row.count),
      sum: Number(row.sum ?? 0),
    };
    snapshot.bucketCounts[Number(row.i) - 1] = Number(row.within);
    snapshots.set(row.key, snapshot);
  }
  return snapshots;
}

/**
 * The service's database connections the server ended since the process
 * started (`mpay_database_connections_lost_total`, labelled with the
 * database's schema), beside its own metrics: a restart, a failover or an
 * administrator ending sessions, which the service otherwise only says as a
 * process warning. Nothing on PGlite, which has no connection to lose.
 */
export function registerDatabaseMetrics(
  registry: MetricsRegistry,
  database: Pick<Database, 'schema' | 'connections'>,
): void {
  const connections = database.connections;
  if (connections === undefined) return;
  const lost = registry.counter({
    name: 'mpay_database_connections_lost_total',
    help: 'Connections to PostgreSQL the server ended (restart, failover, pg_terminate_backend), idle or in use, each once, since the process started.',
    labelNames: ['schema'],
  });
  registry.onCollect(async () => {
    lost.set({ schema: database.schema }, connections.lost);
  });
}

/** How a request of a route ended, for a bounded label: 2xx ok, 4xx refused, anything else error. */
export type RouteOutcome = 'ok' | 'refused' | 'error';

export function routeOutcomeOf(statusCode: number): RouteOutcome {
  if (statusCode >= 200 && statusCode < 300) return 'ok';
  if (statusCode >= 400 && statusCode < 500) return 'refused';
  return 'error';
}

/**
 * Times the routes that are steps of a protocol: `steps` maps
 * `'<METHOD> <route pattern>'` (`'POST /payment-orders'`) to a step name;
 * `observe` gets the step, how it ended and its duration from the request's
 * arrival to the reply's end, in seconds. Register it before the routes'
 * plugins load (right after creating the server) so every scope inherits it.
 */
export function observeRouteSteps(
  app: FastifyInstance,
  steps: Readonly<Record<string, string>>,
  observe: (step: string, outcome: RouteOutcome, seconds: number) => void,
): void {
  app.addHook('onResponse', async (request, reply) => {
    const step = steps[`${request.method} ${request.routeOptions.url ?? ''}`];
    if (step === undefined) return;
    observe(step, routeOutcomeOf(reply.statusCode), reply.elapsedTime / 1000);
  });
}

/** One sample of an exposition: `name{labels} value`. */
export interface PrometheusSample {
  readonly name: string;
  readonly labels: MetricLabels;
  readonly value: number;
}

export interface ParseLimits {
  /** Longest exposition, in characters. */
  readonly textLengthMax: number;
  /** Most samples read. */
  readonly samplesMax: number;
}

export const defaultParseLimits: ParseLimits = Object.freeze({
  textLengthMax: 4_000_000,
  samplesMax: 100_000,
});

function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error('value');
  return Number(text);
}

/** `{a="x",b="y\"z"}` from `start` (the `{`): the labels and the index after the `}`. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let index = start + 1;
  for (;;) {
    while (line[index] === ' ' || line[index] === ',') index += 1;
    if (line[index] === '}') return { labels, end: index + 1 };
    const equals = line.indexOf('=', index);
    if (equals < 0 || line[equals + 1] !== '"') throw new Error('label');
    const name = line.slice(index, equals).trim();
    if (!labelNamePattern.test(name) || Object.hasOwn(labels, name)) throw new Error('label name');
    let value = '';
    index = equals + 2;
    for (;;) {
      const character = line[index];
      if (character === undefined) throw new Error('label value');
      index += 1;
      if (character === '"') break;
      if (character !== '\\') {
        value += character;
        continue;
      }
      const escaped = line[index];
      index += 1;
      if (escaped === 'n') value += '\n';
      else if (escaped === '\\' || escaped === '"') value += escaped;
      else throw new Error('escape');
    }
    labels[name] = value;
  }
}

/**
 * The samples of a Prometheus text exposition (comments skipped; a
 * timestamp after the value is allowed and dropped). Anything else is
 * REQUEST_INVALID naming the line, so a scraper never works on a half-read page.
 */
export function parsePrometheusText(
  text: string,
  limits: ParseLimits = defaultParseLimits,
): PrometheusSample[] {
  if (text.length > limits.textLengthMax) throw new MpayError('REQUEST_INVALID', 'exposition too long');
  const samples: PrometheusSample[] = [];
  for (const [number, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      const nameEnd = line.search(/[{\s]/);
      if (nameEnd <= 0) throw new Error('name');
      const name = line.slice(0, nameEnd);
      if (!metricNamePattern.test(name)) throw new Error('name');
      const { labels, end } =
        line[nameEnd] === '{' ? parseLabels(line, nameEnd) : { labels: {}, end: nameEnd };
      const rest = line.slice(end).trim().split(/\s+/);
      if (rest.length < 1 || rest.length > 2 || rest[0] === undefined) throw new Error('value');
      samples.push(Object.freeze({ name, labels: Object.freeze(labels), value: parseValue(rest[0]) }));
    } catch {
      throw new MpayError('REQUEST_INVALID', `exposition line ${number + 1}`);
    }
    if (samples.length > limits.samplesMax) throw new MpayError('REQUEST_INVALID', 'too many samples');
  }
  return samples;
}

/** One cumulative bucket: observations ≤ `upperBound` (the last one `+Inf`). */
export interface CumulativeBucket {
  readonly upperBound: number;
  readonly count: number;
}

/**
 * The `quantile` (0..1) of a histogram's cumulative buckets, as Prometheus's
 * histogram_quantile estimates it: linear within the bucket the rank falls
 * in (from 0 for the first bucket); a rank in the `+Inf` bucket answers the
 * highest finite bound. Undefined without observations.
 */
export function histogramQuantile(
  quantile: number,
  buckets: readonly CumulativeBucket[],
): number | undefined {
  if (!(quantile >= 0 && quantile <= 1)) throw new RangeError('quantile must be in 0..1');
  const sorted = [...buckets].sort((a, b) => a.upperBound - b.upperBound);
  const last = sorted[sorted.length - 1];
  if (last === undefined || last.upperBound !== Number.POSITIVE_INFINITY || last.count <= 0) return undefined;
  const rank = quantile * last.count;
  let previousBound = 0;
  let previousCount = 0;
  for (const bucket of sorted) {
    if (bucket.count >= rank && bucket.count > previousCount) {
      if (bucket.upperBound === Number.POSITIVE_INFINITY) return previousBound;
      const start = Math.min(previousBound, bucket.upperBound);
      return start + ((bucket.upperBound - start) * (rank - previousCount)) / (bucket.count - previousCount);
    }
    previousBound = bucket.upperBound;
    previousCount = bucket.count;
  }
  return previousBound;
}
