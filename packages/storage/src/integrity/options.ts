/**
 * The options of the embedded database's integrity checks, named and
 * validated like the services' limits; the timer and the clock are passed in.
 */

/** Schedules the next periodic check; a test passes its own to run checks when it says. */
export interface IntegrityTimer {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** One line of the storage layer's log: a stable code, the folder, what happened. */
export interface StorageLogEntry {
  /**
   * STORAGE_CORRUPTED (the alarm), STORAGE_CHECK_FAILED (a periodic check
   * could not run), STORAGE_CHECKSUMS_OFF (the warning at start).
   */
  readonly code: 'STORAGE_CORRUPTED' | 'STORAGE_CHECK_FAILED' | 'STORAGE_CHECKSUMS_OFF';
  readonly folder: string;
  readonly message: string;
  /** What the check found: a page, a table, an index (at most problemsMax). */
  readonly problems?: readonly string[];
}

export interface StorageLog {
  warn(entry: StorageLogEntry): void;
  error(entry: StorageLogEntry): void;
}

export interface IntegrityOptions {
  /**
   * false: no integrity check, at start or later (the folder is still
   * inspected, created with data checksums, and a query the engine refuses
   * because of damage still raises the alarm and fences the database).
   * Default true. `integrity: false` is the same with the default log.
   */
  readonly checks?: boolean;
  /** Time between two checks of a running database, in ms (integer, 1,000..86,400,000; default 600,000: ten minutes). */
  readonly intervalMs?: number;
  /** Default: the process's timers, unref'd (a pending check never keeps the process alive). */
  readonly timer?: IntegrityTimer;
  /** Milliseconds since the epoch, for the reports (default Date.now). */
  readonly now?: () => number;
  /** Where the alarm and the start warning go (default: one JSON line each on stderr, pino's levels). */
  readonly log?: StorageLog;
}

export interface IntegritySettings {
  readonly checks: boolean;
  readonly intervalMs: number;
  readonly timer: IntegrityTimer;
  readonly now: () => number;
  readonly log: StorageLog;
}

export const defaultIntegrityIntervalMs = 600_000;
/** Most problems one report lists (each is one line of the alarm). */
export const problemsMax = 20;

const processTimer: IntegrityTimer = {
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

function logLine(level: number, entry: StorageLogEntry): void {
  const { message, ...fields } = entry;
  process.stderr.write(`${JSON.stringify({ level, time: Date.now(), ...fields, msg: message })}\n`);
}

/** pino's levels (40 warn, 50 error), so the line reads like the services' own logs. */
export const stderrStorageLog: StorageLog = Object.freeze({
  warn: (entry: StorageLogEntry) => logLine(40, entry),
  error: (entry: StorageLogEntry) => logLine(50, entry),
});

export function createIntegritySettings(options: IntegrityOptions = {}): IntegritySettings {
  const intervalMs = options.intervalMs ?? defaultIntegrityIntervalMs;
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1_000 || intervalMs > 86_400_000) {
    throw new RangeError('storage integrity: intervalMs must be an integer in 1000..86400000');
  }
  return Object.freeze({
    checks: options.checks ?? true,
    intervalMs,
    timer: options.timer ?? processTimer,
    now: options.now ?? Date.now,
    log: options.log ?? stderrStorageLog,
  });
}
