import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { amcheck } from '@electric-sql/pglite/contrib/amcheck';
import { MpayError } from '@mpay/protocol';
import { type ChecksumScan, verifyDataChecksums } from './data-folder/checksums.ts';
import { createDataFolder } from './data-folder/create.ts';
import { DurableNodeFs } from './data-folder/durable-fs.ts';
import { cannotOpen, findUnwritable, inspectDataFolder } from './data-folder/inspect.ts';
import { type DataFolderLock, lockDataFolder } from './data-folder/lock.ts';
import {
  assertSchemaName,
  countedCommitBroken,
  type Database,
  notifyStatement,
  type QueryResult,
  runCommitted,
  type Sql,
  toDriverParams,
} from './database.ts';
import { type IntegrityReport, runIntegrityCheck } from './integrity/check.ts';
import { damagedAtStart, IntegrityMonitor } from './integrity/monitor.ts';
import {
  createIntegritySettings,
  type IntegrityOptions,
  type IntegritySettings,
} from './integrity/options.ts';
import { damageOnReadOf } from './integrity/tables.ts';
import { channelOf, checkPayload } from './notifications.ts';
import { newInMemoryPglite, pgliteEngine } from './pglite-engine.ts';
import { PgliteStatements } from './pglite-statements.ts';
import { countStatement, type StatementCounter, statementCounterOf } from './statement-meter.ts';

/** How a handle runs its statements: PGlite's own transaction object for scripts, the prepared path for queries. */
interface PgliteQueryable {
  query<Row>(
    text: string,
    params: readonly unknown[],
  ): Promise<{ rows: Row[]; affectedRows?: number | undefined }>;
  exec(script: string): Promise<unknown>;
  /** A transaction's (the Sql's commitWithLast): the counted commit's contract, checked as on PostgreSQL. */
  commitWithLast?: (statements?: number) => void;
  /** A transaction's (the Sql's afterCommit). */
  afterCommit?: (callback: () => void) => void;
}

/**
 * What every query passes: refused at once when the database was found
 * damaged, and an engine error that says a page or an index is damaged
 * (XX001 data_corrupted: "invalid page in block 3 of relation base/1/16384";
 * XX002 index_corrupted) turned into STORAGE_CORRUPTED, never a 500.
 */
