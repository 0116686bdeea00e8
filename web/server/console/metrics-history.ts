import {
  type CumulativeBucket,
  histogramQuantile,
  type PrometheusSample,
  parsePrometheusText,
} from '@mpay/http-server';
import { isMpayError } from '@mpay/protocol';
import type { ConsoleLimits } from './limits.ts';

/** The gateway's metrics the charts are drawn from (services/gateway/src/routes/metrics.ts). */
export const chartedMetrics = Object.freeze({
  payments: 'mpay_gateway_payments_total',
  durationBuckets: 'mpay_gateway_payment_duration_seconds_bucket',
  /** Every request enters this state first: its count is the requests made. */
  requestedState: 'merchant_request_verified',
  completedState: 'funds_transferred',
});

/** One gateway instance's counts in one scrape, reduced to what the charts need. */
interface InstanceCounts {
  readonly requests: number;
  readonly completed: number;
  /** Request → completion, cumulative per upper bound (the last +Inf). */
  readonly latency: readonly CumulativeBucket[];
}

/**
 * One scrape: each instance's counts, in the order of the addresses scraped
 * (undefined: that one did not answer). Each instance counts what it did
 * since its start, so increases and restarts are taken per instance, then
 * summed.
 */
interface Scrape {
  readonly atMs: number;
  readonly instances: readonly (InstanceCounts | undefined)[];
}

/** What `MetricsHistory` scrapes: the gateway's metrics text, or each instance's (undefined: it did not answer). */
export type ScrapeTexts = () => Promise<string | readonly (string | undefined)[]>;

export interface LatencyPercentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  /** Payments completed in the window the percentiles are over. */
  readonly completed: number;
}

/** One point of the charts: rates since the previous scrape, percentiles over the latency window. */
export interface MetricsPoint {
  readonly at: string;
  readonly requestsPerSecond: number;
  readonly completedPerSecond: number;
  /** Absent when no payment completed in the window. */
  readonly latencySeconds?: LatencyPercentiles;
}

export interface MetricsSeries {
  readonly intervalMs: number;
  readonly latencyWindowSeconds: number;
  readonly points: readonly MetricsPoint[];
  readonly totals: { readonly requests: number; readonly completed: number } | null;
  /** The last scrape's failure, if the last scrape failed. */
  readonly lastError?: { readonly code: string; readonly at: string };
}

function sumOf(samples: readonly PrometheusSample[], name: string, state: string): number {
  return samples
    .filter((sample) => sample.name === name && sample.labels.state === state)
    .reduce((sum, sample) => sum + sample.value, 0);
}

function latencyOf(samples: readonly PrometheusSample[]): CumulativeBucket[] {
  const byBound = new Map<number, number>();
  for (const sample of samples) {
    if (
      sample.name !== chartedMetrics.durationBuckets ||
      sample.labels.state !== chartedMetrics.completedState
    )
      continue;
    const bound = sample.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(sample.labels.le);
    if (Number.isNaN(bound)) continue;
    byBound.set(bound, (byBound.get(bound) ?? 0) + sample.value);
  }
  return [...byBound]
    .map(([upperBound, count]) => ({ upperBound, count }))
    .sort((a, b) => a.upperBound - b.upperBound);
}

/** Counts in `later` minus those in `earlier` (a counter that went down restarted: take it whole). */
function bucketDelta(
  later: readonly CumulativeBucket[],
  earlier: readonly CumulativeBucket[],
): CumulativeBucket[] {
  const before = new Map(earlier.map((bucket) => [bucket.upperBound, bucket.count]));
  const restarted = later.some((bucket) => bucket.count < (before.get(bucket.upperBound) ?? 0));
  return later.map((bucket) => ({
    upperBound: bucket.upperBound,
    count: restarted ? bucket.count : bucket.count - (before.get(bucket.upperBound) ?? 0),
  }));
}

/** A counter's increase from `earlier` to `later` (one that went down restarted: take it whole). */
function increase(later: number, earlier: number): number {
  return later >= earlier ? later - earlier : later;
}

/** Buckets of the same bounds added together. */
function bucketSum(parts: readonly (readonly CumulativeBucket[])[]): CumulativeBucket[] {
  const byBound = new Map<number, number>();
  for (const part of parts)
    for (const bucket of part)
      byBound.set(bucket.upperBound, (byBound.get(bucket.upperBound) ?? 0) + bucket.count);
  return [...byBound]
    .map(([upperBound, count]) => ({ upperBound, count }))
    .sort((a, b) => a.upperBound - b.upperBound);
}

/** Each instance that answered in both scrapes, with its counts in each. */
function bothAnswered(later: Scrape, earlier: Scrape): [InstanceCounts, InstanceCounts][] {
  return later.instances.flatMap((counts, index) => {
    const before = earlier.instances[index];
    return counts === undefined || before === undefined
      ? []
      : [[counts, before] as [InstanceCounts, InstanceCounts]];
  });
}

