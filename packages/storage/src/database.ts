import type { DurableSyncCounts } from './data-folder/durable-fs.ts';
import type { DatabaseIntegrity } from './integrity/monitor.ts';
import type { NotificationHandler, NotificationListenOptions, StopListening } from './notifications.ts';

/** The SQL surface every service uses: PostgreSQL dialect, `$1` parameters. */
export interface QueryResult<Row> {
  readonly rows: Row[];
  readonly rowCount: number;
}

export interface Sql {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /**
   * A transaction's (commitWithLastStatements): its COMMIT leaves with the
   * statements started so far (PostgreSQL); on PGlite, which sends no
   * pipeline, the same contract is checked. None outside a transaction.
   */
  readonly commitWithLast?: (statements?: number) => void;
  /** A transaction's (afterCommit): runs `callback` once its COMMIT succeeded. None outside a transaction. */
  readonly afterCommit?: (callback: () => void) => void;
}

/**
 * Runs `callback` once the transaction `sql` belongs to has committed, and
 * never if it rolls back (or its COMMIT fails): what a process observes of
 * its own writes (an in-process metric) then counts only what was kept.
 * Callbacks run in the order registered, right after the COMMIT's answer and
 * before `transaction` returns; one that throws is reported on stderr and
 * does not stop the others, nor fail the transaction, which has committed.
 * Registered once the transaction ended, it throws (it would never run).
 * Outside a transaction (each statement commits as it is answered) the
 * callback runs at once: call it after awaiting the statement.
 *
 * "Committed" is what the server answered: for a transaction that committed
 * without waiting for its WAL flush (`notify`'s commitWithoutFlush), a crash
 * of the database right after may still lose it. A COMMIT whose answer never
 * came (the connection broke) counts as not committed, whatever the server
 * did: a callback can be missed then, never run twice.
 */
export function afterCommit(sql: Sql, callback: () => void): void {
  if (sql.afterCommit !== undefined) sql.afterCommit(callback);
  else runCommitted([callback]);
}

/** The callbacks of a transaction that committed (afterCommit), each on its own. */
export function runCommitted(callbacks: readonly (() => void)[]): void {
  for (const callback of callbacks) {
    try {
      callback();
    } catch (error) {
      process.stderr.write(
        `mpay: a callback after a commit failed (the transaction committed): ${error instanceof Error ? error.message : String(error)}\n`,
      );
    }
  }
}

/**
 * Inside a transaction, called right after the work starts its last
 * statements (each one statement, as `together` takes them) and before it
 * awaits them: the COMMIT goes with them, on PostgreSQL in the same pipeline
 * (one round trip less); it runs only if every statement before it
 * succeeded, and else the transaction rolls back with the first failure
 * thrown, as always. The pipeline leaves at the next microtask, so from this
 * call on the work may send nothing (refused) and must not fail in any other
 * way: whatever checks the statements' results must be in the statements
 * themselves, and every other check before this call. A work that fails
 * after its COMMIT ran is thrown as such (the transaction committed).
 * Outside a transaction it does nothing. On PGlite the COMMIT follows the
 * work as usual, but the contract is checked as on PostgreSQL (the count
 * below, no statement after), so that the embedded suite finds a work that
 * breaks it.
 *
 * `statements`: how many statements the work started for this pipeline. A
 * step that failed before its statement left (a parameter it could not
 * build, a check in its code) sends none, and the COMMIT would then carry
 * the others alone; when fewer are waiting than said, a statement that fails
 * goes instead of the COMMIT, and the transaction rolls back.
 */
/** What both backends say when a work breaks commitWithLastStatements's contract (assertions, never a user's error). */
export const countedCommitBroken = {
  statementAfter: 'assertion failed: a statement after the COMMIT sent with the last ones',
  scriptAfter: 'assertion failed: a script after the COMMIT sent with the last statements',
  short: 'assertion failed: a statement of the last ones did not leave; nothing commits',
} as const;

export function commitWithLastStatements(sql: Sql, statements?: number): void {
  sql.commitWithLast?.(statements);
}

/**
 * Steps of one transaction started together and taken as if one after the
 * other: the statements each starts before its first await leave together
 * (one pipeline, one round trip, on PostgreSQL; in turn on PGlite), in the
 * order given, so each still sees the writes and waits for the locks of
 * those before it. All of them settle before this does; the first to fail
 * in the order given is thrown, whatever failed first in time, so a caller
 * reports the error a sequence of awaits would have. A step whose check
 * fails lets the later ones run (their writes roll back with the
 * transaction, which that error ends).
 */