interface Guard {
  assertUsable(): void;
  translate(error: unknown): unknown;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * commitWithLastStatements's contract on PGlite, which sends no pipeline and
 * so has no COMMIT to send with the last statements: checked as PostgreSQL's
 * TransactionLine checks it, so that the embedded suite finds a work that
 * breaks it. The statements started since the last microtask are the ones a
 * pipeline would carry; fewer than the work said, and the transaction fails
 * at its end (PostgreSQL: a failing statement in the COMMIT's place); a
 * statement or script started after a COMMIT that left is refused.
 */
class CountedCommit {
  #startedThisTurn = 0;
  #commitLeft = false;
  #short: Error | undefined;

  started(): void {
    if (this.#commitLeft) throw new Error(countedCommitBroken.statementAfter);
    if (this.#startedThisTurn === 0)
      queueMicrotask(() => {
        this.#startedThisTurn = 0;
      });
    this.#startedThisTurn += 1;
  }

  scripted(): void {
    if (this.#commitLeft) throw new Error(countedCommitBroken.scriptAfter);
  }

  commitWithLast(statements: number | undefined): void {
    if (this.#commitLeft || this.#startedThisTurn === 0) return;
    if (statements !== undefined && this.#startedThisTurn !== statements) {
      this.#short ??= new Error(countedCommitBroken.short);
      return;
    }
    this.#commitLeft = true;
  }

  /** The work's result, or the count's failure: the transaction then rolls back. */
  settled<T>(result: T): T {
    if (this.#short !== undefined) throw this.#short;
    return result;
  }
}

function wrap(queryable: PgliteQueryable, guard: Guard, counter: StatementCounter): Sql {
  return {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
      guard.assertUsable();
      countStatement(counter, text);
      try {
        const result = await queryable.query<Row>(text, toDriverParams(params));
        return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
      } catch (error) {
        throw guard.translate(error);
      }
    },
    async exec(script: string): Promise<void> {
      guard.assertUsable();
      countStatement(counter, script);
      try {
        await queryable.exec(script);
      } catch (error) {
        throw guard.translate(error);
      }
    },
    ...(queryable.commitWithLast === undefined ? {} : { commitWithLast: queryable.commitWithLast }),
    ...(queryable.afterCommit === undefined ? {} : { afterCommit: queryable.afterCommit }),
  };
}

function databaseOf(
  pglite: PGlite,
  schema: string,
  guard: Guard,
  monitor?: IntegrityMonitor,
  lock?: DataFolderLock,
): Database {
  const counter = statementCounterOf(schema);
  const statements = new PgliteStatements(pglite);
  const sql = wrap(
    {
      query: (text, params) => statements.query(text, params, false),
      exec: (script) => statements.exec(script, false),
    },
    guard,
    counter,
  );
  return {
    backend: 'pglite',
    schema,
    query: sql.query,
    exec: sql.exec,
    async transaction(work) {
      guard.assertUsable();
      counter.transactions += 1;
      try {
        // Ended once its work settled, committed or not: a statement still sent on it never runs in a later one.
        let ended = false;
        const counted = new CountedCommit();
        const committed: (() => void)[] = [];
        const within: PgliteQueryable = {
          query: (text, params) => {
            if (ended) throw new Error('Transaction is closed');
            counted.started();
            return statements.query(text, params, true);
          },
          exec: (script) => {
            if (ended) throw new Error('Transaction is closed');
            counted.scripted();
            return statements.exec(script, true);
          },
          commitWithLast: (statementsStarted) => counted.commitWithLast(statementsStarted),
          afterCommit: (callback) => {
            if (ended) throw new Error('Transaction is closed');
            committed.push(callback);
          },
        };
        const result = await statements.transaction(() =>
          work(wrap(within, guard, counter))
            .then((result) => counted.settled(result))
            .finally(() => {
              ended = true;
            }),
        );
        runCommitted(committed);
        return result;
      } catch (error) {
        throw guard.translate(error);
      }
    },
    // PGlite's own LISTEN/NOTIFY: one process holds the database, so its listeners are all there are.
    async listen(channel, handler) {
      guard.assertUsable();
      const unlisten = await pglite.listen(channelOf(schema, channel), handler);
      return async () => {
        if (!pglite.closed) await unlisten();
      };
    },
    async notify(channel, payload, within, notifyOptions) {
      checkPayload(payload);
      await (within ?? sql).query(notifyStatement(notifyOptions), [channelOf(schema, channel), payload]);
    },
    async close() {
      await monitor?.stop();
      await pglite.close();
      await lock?.release();
    },
    integrity: monitor,
    durableSyncs: pglite.fs instanceof DurableNodeFs ? pglite.fs.syncs : undefined,
  };
}

const inMemoryGuard: Guard = {
  assertUsable() {},
  translate(error) {
    if (damageOnReadOf(error) === undefined) return error;
    return new MpayError('STORAGE_CORRUPTED', `the in-memory database is damaged: ${messageOf(error)}`, {
      cause: error,
    });
  },
};

function monitorGuard(monitor: IntegrityMonitor): Guard {
  return {
    assertUsable() {
      const damage = monitor.damage;
      if (damage !== undefined) throw damage;
    },
    translate(error) {
      const code = damageOnReadOf(error);
      if (code === undefined) return error;
      return monitor.raise([`a query: ${messageOf(error)} (SQLSTATE ${code})`]);
    },
  };
}

/**
 * The folder's own PGlite, with amcheck for the integrity check. PGlite
 * reports a folder it cannot use with `RuntimeError: unreachable` or
 * `Aborted()`, so its failure becomes STORAGE_UNAVAILABLE naming the folder
 * and the likeliest cause: a folder it cannot write, else damage.
 */
async function startPglite(folder: string): Promise<PGlite> {
  try {
    const pglite = new PGlite({
      ...(await pgliteEngine()),
      fs: new DurableNodeFs(folder),
      extensions: { amcheck },
    });
    await pglite.waitReady;
    return pglite;
  } catch (error) {
    const unwritable = await findUnwritable(folder);
    const engine = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw cannotOpen(
      folder,
      unwritable ??
        `PGlite stopped while starting (${engine}): the folder is damaged or was not written by PGlite 0.3; restore it from a backup`,
      error,
    );
  }
}

/** The start warning of a folder made before new folders got data checksums, with the way to add them. */
export function checksumsOffAdvice(folder: string): string {
  return (
    `the embedded database in ${folder} has no data checksums (it was made before mpay turned them on): ` +
    'a damaged page is found only by the integrity checks, and not every kind of damage. To add them: stop mpay, ' +
    `copy the folder as a backup, then run \`npx mpay storage enable-checksums ${folder}\``
  );
}

function scanProblems(scan: ChecksumScan | undefined): string[] {
  return (scan?.failures ?? []).map(
    (failure) => `page ${failure.blockNumber} of ${failure.file}: ${failure.reason}`,
  );
}

/** Runs the start check; damage raises the alarm and refuses the start, a check that cannot run refuses it too. */
async function checkAtStart(
  target: { folder: string; pglite: PGlite; dataChecksums: boolean },
  settings: IntegritySettings,
  scan: ChecksumScan | undefined,
): Promise<IntegrityReport> {
  let report: IntegrityReport;
  try {
    report = await runIntegrityCheck({ ...target, now: settings.now }, scan);
  } catch (error) {
    throw cannotOpen(
      target.folder,
      `the integrity check at start could not run (${messageOf(error)})`,
      error,
    );
  }
  if (report.problems.length > 0) {
    settings.log.error({
      code: 'STORAGE_CORRUPTED',
      folder: target.folder,
      message: `the embedded database in ${target.folder} is damaged: the service does not start; restore the folder from a backup`,
      problems: report.problems,
    });
    throw damagedAtStart(target.folder, report.problems);
  }
  return report;
}

/**
 * Creates the data folders of `schemas` under `dataDir` that do not exist
 * yet, one after the other, each under its lock; folders that exist are
 * left as they are (opening them checks them). A supervisor calls this
 * before its service processes open their folders (`mpay up --processes`,
 * `mpay chaos`): one initdb then serves every new folder, the rest are
 * copies of its cluster (data-folder/create.ts), where each process would
 * otherwise run initdb of its own, all at once.
 */
export async function createMissingDataFolders(dataDir: string, schemas: readonly string[]): Promise<void> {
  for (const schema of schemas) {
    assertSchemaName(schema);
    const folder = resolve(dataDir, schema);
    const lock = await lockDataFolder(folder);
    try {
      if ((await inspectDataFolder(folder)).kind === 'new') await createDataFolder(folder);
    } finally {
      await lock.release();
    }
  }
}

/** Opens the folder under its lock (data-folder/lock.ts): one process at a time. */
async function openFolder(
  folder: string,
  schema: string,
  options: IntegrityOptions | false,
): Promise<Database> {
  const lock = await lockDataFolder(folder);
  try {
    return await openLockedFolder(folder, schema, options, lock);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function openLockedFolder(
  folder: string,
  schema: string,
  options: IntegrityOptions | false,
  lock: DataFolderLock,
): Promise<Database> {
  const settings = createIntegritySettings(options === false ? { checks: false } : options);
  const checking = settings.checks;
  let found = await inspectDataFolder(folder);
  if (found.kind === 'new') {
    await createDataFolder(folder);
    found = await inspectDataFolder(folder);
  }
  if (found.kind !== 'cluster')
    throw new Error(`assertion failed: ${folder} was created but is not a cluster`);
  const dataChecksums = found.control.dataChecksumVersion !== 0;
  if (!dataChecksums) {
    settings.log.warn({ code: 'STORAGE_CHECKSUMS_OFF', folder, message: checksumsOffAdvice(folder) });
  }
  // The files are read before PGlite starts when the folder was closed cleanly. After a crash,
  // PGlite first repairs pages a power cut may have torn, from its write-ahead log, so the
  // files are read once it has started (and written the repaired pages back).
  const closedCleanly =
    found.control.state === 'shut down' || found.control.state === 'shut down in recovery';
  const scan = checking && dataChecksums && closedCleanly ? await verifyDataChecksums(folder) : undefined;
  let pglite: PGlite;
  try {
    pglite = await startPglite(folder);
  } catch (error) {
    if (scan !== undefined && scan.failureCount > 0) {
      throw damagedAtStart(folder, scanProblems(scan));
    }
    throw error;
  }
  try {
    await pglite.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema};`);
    const target = { folder, pglite, dataChecksums };
    const startReport = checking ? await checkAtStart(target, settings, scan) : undefined;
    const monitor = new IntegrityMonitor({ ...target, now: settings.now }, settings, startReport);
    if (checking) monitor.start();
    // Started and checked: from here an engine that gives up (a full disk) stops the process (durable-fs.ts).
    if (pglite.fs instanceof DurableNodeFs) pglite.fs.stopProcessOnEngineAbort();
    return databaseOf(pglite, schema, monitorGuard(monitor), monitor, lock);
  } catch (error) {
    await pglite.close().catch(() => undefined);
    throw error;
  }
}

export interface PgliteOptions {
  /** The data folder; undefined: in memory. */
  dataDir?: string;
  schema: string;
  /** The integrity checks of a database in a folder (at start, then every intervalMs); false: none. */
  integrity?: IntegrityOptions | false;
}

/**
 * An embedded PostgreSQL (PGlite, WebAssembly) for one service: in memory when
 * `dataDir` is undefined, else persisted in that folder. One connection, so
 * transactions are serialised by PGlite itself.
 *
 * A folder is looked at before PGlite opens it (clear errors instead of
 * `RuntimeError: unreachable`), created with data checksums when new, and
 * checked at start and every ten minutes (integrity/): damage is a loud
 * STORAGE_CORRUPTED, never a silently missing row.
 */
export async function openPglite(options: PgliteOptions): Promise<Database> {
  assertSchemaName(options.schema);
  if (options.dataDir !== undefined) {
    return openFolder(resolve(options.dataDir), options.schema, options.integrity ?? {});
  }
  const pglite = await newInMemoryPglite();
  await pglite.exec(`CREATE SCHEMA IF NOT EXISTS ${options.schema}; SET search_path TO ${options.schema};`);
  return databaseOf(pglite, options.schema, inMemoryGuard);
}
