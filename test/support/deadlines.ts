/**
 * Named deadlines for tests, and `waitFor`, which polls for a condition until one runs out.
 *
 * Tests wait for readiness (a child process printed its ready line, a URL answers /health, a
 * background job left its mark), never for "some time". A deadline only decides when a wait has
 * clearly failed, so every one is generous: a CI machine with a load of 10–20 on 2 cores starts the
 * whole platform in 2–3 minutes instead of a few seconds. Tests never assert how long things took.
 *
 * MPAY_TEST_DEADLINE_SCALE multiplies every deadline (e.g. 0.1 to find a hang quickly on a fast
 * machine, 3 on a very slow one). vitest.config.ts takes its test and hook timeouts from here, so the
 * named deadlines below always run out first and say what was being waited for.
 *
 * Import it by relative path from any workspace's tests (e.g. '../../../../test/support/deadlines.ts').
 */

const minute = 60_000;

function readScale(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return 1;
  const scale = Number(text);
  if (!Number.isFinite(scale) || scale <= 0)
    throw new Error(`MPAY_TEST_DEADLINE_SCALE must be a positive number, not ${JSON.stringify(text)}`);
  return scale;
}

/** The factor from MPAY_TEST_DEADLINE_SCALE (default 1). */
export const deadlineScale = readScale(process.env.MPAY_TEST_DEADLINE_SCALE);

const scaled = (ms: number) => Math.max(1, Math.round(ms * deadlineScale));

// Measured (2 cores): startPlatform takes 10–15 s on an idle machine and 80–170 s at a load of ~15;
// one bank process or `mpay log serve` takes a few seconds idle. Each deadline is ~3× the worst seen.

/** One service or child process (a bank, `mpay log serve`, a witness) to say it is ready. */
export const serviceStartDeadlineMs = scaled(4 * minute);
/** The whole platform (startPlatform: banks, log, witness, gateway, shop, demo seed) to be up. */
export const platformStartDeadlineMs = scaled(8 * minute);
/** A payment (or every payment of a batch) to reach a final state after crashes and retries. */
export const paymentSettledDeadlineMs = scaled(5 * minute);
/** Background work to show its effect: a log entry included and cosigned, a witness alarm raised. */
export const backgroundWorkDeadlineMs = scaled(3 * minute);
/** One request on loopback to be answered (a health check, a witness cosigning one checkpoint). */
export const requestDeadlineMs = scaled(1 * minute);
/** A process told to stop (SIGTERM) to exit before it is killed; not a failure when it runs out. */
export const processExitDeadlineMs = scaled(1 * minute);
/**
 * A whole short chaos run (test/crash/chaos.test.ts: 30 s of payments, six kills and restarts, the
 * audit and the evidence), which took 67 s on a quiet machine (6 December): bounded below CI's own
 * 30 minutes, so that a hang is reported with the run's output.
 */
export const chaosRunDeadlineMs = scaled(12 * minute);
/** vitest's testTimeout and hookTimeout: a backstop above every named deadline, never the one that decides. */
export const testTimeoutMs = scaled(15 * minute);

export interface WaitOptions {
  /** How long to keep trying, normally one of the named deadlines above. */
  readonly deadlineMs: number;
  /** What is awaited, for the failure message: 'bank xbank to answer /health'. */
  readonly what: string;
  /** Pause between two tries (default 100 ms). */
  readonly intervalMs?: number;
  /** More for the failure message, read when the deadline has run out (e.g. the child's output). */
  readonly detail?: () => string;
}

function timedOut(options: WaitOptions): Error {
  const detail = options.detail?.();
  return new Error(
    `timed out after ${options.deadlineMs / 1000} s waiting for ${options.what}${detail ? `\n${detail}` : ''}`,
  );
}

/**
 * Polls `condition` until it returns a truthy value, and returns that value. Fails with a message
 * naming `what` once `deadlineMs` has run out; an error thrown by `condition` (e.g. "the process
 * exited") ends the wait at once. A try that hangs is cut off by the deadline too.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitOptions,
): Promise<Exclude<T, false | 0 | '' | null | undefined>> {
  const end = Date.now() + options.deadlineMs;
  for (;;) {
    const remaining = end - Date.now();
    if (remaining <= 0) throw timedOut(options);
    const value = await race(Promise.resolve().then(condition), remaining, () => timedOut(options));
    if (value) return value as Exclude<T, false | 0 | '' | null | undefined>;
    await new Promise((done) => setTimeout(done, Math.min(options.intervalMs ?? 100, end - Date.now())));
  }
}

/**
 * Settles as `promise` does, or fails with a message naming `what` if it has not settled within
 * `deadlineMs`. For a one-shot wait that cannot be polled (an in-process start, a ready line).
 */
export function within<T>(promise: Promise<T>, options: Omit<WaitOptions, 'intervalMs'>): Promise<T> {
  return race(promise, options.deadlineMs, () => timedOut(options));
}

async function race<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(error()), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
