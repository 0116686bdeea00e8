/**
 * Every limit of the gateway (the FSP), as named options: validated once at
 * start, frozen, and passed to whatever needs them. Units are last in the name.
 */
export interface GatewayLimits {
  /** How long a customer has to answer a payment request. */
  readonly paymentExpirySeconds: number;
  /** Largest lifetime (exp − iat) accepted on a signed message. */
  readonly messageAgeSecondsMax: number;
  readonly clockSkewSeconds: number;
  /** Validity of the merchant key certificates the FSP issues. */
  readonly certificateValidityDays: number;
  /** Largest request body accepted (413 above). */
  readonly bodyLimitBytes: number;
  /** Requests handled at once; above it the gateway answers 503 with Retry-After. */
  readonly inFlightRequestsMax: number;
  /** The window over which payment requests are counted for the rate limits. */
  readonly rateWindowSeconds: number;
  /** Payment requests one merchant may make per window (429 with Retry-After above). */
  readonly paymentRequestsPerMerchantMax: number;
  /** Payment requests one customer may receive per window, from all merchants together. */
  readonly paymentRequestsPerCustomerMax: number;
  /** Phone-number lookups (GET /aliases/:msisdn) one merchant may make per window (429 with Retry-After above). */
  readonly aliasLookupsPerMerchantMax: number;
  /** Pending requests sent to a device per page when it (re)connects. */
  readonly devicePageSize: number;
  /** How long a confirmation waits for the customer's bank before answering `authorised`. */
  readonly confirmationWaitMs: number;
  /**
   * How long the receipt's push to a device's stream waits: a confirmation's answer that carries the
   * receipt, once handed to the device's connection within it, cancels the push (one delivery); a device
   * whose answer never went out (it gave up waiting, its connection broke) gets the push then.
   */
  readonly receiptPushGraceMs: number;
  /** Timeout of one call to a bank. */
  readonly bankTimeoutMs: number;
  /** Outbox: attempts before an effect is abandoned (bank orders are never abandoned). */
  readonly outboxAttemptsMax: number;
  readonly outboxBackoffBaseMs: number;
  readonly outboxBackoffMaxMs: number;
  /** Outbox: effects claimed per round, and how long a claimed effect is hidden from other workers. */
  readonly outboxBatchSizeMax: number;
  readonly outboxLeaseMs: number;
  /**
   * Outbox: how long after submitting a payment's or refund's entry to the transaction log its receipt
   * is first asked for. The log integrates on a timer (its integrationIntervalMs, 1 s by default) and
   * then its witnesses cosign: asked at once, the receipt never exists yet, and each early ask costs an
   * HTTP round trip, the checkpoint's signature checks and three statements. Later asks back off as
   * any retry does.
   */
  readonly logReceiptFirstCheckMs: number;
  /**
   * Outbox: how long the log line (outbox/log-line.ts) gathers payments' and refunds' log entries
   * before it sends them to the transaction log in one signed request, unless outboxBatchSizeMax of
   * them wait sooner (0: each delivery takes what waits at once). Each request costs both sides a
   * signature, its checks and a transaction whatever it carries, while the entries' inclusion is off
   * the payment's path (the receipt is asked for logReceiptFirstCheckMs after the submission anyway).
   * Less than half of outboxLeaseMs, so that a gathered entry is delivered well within its lease.
   */
  readonly logLineGatherMs: number;
  /** Timeout of one webhook delivery. */
  readonly webhookTimeoutMs: number;
  /** Payments the expiry sweep closes per round. */
  readonly expiryBatchSizeMax: number;
  /** How long an answered Idempotency-Key is kept. */
  readonly idempotencyKeptSeconds: number;
  /** Lifetime of the FSP's signature on receipts, outcomes and notifications (the envelope's maximum). */
  readonly receiptLifetimeSeconds: number;
  /**
   * Longest time a checked key of the registry (a customer's binding, a merchant's certified key) is
   * used from memory without reading it again (0: never). Changes empty the cache at once through the
   * database's notifications (registry/key-cache.ts); this bounds the staleness when those stop.
   */
  readonly keyCacheTtlMs: number;
  /** Keys held in that cache, per kind (bindings by customer, owners by kid). */
  readonly keyCacheEntriesMax: number;
  /**
   * Payment requests kept in memory after their commit, for their customer's confirmation to be checked
   * against without reading them back (payments/recent.ts); 0: every confirmation reads its payment.
   */
  readonly recentPaymentsMax: number;
}

export const defaultGatewayLimits: GatewayLimits = Object.freeze({
  paymentExpirySeconds: 300,
  messageAgeSecondsMax: 600,
  clockSkewSeconds: 60,
  certificateValidityDays: 365,
  bodyLimitBytes: 64 * 1024,
  inFlightRequestsMax: 256,
  rateWindowSeconds: 60,
  paymentRequestsPerMerchantMax: 6_000,
  paymentRequestsPerCustomerMax: 10,
  aliasLookupsPerMerchantMax: 1_000,
  devicePageSize: 50,
  confirmationWaitMs: 10_000,
  receiptPushGraceMs: 5_000,
  bankTimeoutMs: 10_000,
  outboxAttemptsMax: 12,
  outboxBackoffBaseMs: 250,
  outboxBackoffMaxMs: 10 * 60_000,
  outboxBatchSizeMax: 32,
  outboxLeaseMs: 30_000,
  logReceiptFirstCheckMs: 1_000,
  logLineGatherMs: 250,
  webhookTimeoutMs: 5_000,
  expiryBatchSizeMax: 100,
  idempotencyKeptSeconds: 86_400,
  receiptLifetimeSeconds: 86_400,
  keyCacheTtlMs: 5_000,
  keyCacheEntriesMax: 10_000,
  recentPaymentsMax: 1_024,
});