/**
 * The gateway's metrics over the last minutes: scraped every interval (and
 * on request when the last scrape is old), kept in a ring buffer of
 * `historyLength` scrapes, turned into chart points: requests and
 * completions per second between scrapes, and latency percentiles of the
 * payments completed in the window before each point (from the histogram's
 * bucket increases, as Prometheus's histogram_quantile over a rate does).
 */
export class MetricsHistory {
  readonly #limits: ConsoleLimits;
  readonly #clock: () => Date;
  /** The gateway's metrics text, or each instance's (their increases are summed: each counts what it did). */
  readonly #scrapeText: ScrapeTexts;
  readonly #scrapes: Scrape[] = [];
  #lastError: { code: string; at: string } | undefined;
  #inFlight: Promise<void> | undefined;

  constructor(limits: ConsoleLimits, clock: () => Date, scrapeText: ScrapeTexts) {
    this.#limits = limits;
    this.#clock = clock;
    this.#scrapeText = scrapeText;
  }

  /** One scrape (a scrape already running is joined, not repeated); a failure is kept for the page, not thrown. */
  scrape(): Promise<void> {
    this.#inFlight ??= this.#scrapeOnce().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** Scrapes unless the last scrape is younger than `scrapeSpacingMsMin`. */
  async scrapeIfStale(): Promise<void> {
    const last = this.#scrapes[this.#scrapes.length - 1];
    if (last === undefined || this.#clock().getTime() - last.atMs >= this.#limits.scrapeSpacingMsMin)
      await this.scrape();
  }

  async #scrapeOnce(): Promise<void> {
    const atMs = this.#clock().getTime();
    try {
      const scraped = await this.#scrapeText();
      const texts = typeof scraped === 'string' ? [scraped] : scraped;
      const instances = texts.map((text) => {
        if (text === undefined) return undefined;
        const samples = parsePrometheusText(text);
        return {
          requests: sumOf(samples, chartedMetrics.payments, chartedMetrics.requestedState),
          completed: sumOf(samples, chartedMetrics.payments, chartedMetrics.completedState),
          latency: latencyOf(samples),
        };
      });
      this.#scrapes.push({ atMs, instances });
      if (this.#scrapes.length > this.#limits.historyLength) this.#scrapes.shift();
      // An instance that did not answer is said, and left out of the points it would take part in.
      this.#lastError = instances.includes(undefined)
        ? { code: 'SERVICE_UNAVAILABLE', at: new Date(atMs).toISOString() }
        : undefined;
    } catch (error) {
      this.#lastError = {
        code: isMpayError(error) ? error.code : 'INTERNAL',
        at: new Date(atMs).toISOString(),
      };
    }
  }

  series(): MetricsSeries {
    const points: MetricsPoint[] = [];
    const windowMs = this.#limits.latencyWindowSeconds * 1000;
    for (let index = 1; index < this.#scrapes.length; index += 1) {
      const current = this.#scrapes[index]!;
      const previous = this.#scrapes[index - 1]!;
      const seconds = (current.atMs - previous.atMs) / 1000;
      // The newest scrape at least a window older, else the oldest kept: the window's start.
      let start = 0;
      for (let candidate = index - 1; candidate >= 0; candidate -= 1) {
        if (current.atMs - this.#scrapes[candidate]!.atMs >= windowMs) {
          start = candidate;
          break;
        }
      }
      const latency = bucketSum(
        bothAnswered(current, this.#scrapes[start]!).map(([later, earlier]) =>
          bucketDelta(later.latency, earlier.latency),
        ),
      );
      const completed = latency[latency.length - 1]?.count ?? 0;
      const quantile = (q: number) => histogramQuantile(q, latency) ?? 0;
      const step = bothAnswered(current, previous);
      const perSecond = (count: (counts: InstanceCounts) => number) =>
        seconds <= 0
          ? 0
          : step.reduce((sum, [later, earlier]) => sum + increase(count(later), count(earlier)), 0) / seconds;
      points.push({
        at: new Date(current.atMs).toISOString(),
        requestsPerSecond: perSecond((counts) => counts.requests),
        completedPerSecond: perSecond((counts) => counts.completed),
        ...(completed > 0
          ? { latencySeconds: { p50: quantile(0.5), p90: quantile(0.9), p99: quantile(0.99), completed } }
          : {}),
      });
    }
    const last = this.#scrapes[this.#scrapes.length - 1];
    return {
      intervalMs: this.#limits.scrapeIntervalMs,
      latencyWindowSeconds: this.#limits.latencyWindowSeconds,
      points,
      totals:
        last === undefined
          ? null
          : {
              requests: last.instances.reduce((sum, counts) => sum + (counts?.requests ?? 0), 0),
              completed: last.instances.reduce((sum, counts) => sum + (counts?.completed ?? 0), 0),
            },
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }
}
