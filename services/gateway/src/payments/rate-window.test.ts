import { describe, expect, it } from 'vitest';
import {
  rateBucketSeconds,
  rateBucketStart,
  rateRetryAfterSeconds,
  rateWindowBucketsAfter,
  rateWindowBucketsUntil,
} from './rate-window.ts';

const at = (iso: string) => new Date(iso);

describe('the rate window in buckets', () => {
  it('a bucket is a 60th of the window in whole seconds, at least one', () => {
    expect([1, 59, 60, 61, 120, 3_600, 86_400].map(rateBucketSeconds)).toEqual([1, 1, 1, 2, 2, 60, 1_440]);
  });

  it('buckets start at multiples of their length since the epoch', () => {
    expect(rateBucketStart(at('2026-12-05T10:00:00.999Z'), 60)).toEqual(at('2026-12-05T10:00:00.000Z'));
    expect(rateBucketStart(at('2026-12-05T10:00:01.000Z'), 60)).toEqual(at('2026-12-05T10:00:01.000Z'));
    expect(rateBucketStart(at('2026-12-05T10:59:59.999Z'), 3_600)).toEqual(at('2026-12-05T10:59:00.000Z'));
    expect(rateBucketStart(at('2026-12-05T10:00:03.500Z'), 120)).toEqual(at('2026-12-05T10:00:02.000Z'));
  });

  it('a bucket counts while any of it is in the window (the limit errs on the strict side)', () => {
    const now = at('2026-12-05T10:01:00.500Z');
    const after = rateWindowBucketsAfter(now, 60);
    // (now - 60 s, now] is (10:00:00.500, 10:01:00.500]: the bucket [10:00:00, 10:00:01) overlaps it.
    expect(after).toEqual(at('2026-12-05T09:59:59.500Z'));
    expect(at('2026-12-05T10:00:00.000Z') > after).toBe(true);
    expect(at('2026-12-05T09:59:59.000Z') > after).toBe(false);
  });

  it('buckets ahead count up to a window ahead: a request at most a window later shares a window with this one', () => {
    const now = at('2026-12-05T10:01:00.500Z');
    const until = rateWindowBucketsUntil(now, 60);
    expect(until).toEqual(at('2026-12-05T10:02:00.500Z'));
    // A request at now + 60 s (its window (now, now + 60 s] holds now's request) is in the bucket of 10:02:00.
    expect(rateBucketStart(at('2026-12-05T10:02:00.500Z'), 60) <= until).toBe(true);
    // One bucket further, a request more than a window later: it shares no window with now's.
    expect(at('2026-12-05T10:02:01.000Z') <= until).toBe(false);
  });

  it('Retry-After: when the oldest bucket counted has left the window, at least a second', () => {
    const oldest = at('2026-12-05T10:00:00.000Z');
    expect(rateRetryAfterSeconds(oldest, at('2026-12-05T10:00:30.000Z'), 60)).toBe(31);
    expect(rateRetryAfterSeconds(oldest, at('2026-12-05T10:00:30.200Z'), 60)).toBe(31);
    expect(rateRetryAfterSeconds(oldest, at('2026-12-05T10:01:00.999Z'), 60)).toBe(1);
    expect(rateRetryAfterSeconds(oldest, at('2026-12-05T10:05:00.000Z'), 60)).toBe(1);
    // After that many seconds the oldest bucket no longer overlaps the window.
    const now = at('2026-12-05T10:00:30.200Z');
    const then = new Date(now.getTime() + rateRetryAfterSeconds(oldest, now, 60) * 1000);
    expect(oldest > rateWindowBucketsAfter(then, 60)).toBe(false);
  });
});
