/**
 * How many times `mpay up --processes` starts a service process again after
 * crashes of its own: at most `restartsMax` within any `windowMs`. A service
 * that crashes more often is not going to stay up; the supervisor then stops
 * the whole platform and exits non-zero, so that whatever runs it (systemd, a
 * container runtime, an operator) sees a failed platform rather than one
 * serving without that service. A crash now and then, hours apart, is
 * restarted every time.
 */
export interface CrashBudgetOptions {
  /** Restarts of one service within the window (1..100). */
  readonly restartsMax: number;
  /** The sliding window the restarts are counted in, in ms (1 s..1 day). */
  readonly windowMs: number;
}

export const defaultCrashBudgetOptions: CrashBudgetOptions = Object.freeze({
  restartsMax: 5,
  windowMs: 10 * 60_000,
});

export function createCrashBudgetOptions(options: Partial<CrashBudgetOptions> = {}): CrashBudgetOptions {
  const merged = { ...defaultCrashBudgetOptions, ...options };
  const check = (name: keyof CrashBudgetOptions, min: number, max: number) => {
    const value = merged[name];
    if (!Number.isSafeInteger(value) || value < min || value > max)
      throw new RangeError(`crash budget: ${name} must be an integer in ${min}..${max}`);
  };
  check('restartsMax', 1, 100);
  check('windowMs', 1_000, 86_400_000);
  return Object.freeze(merged);
}

/** A crash's verdict: start it again (the `count`th restart within the window), or give up. */
export type CrashVerdict =
  | { readonly restart: true; readonly count: number }
  | { readonly restart: false; readonly count: number };

export interface CrashBudget {
  /** One crash of `service` at `now`; each verdict to restart counts as one restart. */
  crashed(service: string, now: Date): CrashVerdict;
}

export function createCrashBudget(options: CrashBudgetOptions = defaultCrashBudgetOptions): CrashBudget {
  const { restartsMax, windowMs } = createCrashBudgetOptions(options);
  // Per service, the times of its restarts within the window, oldest first (at most restartsMax).
  const restarts = new Map<string, number[]>();
  return {
    crashed(service, now) {
      const at = now.getTime();
      const recent = (restarts.get(service) ?? []).filter((time) => at - time < windowMs);
      if (recent.length >= restartsMax) {
        restarts.set(service, recent);
        return { restart: false, count: recent.length };
      }
      recent.push(at);
      restarts.set(service, recent);
      return { restart: true, count: recent.length };
    },
  };
}
