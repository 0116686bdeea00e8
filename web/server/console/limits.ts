/** Every limit of the operator console's backend, as named options: validated once, frozen. */
export interface ConsoleLimits {
  /** A session ends this long after sign-in, whatever happens. */
  readonly sessionLifetimeSeconds: number;
  /** A session ends after this long without a request. */
  readonly sessionIdleSeconds: number;
  /** Sessions kept at once; signing in beyond it ends the oldest. */
  readonly sessionsMax: number;
  /** Wrong tokens from one client address per window before sign-in is refused there until the window ends. */
  readonly signInFailuresPerClientMax: number;
  /**
   * Client addresses whose wrong tokens are remembered per window (memory bound); past it the
   * oldest is forgotten. Nobody is refused for others' failures: the operator cannot be locked
   * out by a stranger, and the token (≥ 128 bits) is not guessable by trying.
   */
  readonly signInClientsTrackedMax: number;
  readonly signInWindowSeconds: number;
  /** How often the backend scrapes the gateway's metrics and checks the log's checkpoint. */
  readonly scrapeIntervalMs: number;
  /** A request for the charts scrapes at once only if the last scrape is older than this. */
  readonly scrapeSpacingMsMin: number;
  /** Scrapes kept for the charts (ring buffer). */
  readonly historyLength: number;
  /** The latency percentiles of a chart point are over the payments completed in this window before it. */
  readonly latencyWindowSeconds: number;
  /** Timeout of one call to a service. */
  readonly serviceTimeoutMs: number;
  /** Largest answer read from a service (a page of payments, a metrics exposition). */
  readonly serviceAnswerBytesMax: number;
  /** Largest request body the console's API accepts. */
  readonly bodyLimitBytes: number;
  /** Largest opening balance the console opens a customer account with, in minor units. */
  readonly openingBalanceMinorMax: bigint;
}

export const defaultConsoleLimits: ConsoleLimits = Object.freeze({
  sessionLifetimeSeconds: 8 * 3_600,
  sessionIdleSeconds: 30 * 60,
  sessionsMax: 32,
  signInFailuresPerClientMax: 5,
  signInClientsTrackedMax: 10_000,
  signInWindowSeconds: 300,
  scrapeIntervalMs: 5_000,
  scrapeSpacingMsMin: 1_000,
  historyLength: 180,
  latencyWindowSeconds: 60,
  serviceTimeoutMs: 10_000,
  serviceAnswerBytesMax: 4 * 1024 * 1024,
  bodyLimitBytes: 16 * 1024,
  openingBalanceMinorMax: 100_000_000n,
});

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new RangeError(`console limits: ${name} must be an integer in ${min}..${max}`);
}

export function createConsoleLimits(options: Partial<ConsoleLimits> = {}): ConsoleLimits {
  const limits = { ...defaultConsoleLimits, ...options };
  checkInteger('sessionLifetimeSeconds', limits.sessionLifetimeSeconds, 60, 7 * 86_400);
  checkInteger('sessionIdleSeconds', limits.sessionIdleSeconds, 60, limits.sessionLifetimeSeconds);
  checkInteger('sessionsMax', limits.sessionsMax, 1, 10_000);
  checkInteger('signInFailuresPerClientMax', limits.signInFailuresPerClientMax, 1, 100);
  checkInteger('signInClientsTrackedMax', limits.signInClientsTrackedMax, 1, 1_000_000);
  checkInteger('signInWindowSeconds', limits.signInWindowSeconds, 1, 86_400);
  checkInteger('scrapeIntervalMs', limits.scrapeIntervalMs, 100, 3_600_000);
  checkInteger('scrapeSpacingMsMin', limits.scrapeSpacingMsMin, 0, limits.scrapeIntervalMs);
  checkInteger('historyLength', limits.historyLength, 2, 100_000);
  checkInteger('latencyWindowSeconds', limits.latencyWindowSeconds, 1, 86_400);
  checkInteger('serviceTimeoutMs', limits.serviceTimeoutMs, 100, 600_000);
  checkInteger('serviceAnswerBytesMax', limits.serviceAnswerBytesMax, 1_024, 64 * 1024 * 1024);
  checkInteger('bodyLimitBytes', limits.bodyLimitBytes, 256, 1024 * 1024);
  if (typeof limits.openingBalanceMinorMax !== 'bigint' || limits.openingBalanceMinorMax < 0n)
    throw new RangeError('console limits: openingBalanceMinorMax must be a bigint ≥ 0');
  return Object.freeze(limits);
}
