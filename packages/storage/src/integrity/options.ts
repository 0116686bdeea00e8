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
   * could not run), STORAGE_CHECKSUMS_OFF (the warning at start),
   * STORAGE_VACUUM_FAILED (the periodic VACUUM could not run),
   * STORAGE_VACUUM_SLOW (it held the database longer than vacuumSlowMs).
   */
  readonly code:
    | 'STORAGE_CORRUPTED'
    | 'STORAGE_CHECK_FAILED'
    | 'STORAGE_CHECKSUMS_OFF'
    | 'STORAGE_VACUUM_FAILED'
    | 'STORAGE_VACUUM_SLOW';
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
  /**
   * Time between two `VACUUM (ANALYZE)` runs of a running database, in ms (integer, 0 = never,
   * else 60,000..604,800,000; default 3,600,000: an hour). PGlite runs PostgreSQL in single-user
   * mode, so no autovacuum ever runs: without this, dead rows and index entries are never
   * reclaimed, the planner never gets statistics, and transaction ids are never frozen (after
   * about two billion transactions PostgreSQL stops accepting writes). It runs in the periodic
   * check's round once this long has passed since the database opened or was last vacuumed;
   * it holds the database while it runs (one connection). With `checks` false there is no round:
   * no VACUUM either.
   */
  readonly vacuumIntervalMs?: number;
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
  readonly vacuumIntervalMs: number;
  readonly timer: IntegrityTimer;
  readonly now: () => number;
  readonly log: StorageLog;
}

export const defaultIntegrityIntervalMs = 600_000;
export const defaultVacuumIntervalMs = 3_600_000;
/** A VACUUM that held the database longer than this is logged (STORAGE_VACUUM_SLOW): requests waited that long. */
export const vacuumSlowMs = 2_000;
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
  const vacuumIntervalMs = options.vacuumIntervalMs ?? defaultVacuumIntervalMs;
  if (
    !Number.isSafeInteger(vacuumIntervalMs) ||
    (vacuumIntervalMs !== 0 && (vacuumIntervalMs < 60_000 || vacuumIntervalMs > 604_800_000))
  ) {
    throw new RangeError('storage integrity: vacuumIntervalMs must be 0 or an integer in 60000..604800000');
  }
  return Object.freeze({
    checks: options.checks ?? true,
    intervalMs,
    vacuumIntervalMs,
    timer: options.timer ?? processTimer,
    now: options.now ?? Date.now,
    log: options.log ?? stderrStorageLog,
  });
}
