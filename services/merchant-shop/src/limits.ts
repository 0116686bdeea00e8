/**
 * Every limit of the merchant shop, as named options: validated once at
 * start, frozen. Units are last in the name.
 */
export interface ShopLimits {
  /** Products the catalogue may list. */
  readonly catalogueProductsMax: number;
  /** Distinct products one cart may hold. */
  readonly cartLinesMax: number;
  /** Units of one product one cart line may hold. */
  readonly lineQuantityMax: number;
  /** Largest order total, in minor units of the order's currency (checked as bigint). */
  readonly orderTotalMinorMax: number;
  /** Carts not checked out are forgotten after this long without a change. */
  readonly cartLifetimeSeconds: number;
  /** Open (not checked out) carts kept at once; above it a new cart is refused (SERVICE_OVERLOADED). */
  readonly cartsOpenMax: number;
  /**
   * How long after checkout the shop keeps asking the FSP for the payment
   * (the FSP unreachable); then the order is `payment_request_failed`, which
   * the FSP's signed outcome can still settle if a request did get through.
   */
  readonly paymentRequestWindowSeconds: number;
  /** Attempts to hand one trade claim or refund update to its hook before it is abandoned (logged). */
  readonly hookAttemptsMax: number;
  /** Notifications stored per payment (or claim, or refund): redeliveries beyond are acknowledged, not stored. */
  readonly notificationsPerSubjectMax: number;
  /** Orders or notifications per page when the merchant names no limit, and the most one page answers. */
  readonly pageSizeDefault: number;
  readonly pageSizeMax: number;
  /** How often `waitForNotification` looks at the database besides being woken (another shop process). */
  readonly notificationPollMs: number;
  readonly bodyLimitBytes: number;
  readonly inFlightRequestsMax: number;
  readonly outboxBackoffBaseMs: number;
  readonly outboxBackoffMaxMs: number;
  readonly outboxBatchSizeMax: number;
  /** How long a claimed outbox row is left to its worker before another may take it. */
  readonly outboxLeaseMs: number;
}

export const defaultShopLimits: ShopLimits = Object.freeze({
  catalogueProductsMax: 1_000,
  cartLinesMax: 50,
  lineQuantityMax: 99,
  orderTotalMinorMax: 1_000_000_00,
  cartLifetimeSeconds: 7 * 86_400,
  cartsOpenMax: 100_000,
  paymentRequestWindowSeconds: 300,
  hookAttemptsMax: 20,
  notificationsPerSubjectMax: 16,
  pageSizeDefault: 50,
  pageSizeMax: 200,
  notificationPollMs: 250,
  bodyLimitBytes: 64 * 1024,
  inFlightRequestsMax: 256,
  outboxBackoffBaseMs: 250,
  outboxBackoffMaxMs: 60_000,
  outboxBatchSizeMax: 32,
  outboxLeaseMs: 30_000,
});

/** Inclusive bounds of every limit: a value outside them is a configuration error at start. */
const bounds: Readonly<Record<keyof ShopLimits, readonly [number, number]>> = {
  catalogueProductsMax: [1, 100_000],
  cartLinesMax: [1, 500],
  lineQuantityMax: [1, 100_000],
  orderTotalMinorMax: [1, Number.MAX_SAFE_INTEGER],
  cartLifetimeSeconds: [60, 365 * 86_400],
  cartsOpenMax: [1, 100_000_000],
  paymentRequestWindowSeconds: [10, 86_400],
  hookAttemptsMax: [1, 1_000],
  notificationsPerSubjectMax: [1, 1_000],
  pageSizeDefault: [1, 1_000],
  pageSizeMax: [1, 1_000],
  notificationPollMs: [10, 60_000],
  bodyLimitBytes: [1_024, 1024 * 1024],
  inFlightRequestsMax: [1, 100_000],
  outboxBackoffBaseMs: [1, 60_000],
  outboxBackoffMaxMs: [1, 86_400_000],
  outboxBatchSizeMax: [1, 1_000],
  outboxLeaseMs: [1_000, 3_600_000],
};

/** Validates and freezes the shop's limits; throws naming the first limit out of bounds. */
export function createShopLimits(options: Partial<ShopLimits> = {}): ShopLimits {
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(bounds, name)) throw new Error(`shop limits: unknown limit ${name}`);
  }
  const limits: ShopLimits = { ...defaultShopLimits, ...options };
  for (const name of Object.keys(bounds) as (keyof ShopLimits)[]) {
    const value = limits[name];
    const [min, max] = bounds[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`shop limits: ${name} must be an integer in ${min}..${max}, got ${String(value)}`);
    }
  }
  if (limits.pageSizeDefault > limits.pageSizeMax)
    throw new Error('shop limits: pageSizeDefault must not exceed pageSizeMax');
  if (limits.outboxBackoffBaseMs > limits.outboxBackoffMaxMs)
    throw new Error('shop limits: outboxBackoffBaseMs must not exceed outboxBackoffMaxMs');
  return Object.freeze(limits);
}
