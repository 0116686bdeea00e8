import { MpayError } from '@mpay/protocol';

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
  /**
   * The pause before the second restart within the window, doubled for each
   * one after (0..60 s): a service that fails as it starts (a port taken, a
   * database down) is not started again and again within a second, using
   * its budget before the cause can pass. The first restart is at once.
   */
  readonly restartDelayBaseMs: number;
  /** The longest pause before a restart (restartDelayBaseMs..10 min). */
  readonly restartDelayMaxMs: number;
}

export const defaultCrashBudgetOptions: CrashBudgetOptions = Object.freeze({
  restartsMax: 5,
  windowMs: 10 * 60_000,
  restartDelayBaseMs: 1_000,
  restartDelayMaxMs: 30_000,
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
  check('restartDelayBaseMs', 0, 60_000);
  check('restartDelayMaxMs', merged.restartDelayBaseMs, 600_000);
  // The pauses before restarts 2..restartsMax must fit in the window, or a service that keeps crashing
  // would never use up its budget: restarted for ever, one pause apart.
  let pauses = 0;
  for (let count = 2; count <= merged.restartsMax; count += 1) pauses += restartDelayMs(merged, count);
  if (pauses >= merged.windowMs)
    throw new RangeError(
      `crash budget: ${merged.restartsMax} restarts take ${pauses / 1000} s of pauses, beyond the ${merged.windowMs / 1000}-s window: a service that keeps crashing would never be given up on`,
    );
  return Object.freeze(merged);
}

/** The pause before the `count`th restart within the window: none for the first, then doubling up to the max. */
export function restartDelayMs(options: CrashBudgetOptions, count: number): number {
  if (count <= 1) return 0;
  // 2^(count − 2), capped before it can overflow (count ≤ restartsMax ≤ 100).
  const factor = 2 ** Math.min(count - 2, 30);
  return Math.min(options.restartDelayBaseMs * factor, options.restartDelayMaxMs);
}

/**
 * A crash's verdict: start it again after `delayMs` (the `count`th restart
 * within the window), or give up.
 */
export type CrashVerdict =
  | { readonly restart: true; readonly count: number; readonly delayMs: number }
  | { readonly restart: false; readonly count: number };

export interface CrashBudget {
  /** One crash of `service` at `now`; each verdict to restart counts as one restart. */
  crashed(service: string, now: Date): CrashVerdict;
}

export function createCrashBudget(options: Partial<CrashBudgetOptions> = {}): CrashBudget {
  const checked = createCrashBudgetOptions(options);
  const { restartsMax, windowMs } = checked;
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
      return { restart: true, count: recent.length, delayMs: restartDelayMs(checked, recent.length) };
    },
  };
}

/** A flag's whole number in min..max, or CONFIGURATION_INVALID naming the flag. */
function wholeNumberFlag(flags: ReadonlyMap<string, string>, name: string, min: number, max: number) {
  const text = flags.get(name);
  if (text === undefined) return undefined;
  const value = /^\d{1,7}$/.test(text.trim()) ? Number.parseInt(text.trim(), 10) : Number.NaN;
  if (!(value >= min && value <= max))
    throw new MpayError(
      'CONFIGURATION_INVALID',
      `--${name} must be a whole number in ${min}..${max}, not ${JSON.stringify(text)}`,
    );
  return value;
}

/**
 * The budget an operator sets on `mpay up --processes`: `--restarts N`
 * (restarts of one service within the window, 1..100) and `--restart-window
 * MINUTES` (1..1440); the defaults otherwise.
 */
export function crashBudgetOptionsFromFlags(flags: ReadonlyMap<string, string>): CrashBudgetOptions {
  const restartsMax = wholeNumberFlag(flags, 'restarts', 1, 100);
  const windowMinutes = wholeNumberFlag(flags, 'restart-window', 1, 1_440);
  try {
    return createCrashBudgetOptions({
      ...(restartsMax === undefined ? {} : { restartsMax }),
      ...(windowMinutes === undefined ? {} : { windowMs: windowMinutes * 60_000 }),
    });
  } catch (error) {
    throw new MpayError(
      'CONFIGURATION_INVALID',
      `--restarts ${restartsMax ?? defaultCrashBudgetOptions.restartsMax} within --restart-window ${windowMinutes ?? defaultCrashBudgetOptions.windowMs / 60_000}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
