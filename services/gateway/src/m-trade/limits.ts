/**
 * The limits of m-trade claims (iMS §2.2), as named options: validated once,
 * frozen. They sit beside the gateway's own limits (limits.ts) and follow the
 * same rules; units are last in the name.
 */
export interface TradeClaimLimits {
  /** Claims one customer may hold at once that no payment request has answered yet and whose code is still valid. */
  readonly openClaimsPerCustomerMax: number;
  /** Claims one customer may make per window, answered or not. */
  readonly claimsPerCustomerPerWindowMax: number;
  readonly claimWindowSeconds: number;
}

export const defaultTradeClaimLimits: TradeClaimLimits = Object.freeze({
  openClaimsPerCustomerMax: 3,
  claimsPerCustomerPerWindowMax: 30,
  claimWindowSeconds: 3_600,
});

const bounds: Readonly<Record<keyof TradeClaimLimits, readonly [number, number]>> = {
  openClaimsPerCustomerMax: [1, 100],
  claimsPerCustomerPerWindowMax: [1, 10_000],
  claimWindowSeconds: [60, 86_400],
};

/** Validates and freezes; throws naming the first limit out of bounds or unknown. */
export function createTradeClaimLimits(options: Partial<TradeClaimLimits> = {}): TradeClaimLimits {
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(bounds, name)) throw new Error(`m-trade limits: unknown limit ${name}`);
  }
  const limits: TradeClaimLimits = { ...defaultTradeClaimLimits, ...options };
  for (const name of Object.keys(bounds) as (keyof TradeClaimLimits)[]) {
    const value = limits[name];
    const [min, max] = bounds[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`m-trade limits: ${name} must be an integer in ${min}..${max}, got ${String(value)}`);
    }
  }
  if (limits.openClaimsPerCustomerMax > limits.claimsPerCustomerPerWindowMax) {
    throw new Error('m-trade limits: openClaimsPerCustomerMax must not exceed claimsPerCustomerPerWindowMax');
  }
  return Object.freeze(limits);
}
