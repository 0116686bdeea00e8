/**
 * Named limits, validated when used: a limit outside its range is a programmer
 * error and throws a RangeError rather than silently weakening a check.
 */
export function resolveLimit(name: string, value: number | undefined, bounds: LimitBounds): number {
  const resolved = value ?? bounds.default;
  if (!Number.isSafeInteger(resolved) || resolved < bounds.min || resolved > bounds.max) {
    throw new RangeError(
      `${name} must be an integer in [${bounds.min}, ${bounds.max}], got ${String(value)}`,
    );
  }
  return resolved;
}

export interface LimitBounds {
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

/** Longest compact JWS accepted by default (64 KiB) and at most (1 MiB). */
export const jwsCompactLengthLimit: LimitBounds = { default: 64 * 1024, min: 1, max: 1024 * 1024 };
/** Longest compact JWE accepted by default (256 KiB) and at most (16 MiB). */
export const jweCompactLengthLimit: LimitBounds = { default: 256 * 1024, min: 1, max: 16 * 1024 * 1024 };
/** Tolerated clock difference between parties. */
export const clockSkewSecondsLimit: LimitBounds = { default: 60, min: 0, max: 300 };
/** Longest lifetime of a signed message, from iat to exp. */
export const maxAgeSecondsLimit: LimitBounds = { default: 300, min: 1, max: 86_400 };

/** Longest kid, party id, transaction id or serial number. */
export const IDENTIFIER_LENGTH_MAX = 256;

export function isIdentifier(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= IDENTIFIER_LENGTH_MAX;
}

/** Seconds since the epoch from a millisecond clock. */
export function nowSeconds(now: (() => number) | undefined): number {
  const milliseconds = (now ?? Date.now)();
  if (!Number.isFinite(milliseconds))
    throw new RangeError('now() must return a finite number of milliseconds');
  return Math.floor(milliseconds / 1000);
}
