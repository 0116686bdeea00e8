import { tillCodeLifetimeSecondsMax } from '@mpay/protocol';

/**
 * Every limit of the till, as named options: validated once at start,
 * frozen. Units are last in the name. (The shop's own limits, ShopLimits,
 * still bound the body size, the pages and the hook's retries.)
 */
export interface TillLimits {
  /** Largest sale, in minor units of the till's currency (checked as bigint). */
  readonly saleAmountMinorMax: number;
  /** How long the FSP accepts a sale's QR code (at most the protocol's 900 s). */
  readonly tillCodeLifetimeSeconds: number;
  /**
   * A sale nobody claimed is expired this long after its code expired: a
   * claim the FSP accepted just in time may still be on its way as a webhook.
   */
  readonly claimGraceSeconds: number;
  /** Characters of the staff's reference for a sale (it becomes the payment's description). */
  readonly referenceLengthMax: number;
  /** Characters of a refund's reason (the SDK and the FSP take at most 200). */
  readonly refundReasonLengthMax: number;
  /** Refunds one payment may have, whatever their outcome. */
  readonly refundsPerPaymentMax: number;
  /** Stored notifications applied to one sale per read (the FSP sends a handful per payment). */
  readonly notificationsPerSyncMax: number;
}

export const defaultTillLimits: TillLimits = Object.freeze({
  saleAmountMinorMax: 1_000_000_00,
  tillCodeLifetimeSeconds: 300,
  claimGraceSeconds: 60,
  referenceLengthMax: 64,
  refundReasonLengthMax: 200,
  refundsPerPaymentMax: 20,
  notificationsPerSyncMax: 32,
});

/** Inclusive bounds of every limit: a value outside them is a configuration error at start. */
const bounds: Readonly<Record<keyof TillLimits, readonly [number, number]>> = {
  saleAmountMinorMax: [1, Number.MAX_SAFE_INTEGER],
  tillCodeLifetimeSeconds: [30, tillCodeLifetimeSecondsMax],
  claimGraceSeconds: [0, 3_600],
  referenceLengthMax: [1, 200],
  refundReasonLengthMax: [1, 200],
  refundsPerPaymentMax: [1, 1_000],
  notificationsPerSyncMax: [1, 1_000],
};

/** Validates and freezes the till's limits; throws naming the first limit out of bounds. */
export function createTillLimits(options: Partial<TillLimits> = {}): TillLimits {
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(bounds, name)) throw new Error(`till limits: unknown limit ${name}`);
  }
  const limits: TillLimits = { ...defaultTillLimits, ...options };
  for (const name of Object.keys(bounds) as (keyof TillLimits)[]) {
    const value = limits[name];
    const [min, max] = bounds[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`till limits: ${name} must be an integer in ${min}..${max}, got ${String(value)}`);
    }
  }
  return Object.freeze(limits);
}
