import { basename } from 'node:path';
import { MpayError } from '@mpay/protocol';
import { type IntegrityCheckTarget, type IntegrityReport, runIntegrityCheck } from './check.ts';
import { type IntegritySettings, vacuumSlowMs } from './options.ts';
import { damageOnReadOf } from './tables.ts';

/** Structurally a ReadinessCheck of @mpay/http-server (storage does not depend on the web server). */
export interface StorageReadinessCheck {
  readonly name: string;
  readonly check: () => Promise<unknown>;
}

/** The integrity checks of one embedded database in a folder, as a service sees them. */
export interface DatabaseIntegrity {
  readonly folder: string;
  readonly dataChecksums: boolean;
  /** The last check's report (the start check's until the first periodic one ends). */
  readonly lastReport: IntegrityReport | undefined;
  /** STORAGE_CORRUPTED once a check or a query found damage; from then on every query fails with it. */
  readonly damage: MpayError | undefined;
  /** Runs a check now (or joins the one running); raises the alarm if it finds damage. */
  check(): Promise<IntegrityReport>;
  /** The last periodic (or asked for) VACUUM (ANALYZE): when it ended and how long it held the database. */
  readonly lastVacuum: VacuumReport | undefined;
  /** Runs `VACUUM (ANALYZE)` now (or joins the one running). */
  vacuum(): Promise<VacuumReport>;
  /** For the service's GET /ready: fails once damage was found. */
  readonly readiness: StorageReadinessCheck;
}

export interface VacuumReport {
  /** Milliseconds since the epoch (the settings' clock) when it ended. */
  readonly at: number;
  /** How long it held the database (wall time). */
  readonly durationMs: number;
}

/**
 * The message of a start that found damage: the operator's, so it names the
 * whole folder path and the first problems.
 */
