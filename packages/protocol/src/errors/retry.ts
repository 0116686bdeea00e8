/** The two limits of an outbox's retries (the gateway's, custody's). */
export interface BackoffLimits {
  readonly outboxBackoffBaseMs: number;
  readonly outboxBackoffMaxMs: number;
}

/**
 * When a `retryable` failure is tried again: exponential backoff with full
 * jitter, capped; the delay before attempt `attempts + 1`, in
 * [ceiling / 2, ceiling] where ceiling = min(max, base · 2^attempts).
 */
export function retryDelayMs(
  attempts: number,
  limits: BackoffLimits,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    limits.outboxBackoffMaxMs,
    limits.outboxBackoffBaseMs * 2 ** Math.min(attempts, 30),
  );
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
