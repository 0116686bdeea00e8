export type SecurityLevel = 'small' | 'medium' | 'large';

/** Upper bounds (exclusive, minor units) of the small and medium levels for one currency. */
export interface SecurityThresholds {
  readonly smallBelowMinor: bigint;
  readonly mediumBelowMinor: bigint;
}

/** Defaults per currency; deployments override them in configuration. */
export const defaultSecurityThresholds: Readonly<Record<string, SecurityThresholds>> = Object.freeze({
  EUR: { smallBelowMinor: 30_00n, mediumBelowMinor: 500_00n },
  USD: { smallBelowMinor: 30_00n, mediumBelowMinor: 500_00n },
  MKD: { smallBelowMinor: 2_000_00n, mediumBelowMinor: 30_000_00n },
});

const levelOrder: Readonly<Record<SecurityLevel, number>> = { small: 0, medium: 1, large: 2 };

/**
 * The iMS security level of a payment ("different levels of security have to
 * be implemented for small, medium and large transaction of funds"). Computed
 * by the gateway; a currency without thresholds is always `large`.
 */
export function securityLevelFor(
  amountMinor: bigint,
  currency: string,
  recentTotalMinor = 0n,
  thresholds: Readonly<Record<string, SecurityThresholds>> = defaultSecurityThresholds,
): SecurityLevel {
  const limits = thresholds[currency];
  if (limits === undefined) return 'large';
  const cumulative = amountMinor + recentTotalMinor;
  if (cumulative < limits.smallBelowMinor) return 'small';
  if (cumulative < limits.mediumBelowMinor) return 'medium';
  return 'large';
}

export function isLevelAtLeast(claimed: SecurityLevel, required: SecurityLevel): boolean {
  return levelOrder[claimed] >= levelOrder[required];
}
