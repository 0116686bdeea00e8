import { createMetricsRegistry } from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { createConsoleLimits } from './limits.ts';
import { MetricsHistory } from './metrics-history.ts';

/**
 * The charts' history, fed with real expositions of a registry shaped as the
 * gateway's (services/gateway/src/routes/metrics.ts): requests and
 * completions counted per state, request → completion durations observed.
 */
function gatewayLike() {
  const registry = createMetricsRegistry();
  const payments = registry.counter({
    name: 'mpay_gateway_payments_total',
    help: '',
    labelNames: ['state', 'status'],
  });
  const duration = registry.histogram({
    name: 'mpay_gateway_payment_duration_seconds',
    help: '',
    labelNames: ['state', 'status'],
    buckets: [1, 2, 5, 10],
  });
  const completed = { state: 'funds_transferred', status: 'completed' };
  return {
    registry,
    request: (count = 1) => payments.inc({ state: 'merchant_request_verified', status: 'requested' }, count),
    complete: (seconds: number) => {
      payments.inc(completed);
      duration.observe(completed, seconds);
    },
  };
}

describe("the charts' history of the gateway's metrics", () => {
  const limits = createConsoleLimits({ scrapeIntervalMs: 5_000, historyLength: 5, latencyWindowSeconds: 10 });

  it('turns scrapes into rates per second and latency percentiles over the window', async () => {
    let now = Date.UTC(2026, 0, 1);
    const gateway = gatewayLike();
    const history = new MetricsHistory(
      limits,
      () => new Date(now),
      () => gateway.registry.expose(),
    );
    await history.scrape();
    gateway.request(10);
    for (const seconds of [0.5, 0.5, 1.5, 4]) gateway.complete(seconds);
    now += 5_000;
    await history.scrape();
    now += 5_000;
    await history.scrape();
    now += 5_000;
    await history.scrape();
    const { points, totals } = history.series();
    expect(totals).toEqual({ requests: 10, completed: 4 });
    expect(points.map((point) => [point.requestsPerSecond, point.completedPerSecond])).toEqual([
      [2, 0.8],
      [0, 0],
      [0, 0],
    ]);
    // Four completions in the first two points' windows (10 s), none in the last one's.
    const latency = points[0]?.latencySeconds;
    expect(latency?.completed).toBe(4);
    // As histogram_quantile: p50 at the top of the 1 s bucket, p90 and p99 inside the 2–5 s bucket.
    expect(latency?.p50).toBe(1);
    expect(latency?.p90).toBeCloseTo(3.8, 9);
    expect(latency?.p99).toBeCloseTo(4.88, 9);
    expect(points[1]?.latencySeconds?.completed).toBe(4);
    expect(points[2]?.latencySeconds).toBeUndefined();
  });

  it("sums the instances' counts, each counting what it did", async () => {
    let now = Date.UTC(2026, 0, 1);
    const first = gatewayLike();
    const second = gatewayLike();
    const history = new MetricsHistory(
      limits,
      () => new Date(now),
      async () => [await first.registry.expose(), await second.registry.expose()],
    );
    await history.scrape();
    first.request(3);
    second.request(7);
    first.complete(0.5);
    second.complete(4);
    now += 5_000;
    await history.scrape();
    const { points, totals } = history.series();
    expect(totals).toEqual({ requests: 10, completed: 2 });
    expect(points.map((point) => [point.requestsPerSecond, point.completedPerSecond])).toEqual([[2, 0.4]]);
    // One completion under 1 s (the first's), one in the 2–5 s bucket (the second's).
    expect(points[0]?.latencySeconds?.completed).toBe(2);
    expect(points[0]?.latencySeconds?.p50).toBe(1);
  });

  it('takes a restart per instance, and leaves out one that did not answer', async () => {
    let now = Date.UTC(2026, 0, 1);
    let first = gatewayLike();
    const second = gatewayLike();
    let firstAnswers = true;
    const history = new MetricsHistory(
      limits,
      () => new Date(now),
      async () => [firstAnswers ? await first.registry.expose() : undefined, await second.registry.expose()],
    );
    first.request(50);
    second.request(5);
    await history.scrape();
    // The first restarts (its counts start again from zero) and takes 2 requests; the second takes 3.
    first = gatewayLike();
    first.request(2);
    second.request(3);
    now += 5_000;
    await history.scrape();
    // The first does not answer; the second takes 10 more.
    firstAnswers = false;
    second.request(10);
    now += 5_000;
    await history.scrape();
    const { points, totals, lastError } = history.series();
    // 2 + 3 requests in 5 s, not the drop of the sum (55 to 10) taken as a restart of all of it; then the
    // second's 10 alone.
    expect(points.map((point) => point.requestsPerSecond)).toEqual([1, 2]);
    expect(totals).toEqual({ requests: 18, completed: 0 });
    expect(lastError?.code).toBe('SERVICE_UNAVAILABLE');
  });

  it('keeps only the last scrapes, and reports a failed scrape without losing the history', async () => {
    let now = Date.UTC(2026, 0, 1);
    let failing = false;
    const gateway = gatewayLike();
    const history = new MetricsHistory(
      limits,
      () => new Date(now),
      async () => {
        if (failing) throw new MpayError('SERVICE_UNAVAILABLE');
        return gateway.registry.expose();
      },
    );
    for (let scrape = 0; scrape < 8; scrape += 1) {
      gateway.request();
      await history.scrape();
      now += 5_000;
    }
    expect(history.series().points).toHaveLength(4);
    failing = true;
    await history.scrape();
    const series = history.series();
    expect(series.points).toHaveLength(4);
    expect(series.lastError).toEqual({ code: 'SERVICE_UNAVAILABLE', at: new Date(now).toISOString() });
  });

  it('scrapes on request only when the last scrape is old enough', async () => {
    let now = Date.UTC(2026, 0, 1);
    let scrapes = 0;
    const gateway = gatewayLike();
    const history = new MetricsHistory(
      createConsoleLimits({ scrapeSpacingMsMin: 1_000 }),
      () => new Date(now),
      async () => {
        scrapes += 1;
        return gateway.registry.expose();
      },
    );
    await history.scrapeIfStale();
    await history.scrapeIfStale();
    now += 999;
    await history.scrapeIfStale();
    expect(scrapes).toBe(1);
    now += 1;
    await history.scrapeIfStale();
    expect(scrapes).toBe(2);
  });
});
