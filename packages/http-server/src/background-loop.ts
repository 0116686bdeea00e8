/**
 * A service's background work without polling an idle database: a round
 * runs, says whether it found anything to do, and the next round comes
 * after `busyIntervalMs` if it did, else after a wait that doubles up to
 * `idleIntervalMaxMs`. `kick()` runs a round as soon as the current one
 * ends (many kicks in a burst ask for one round): a service kicks after it
 * commits work the loop must carry on (an outbox row, a record for the log),
 * so that work does not wait for the idle interval.
 *
 * What is due by time alone (a retry's backoff, an expiry) waits at most
 * `idleIntervalMaxMs` longer than it would with polling every
 * `busyIntervalMs`; housekeeping (forgetting expired nonces) belongs in a
 * round only when `housekeepingDue` says so, a much slower cadence.
 */
export interface BackgroundLoopLimits {
  /** Wait after a round that found work, in ms (integer, 1..86,400,000; tests set an hour to drive rounds themselves). */
  readonly busyIntervalMs: number;
  /** Longest wait after rounds that found nothing, in ms (integer, busyIntervalMs..86,400,000). */
  readonly idleIntervalMaxMs: number;
}

export const defaultBackgroundLoopLimits: BackgroundLoopLimits = Object.freeze({
  busyIntervalMs: 250,
  idleIntervalMaxMs: 2_000,
});

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new RangeError(`background loop: ${name} must be an integer in ${min}..${max}`);
  return value;
}

export function createBackgroundLoopLimits(
  options: Partial<BackgroundLoopLimits> = {},
): BackgroundLoopLimits {
  const busyIntervalMs = checkInteger(
    'busyIntervalMs',
    options.busyIntervalMs ?? defaultBackgroundLoopLimits.busyIntervalMs,
    1,
    86_400_000,
  );
  const idleIntervalMaxMs = checkInteger(
    'idleIntervalMaxMs',
    options.idleIntervalMaxMs ?? Math.max(busyIntervalMs, defaultBackgroundLoopLimits.idleIntervalMaxMs),
    busyIntervalMs,
    86_400_000,
  );
  return Object.freeze({ busyIntervalMs, idleIntervalMaxMs });
}

/** A service's options for its loop, as the gateway, custody and the shop take them. */
export interface BackgroundLoopOptions {
  /** The busy interval, in ms (default 500). */
  readonly backgroundIntervalMs?: number | undefined;
  /** The idle maximum, in ms (default the service's; at least the busy interval). */
  readonly backgroundIdleIntervalMaxMs?: number | undefined;
}

/** The loop's limits from a service's options and its default idle maximum. */
export function backgroundLoopLimitsOf(
  options: BackgroundLoopOptions,
  defaultIdleIntervalMaxMs: number,
): BackgroundLoopLimits {
  const busyIntervalMs = options.backgroundIntervalMs ?? 500;
  return createBackgroundLoopLimits({
    busyIntervalMs,
    idleIntervalMaxMs: Math.max(
      busyIntervalMs,
      options.backgroundIdleIntervalMaxMs ?? defaultIdleIntervalMaxMs,
    ),
  });
}

export interface BackgroundLoop {
  /** Starts the rounds (the first at once); again: nothing. */
  start(): void;
  /** A round as soon as the current one ends; coalesced. Before start or after stop: nothing. */
  kick(): void;
  /** Stops the rounds and waits for the one under way. */
  stop(): Promise<void>;
}

/**
 * `round` resolves true when it found work. A round that throws counts as
 * one that found work (the next comes soon) and is reported to `onError`.
 */
export function createBackgroundLoop(
  round: () => Promise<boolean>,
  limits: BackgroundLoopLimits,
  onError: (error: unknown) => void,
): BackgroundLoop {
  let started = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let kicked = false;
  let idleWaitMs = limits.busyIntervalMs;

  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(runRound, ms);
    // The loop never keeps a process alive on its own: the service's server does.
    timer.unref();
  };

  function runRound(): void {
    timer = undefined;
    kicked = false;
    running = round()
      .catch((error: unknown) => {
        onError(error);
        return true;
      })
      .then((foundWork) => {
        running = undefined;
        if (kicked) {
          schedule(0);
          return;
        }
        idleWaitMs = foundWork ? limits.busyIntervalMs : Math.min(idleWaitMs * 2, limits.idleIntervalMaxMs);
        schedule(foundWork ? limits.busyIntervalMs : idleWaitMs);
      });
  }

  return {
    start() {
      if (started) return;
      started = true;
      schedule(0);
    },
    kick() {
      if (!started || stopped) return;
      idleWaitMs = limits.busyIntervalMs;
      if (running !== undefined) {
        kicked = true;
        return;
      }
      if (timer !== undefined) clearTimeout(timer);
      schedule(0);
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}

/**
 * Whether housekeeping is due by the service's clock: `intervalMs` since the
 * last time it ran, or the clock went back. Call `ran()` after it ran.
 */
export function housekeepingSchedule(intervalMs: number, clock: () => Date): { due(): boolean; ran(): void } {
  checkInteger('housekeeping intervalMs', intervalMs, 1, 86_400_000);
  let last: number | undefined;
  return {
    due() {
      const now = clock().getTime();
      return last === undefined || now - last >= intervalMs || now < last;
    },
    ran() {
      last = clock().getTime();
    },
  };
}