export function damagedAtStart(folder: string, problems: readonly string[]): MpayError {
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more: see the log)` : '';
  return new MpayError(
    'STORAGE_CORRUPTED',
    `the embedded database in ${folder} is damaged: ${problems[0] ?? 'unknown damage'}${more}`,
  );
}

/**
 * Runs the integrity check every `intervalMs` and keeps what it found. On
 * damage it raises the alarm once (an error line with the stable code
 * STORAGE_CORRUPTED, the full folder path and the problems), fences the
 * database (every query from then on fails with STORAGE_CORRUPTED, so the
 * service stops moving money on data it can no longer trust and its
 * /ready, which queries the database, fails), and stops checking. The
 * error the service's clients get names the database, not the server's
 * paths; the log has the rest.
 */
export class IntegrityMonitor implements DatabaseIntegrity {
  readonly folder: string;
  readonly dataChecksums: boolean;
  readonly readiness: StorageReadinessCheck;
  #lastReport: IntegrityReport | undefined;
  #damage: MpayError | undefined;
  #running: Promise<IntegrityReport> | undefined;
  #vacuuming: Promise<VacuumReport> | undefined;
  #lastVacuum: VacuumReport | undefined;
  /** When the database opened or was last vacuumed: the next VACUUM is due vacuumIntervalMs after. */
  #vacuumedAt: number;
  #timer: unknown;
  #stopped = false;

  constructor(
    private readonly target: IntegrityCheckTarget,
    private readonly settings: IntegritySettings,
    startReport: IntegrityReport | undefined,
  ) {
    this.folder = target.folder;
    this.dataChecksums = target.dataChecksums;
    this.#lastReport = startReport;
    this.#vacuumedAt = settings.now();
    this.readiness = Object.freeze({
      name: 'storage integrity',
      check: async () => {
        if (this.#damage !== undefined) throw this.#damage;
        return this.#lastReport;
      },
    });
  }

  get lastReport(): IntegrityReport | undefined {
    return this.#lastReport;
  }

  get damage(): MpayError | undefined {
    return this.#damage;
  }

  get lastVacuum(): VacuumReport | undefined {
    return this.#lastVacuum;
  }

  vacuum(): Promise<VacuumReport> {
    this.#vacuuming ??= this.#vacuum().finally(() => {
      this.#vacuuming = undefined;
    });
    return this.#vacuuming;
  }

  /** A VACUUM reads every page not known all-visible: one that finds a damaged one raises the alarm, as a query does. */
  async #vacuum(): Promise<VacuumReport> {
    const started = performance.now();
    try {
      await this.target.pglite.exec('VACUUM (ANALYZE)');
    } catch (error) {
      const code = damageOnReadOf(error);
      if (code === undefined) throw error;
      throw this.raise([
        `VACUUM (ANALYZE): ${error instanceof Error ? error.message : String(error)} (SQLSTATE ${code})`,
      ]);
    }
    const report = { at: this.settings.now(), durationMs: Math.round(performance.now() - started) };
    this.#vacuumedAt = report.at;
    this.#lastVacuum = report;
    if (report.durationMs > vacuumSlowMs)
      this.settings.log.warn({
        code: 'STORAGE_VACUUM_SLOW',
        folder: this.folder,
        message: `VACUUM (ANALYZE) of ${this.folder} held the database for ${report.durationMs} ms: its requests waited that long`,
      });
    return report;
  }

  /** The periodic VACUUM, when its interval has passed (never on a damaged database). */
  async #vacuumWhenDue(): Promise<void> {
    const interval = this.settings.vacuumIntervalMs;
    if (interval === 0 || this.#damage !== undefined || this.#stopped) return;
    if (this.settings.now() - this.#vacuumedAt < interval) return;
    try {
      await this.vacuum();
    } catch (error) {
      // Damage found raised its own alarm (STORAGE_CORRUPTED) and fenced the database.
      if (this.#stopped || this.#damage !== undefined) return;
      this.settings.log.error({
        code: 'STORAGE_VACUUM_FAILED',
        folder: this.folder,
        message: `VACUUM (ANALYZE) of ${this.folder} could not run: ${error instanceof Error ? error.message : String(error)}`,
      });
      // Tried again at the next round's due time, not at every round.
      this.#vacuumedAt = this.settings.now();
    }
  }

  check(): Promise<IntegrityReport> {
    this.#running ??= this.#check().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #check(): Promise<IntegrityReport> {
    const report = await runIntegrityCheck(this.target);
    this.#lastReport = report;
    if (report.problems.length > 0) this.raise(report.problems);
    return report;
  }

  /** Records damage (from a check, or a query the engine refused with XX001/XX002) and raises the alarm once. */
  raise(problems: readonly string[]): MpayError {
    if (this.#damage === undefined) {
      this.#damage = new MpayError(
        'STORAGE_CORRUPTED',
        `the embedded database "${basename(this.folder)}" is damaged; the service's log names the pages`,
      );
      this.settings.log.error({
        code: 'STORAGE_CORRUPTED',
        folder: this.folder,
        message: `the embedded database in ${this.folder} is damaged: the service stops using it; restore the folder from a backup`,
        problems,
      });
      this.#cancel();
    }
    return this.#damage;
  }

  start(): void {
    if (this.#stopped || this.#damage !== undefined) return;
    this.#timer = this.settings.timer.setTimeout(() => {
      this.#timer = undefined;
      void this.#tick();
    }, this.settings.intervalMs);
  }

  async #tick(): Promise<void> {
    try {
      await this.check();
    } catch (error) {
      if (this.#stopped) return;
      this.settings.log.error({
        code: 'STORAGE_CHECK_FAILED',
        folder: this.folder,
        message: `the integrity check of ${this.folder} could not run: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
    await this.#vacuumWhenDue();
    this.start();
  }

  #cancel(): void {
    if (this.#timer !== undefined) this.settings.timer.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Stops the periodic checks and waits for a running one (the database is about to close). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel();
    await this.#running?.catch(() => undefined);
    await this.#vacuuming?.catch(() => undefined);
  }
}