/** Inclusive bounds of every limit: a value outside them is a configuration error at start. */
const bounds: Readonly<Record<keyof GatewayLimits, readonly [number, number]>> = {
  paymentExpirySeconds: [10, 86_400],
  messageAgeSecondsMax: [10, 86_400],
  clockSkewSeconds: [0, 300],
  certificateValidityDays: [1, 3_650],
  bodyLimitBytes: [1_024, 1024 * 1024],
  inFlightRequestsMax: [1, 100_000],
  rateWindowSeconds: [1, 86_400],
  paymentRequestsPerMerchantMax: [1, 10_000_000],
  paymentRequestsPerCustomerMax: [1, 100_000],
  aliasLookupsPerMerchantMax: [1, 1_000_000],
  devicePageSize: [1, 500],
  confirmationWaitMs: [0, 120_000],
  receiptPushGraceMs: [0, 120_000],
  bankTimeoutMs: [100, 120_000],
  outboxAttemptsMax: [1, 1_000],
  outboxBackoffBaseMs: [1, 60_000],
  outboxBackoffMaxMs: [1, 86_400_000],
  outboxBatchSizeMax: [1, 1_000],
  outboxLeaseMs: [1_000, 3_600_000],
  logReceiptFirstCheckMs: [0, 600_000],
  logLineGatherMs: [0, 10_000],
  webhookTimeoutMs: [100, 120_000],
  expiryBatchSizeMax: [1, 10_000],
  idempotencyKeptSeconds: [60, 30 * 86_400],
  receiptLifetimeSeconds: [60, 86_400],
  keyCacheTtlMs: [0, 60_000],
  keyCacheEntriesMax: [1, 1_000_000],
  recentPaymentsMax: [0, 100_000],
};

/** The longest call an outbox delivery makes (a bank order or a webhook): a lease must outlast it. */
export function slowestOutboxCallMs(
  limits: Pick<GatewayLimits, 'bankTimeoutMs' | 'webhookTimeoutMs'>,
): number {
  return Math.max(limits.bankTimeoutMs, limits.webhookTimeoutMs);
}

/** Validates and freezes the gateway's limits; throws naming the first limit out of bounds. */
export function createGatewayLimits(options: Partial<GatewayLimits> = {}): GatewayLimits {
  const limits: GatewayLimits = { ...defaultGatewayLimits, ...options };
  for (const name of Object.keys(bounds) as (keyof GatewayLimits)[]) {
    const value = limits[name];
    const [min, max] = bounds[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`gateway limits: ${name} must be an integer in ${min}..${max}, got ${String(value)}`);
    }
  }
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(bounds, name)) throw new Error(`gateway limits: unknown limit ${name}`);
  }
  if (limits.outboxBackoffBaseMs > limits.outboxBackoffMaxMs) {
    throw new Error('gateway limits: outboxBackoffBaseMs must not exceed outboxBackoffMaxMs');
  }
  // A delivery must end within its lease: one still waiting for its bank or webhook when the lease runs
  // out is claimed again by another worker, and both deliver.
  const slowestCallMs = slowestOutboxCallMs(limits);
  if (limits.outboxLeaseMs <= slowestCallMs) {
    throw new Error(
      `gateway limits: outboxLeaseMs (${limits.outboxLeaseMs}) must exceed bankTimeoutMs and webhookTimeoutMs (${slowestCallMs})`,
    );
  }
  if (limits.logLineGatherMs * 2 >= limits.outboxLeaseMs) {
    throw new Error(
      `gateway limits: logLineGatherMs (${limits.logLineGatherMs}) must be less than half of outboxLeaseMs (${limits.outboxLeaseMs})`,
    );
  }
  return Object.freeze(limits);
}

/**
 * The limits a running gateway reads once, at its start: the HTTP server's
 * (body size, requests in flight), the key cache's and the recent payments'. A reload leaves them
 * as they are and names them: they take effect at the next start.
 */
export const gatewayStartOnlyLimits: readonly (keyof GatewayLimits)[] = Object.freeze([
  'bodyLimitBytes',
  'inFlightRequestsMax',
  'keyCacheTtlMs',
  'keyCacheEntriesMax',
  'recentPaymentsMax',
]);

/** What a reload of the gateway's limits did: the limits it changed, and those left for the next start. */
export interface GatewayLimitsReload {
  readonly changed: readonly (keyof GatewayLimits)[];
  readonly atNextStart: readonly (keyof GatewayLimits)[];
}

/**
 * The limits a running gateway takes on a reload: `options` validated as at
 * a start (the defaults for any it leaves out; throws naming the first one
 * wrong, and nothing changes), with the start-only limits kept as `current`.
 */
export function reloadedGatewayLimits(
  current: GatewayLimits,
  options: Partial<GatewayLimits> = {},
): { readonly limits: GatewayLimits; readonly reload: GatewayLimitsReload } {
  const next: Record<string, number> = { ...createGatewayLimits(options) };
  const atNextStart: (keyof GatewayLimits)[] = [];
  for (const name of gatewayStartOnlyLimits) {
    if (next[name] !== current[name]) atNextStart.push(name);
    next[name] = current[name];
  }
  const limits = Object.freeze(next as unknown as GatewayLimits);
  const changed = (Object.keys(bounds) as (keyof GatewayLimits)[]).filter(
    (name) => limits[name] !== current[name],
  );
  return { limits, reload: { changed, atNextStart } };
}