export async function together<T extends readonly unknown[]>(
  steps: readonly [...{ [K in keyof T]: Promise<T[K]> }],
): Promise<T> {
  const settled = await Promise.allSettled(steps);
  const values: unknown[] = [];
  for (const outcome of settled) {
    if (outcome.status === 'rejected') throw outcome.reason;
    values.push(outcome.value);
  }
  return values as unknown as T;
}

export type Backend = 'pglite' | 'postgres';

/** A PostgreSQL pool's connections, counted as they go. */
export interface ConnectionCounts {
  /**
   * Ended by the server (a restart, a failover, pg_terminate_backend),
   * whether idle or in use by a statement or a transaction (then destroyed, not pooled again); each once.
   */
  lost: number;
}

export interface Database extends Sql {
  readonly backend: Backend;
  /** The schema this handle works in (PostgreSQL); PGlite databases are one per service. */
  readonly schema: string;
  /** Runs `work` in one transaction; rolls back if it throws. */
  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T>;
  /**
   * Hears `channel` of this schema (notifications.ts): every process on the
   * database, this one included, that notifies it. PostgreSQL: one dedicated
   * connection that opens again when lost (then `onResume`); PGlite: its own
   * LISTEN/NOTIFY, within its one process. The handler must not throw.
   */
  listen(
    channel: string,
    handler: NotificationHandler,
    options?: NotificationListenOptions,
  ): Promise<StopListening>;
  /**
   * Notifies `channel` of this schema with `payload` (ids only, never a
   * secret; at most 7,900 bytes). Given a transaction's `sql`, it is sent
   * when that transaction commits, and never when it rolls back; with
   * `commitWithoutFlush`, that transaction's COMMIT does not wait for its
   * WAL flush (synchronous_commit off, for it alone, set by the same
   * statement): PostgreSQL holds its one notification lock through the
   * commit of a transaction that notified, flush included, so a transaction
   * that notifies and writes would make every other notifier wait that long.
   * Only for writes a crash of the database may lose (they are redone).
   */
  notify(
    channel: string,
    payload: string,
    sql?: Sql,
    options?: { readonly commitWithoutFlush?: boolean },
  ): Promise<void>;
  close(): Promise<void>;
  /**
   * PostgreSQL: what became of this handle's pooled connections since it
   * opened (updated in place, so a copy of the handle reads it too).
   * Undefined on PGlite, which has no connection to lose.
   */
  readonly connections?: Readonly<ConnectionCounts> | undefined;
  /**
   * The integrity checks of an embedded database in a folder (PGlite):
   * `integrity.readiness` for the service's GET /ready, `integrity.check()`
   * to run one now. Undefined on PostgreSQL and in memory.
   */
  readonly integrity?: DatabaseIntegrity | undefined;
  /**
   * An embedded database in a folder (PGlite): the syncs to disk made so far
   * (data-folder/durable-fs.ts). Undefined on PostgreSQL and in memory.
   */
  readonly durableSyncs?: Readonly<DurableSyncCounts> | undefined;
}

const schemaNamePattern = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertSchemaName(schema: string): void {
  if (!schemaNamePattern.test(schema)) throw new Error(`assertion failed: invalid schema name ${schema}`);
}

/** bigint parameters travel as decimal strings; both drivers cast them back by column type. */
export function toDriverParams(params: readonly unknown[] | undefined): unknown[] {
  return (params ?? []).map((value) => (typeof value === 'bigint' ? value.toString() : value));
}

/**
 * A prepared text whose plan no longer stands: a table changed under it
 * ("cached plan must not change result type": SQLSTATE 0A000, which other
 * errors share, so the message is checked too), or the statement is gone
 * (26000). Both backends: outside a transaction the text runs again at once;
 * inside one the error has aborted the transaction, so it is thrown as it is.
 */
export function planInvalid(error: { readonly code?: string; readonly message: string }): boolean {
  if (error.code === '26000') return true;
  return error.code === '0A000' && /cached plan must not change result type/i.test(error.message);
}

/**
 * PostgreSQL answers COMMIT of a transaction that a failed statement aborted
 * with the tag ROLLBACK and no error. A work that caught that statement's
 * error and returned would otherwise be told its writes were kept; both
 * backends throw this instead (SQLSTATE 25P02, in_failed_sql_transaction).
 */
export function rolledBackAtCommit(): Error & { readonly code: '25P02' } {
  return Object.assign(new Error('the transaction was rolled back at COMMIT: a statement in it had failed'), {
    code: '25P02' as const,
  });
}

/** The statement `notify` sends (its parameters: the channel, the payload). */
export function notifyStatement(options?: { readonly commitWithoutFlush?: boolean }): string {
  return options?.commitWithoutFlush === true
    ? "SELECT pg_notify($1, $2), set_config('synchronous_commit', 'off', true)"
    : 'SELECT pg_notify($1, $2)';
}
