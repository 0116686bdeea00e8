/**
 * The rate limits' window, counted in buckets.
 *
 * Each payment request adds one to its merchant's and its customer's counter
 * of the current bucket (`request_rate_buckets`). The limits read the buckets
 * of the window, so the check costs the same for a merchant with 6,000
 * requests in the window as for one with 6. Before, it counted the merchant's
 * payments in the window, which grew with the merchant's rate.
 *
 * A bucket is `rateBucketSeconds(window)` long and starts at a multiple of its
 * length since the epoch. Every bucket that overlaps the window counts whole,
 * so a count may include requests up to one bucket older than the window
 * (a 60th of it, at least a second): the limit errs on the strict side, never
 * the lenient one. Retry-After is when the oldest bucket counted has left the
 * window.
 *
 * Buckets after the one `now` falls in count too, up to a window ahead: a
 * request whose clock read later may have been counted first (it took the
 * parties' locks while this one waited for them), and the two share a
 * window. Further ahead (a clock more than a window fast) a bucket shares no
 * window with this request and does not count.
 */

/** Buckets per window: the count's precision is a 60th of the window. */
export const rateBucketsPerWindow = 60;

/** A bucket's length for a window of `windowSeconds`: a 60th of it, whole seconds, at least one. */
export function rateBucketSeconds(windowSeconds: number): number {
  return Math.max(1, Math.ceil(windowSeconds / rateBucketsPerWindow));
}

/** The start of the bucket `at` falls in. */
export function rateBucketStart(at: Date, windowSeconds: number): Date {
  const lengthMs = rateBucketSeconds(windowSeconds) * 1000;
  return new Date(Math.floor(at.getTime() / lengthMs) * lengthMs);
}

/**
 * Buckets that started after this instant overlap the window that ends at
 * `now` (a bucket [s, s + length) overlaps (now - window, now] when
 * s > now - window - length).
 */
export function rateWindowBucketsAfter(now: Date, windowSeconds: number): Date {
  return new Date(now.getTime() - (windowSeconds + rateBucketSeconds(windowSeconds)) * 1000);
}

/** The last bucket start that shares a window with a request at `now`: a window ahead. */
export function rateWindowBucketsUntil(now: Date, windowSeconds: number): Date {
  return new Date(now.getTime() + windowSeconds * 1000);
}

/** Seconds until the bucket that started at `oldest` no longer overlaps the window: at least 1. */
export function rateRetryAfterSeconds(oldest: Date, now: Date, windowSeconds: number): number {
  const freeAtMs = oldest.getTime() + (rateBucketSeconds(windowSeconds) + windowSeconds) * 1000;
  return Math.max(1, Math.ceil((freeAtMs - now.getTime()) / 1000));
}
