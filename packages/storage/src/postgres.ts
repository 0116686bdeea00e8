import { createHash } from 'node:crypto';
import pg from 'pg';
import { prepareValue } from 'pg/lib/utils.js';
import {
  assertSchemaName,
  type ConnectionCounts,
  countedCommitBroken,
  type Database,
  notifyStatement,
  planInvalid,
  type QueryResult,
  rolledBackAtCommit,
  runCommitted,
  type Sql,
  toDriverParams,
} from './database.ts';
import { channelOf, checkPayload, PostgresListener, type ReconnectLimits } from './notifications.ts';
import { countStatement, type StatementCounter, statementCounterOf } from './statement-meter.ts';

export interface PostgresOptions {
  url: string;
  schema: string;
  poolSizeMax?: number;
  /** Longest a statement runs before the server cancels it (default 30 s). */
  statementTimeoutMs?: number;
  /** Longest a statement waits for a lock (default 10 s): a request never queues behind a held lock for as long as its client waits. */
  lockTimeoutMs?: number;
  /** Longest a transaction may sit idle before the server ends it and frees its locks (default 60 s). */
  idleInTransactionTimeoutMs?: number;
  /** How the connection that LISTENs opens again when lost (notifications.ts). */
  listenerReconnect?: ReconnectLimits;
}

function timeout(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > 3_600_000) {
    throw new RangeError(`postgres: ${name} must be an integer in 1..3600000 (ms)`);
  }
  return value;
}

/** Texts given a prepared statement's name per database; any text beyond is parsed each time. */
export const postgresPreparedTextsMax = 512;

/**
 * The names under which the services' texts are prepared. node-postgres
 * prepares a named statement once per connection of the pool and then sends
 * only Bind, Describe, Execute and Sync: the server parses and plans the text
 * once per connection instead of at every statement (its plan cache may then
 * keep a generic plan, as for any prepared statement). The name is the text's
 * hash, so a text never meets a name prepared for another text. A text whose
 * plan stopped standing (planInvalid: a table changed under it) is sent
 * unnamed from then on; the stale statement stays on its connections unused.
 */
class StatementNames {
  readonly #names = new Map<string, string | null>();

  nameOf(text: string): string | undefined {
    const known = this.#names.get(text);
    if (known !== undefined) return known ?? undefined;
    if (this.#names.size >= postgresPreparedTextsMax) return undefined;
    const name = `mpay_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    this.#names.set(text, name);
    return name;
  }

  sendUnnamed(text: string): void {
    this.#names.set(text, null);
  }
}

/**
 * The name BEGIN is prepared under on each connection (once, as the pool
 * opens it: prepareBeginOn), so that every transaction's BEGIN can travel in
 * the same write as its first statements (Pipeline).
 */
const beginStatementName = 'mpay_begin';

/** Connections of the pool on which BEGIN is prepared (beginStatementName). */
const beginPrepared = new WeakSet<pg.PoolClient>();

/**
 * As the pool opens a connection, before it hands it to anyone (pg-pool's
 * `onConnect`, awaited): BEGIN prepared under beginStatementName (run, and
 * rolled back at once), two round trips counted, so that the first
 * transaction on the connection already sends its BEGIN with its first
 * statements. A preparation that fails ends the connection and fails the
 * connect (the caller's transaction fails; nothing ran).
 */
async function prepareBeginOn(client: pg.PoolClient, counter: StatementCounter): Promise<void> {
  counter.roundTrips += 2;
  await client.query({ name: beginStatementName, text: 'BEGIN' });
  await client.query('ROLLBACK');
  beginPrepared.add(client);
}

/** An error (or the failure it is the consequence of, in a pipeline) the server sent as it ended the session. */
function endedByServer(error: unknown): boolean {
  const fatal = (candidate: unknown) =>
    typeof candidate === 'object' &&
    candidate !== null &&
    (candidate as { severity?: unknown }).severity === 'FATAL';
  return fatal(error) || fatal((error as { cause?: unknown } | null)?.cause);
}

/** The code of the process warning that says a pooled connection was lost while idle. */
export const connectionLostWarningCode = 'MPAY_DATABASE_CONNECTION_LOST';

/**
 * An idle pooled connection the server ended (a restart, a failover, an
 * administrator's pg_terminate_backend), said as a process warning on
 * stderr, where the services' logs go: nothing else would say it, since no
 * statement was running on it. One line per connection lost.
 */
function warnConnectionLost(schema: string, error: Error): void {
  process.emitWarning(`a PostgreSQL connection of schema ${schema} was lost while idle: ${error.message}`, {
    code: connectionLostWarningCode,
  });
}

/** pg-pool's hook, awaited as a connection opens (pg-pool 3.14; not in @types/pg). */
interface PoolConnectHook {
  readonly onConnect?: (client: pg.PoolClient) => Promise<void>;
}

/** The handlers node-postgres's Client calls on the query it sent, which its types leave out. */
interface DrivenQuery {
  handleRowDescription(message: unknown): void;
  handleDataRow(message: unknown): void;
  handleCommandComplete(message: unknown, connection: pg.Connection): void;
  handleError(error: Error, connection?: pg.Connection): void;
  handleReadyForQuery(connection: pg.Connection): void;
}

/** node-postgres's record, per connection, of the statement names parsed on it (what its own Query reads). */
interface ParsedOnConnection {
  readonly parsedStatements: Record<string, string | undefined>;
}

/** One statement of a pipeline, as node-postgres's Query takes it. */
interface PipelinedStatement {
  readonly config: { readonly name?: string; readonly text: string; readonly values: unknown[] };
  readonly callback: (error: Error | undefined, result: pg.ResultBuilder) => void;
}

/**
 * Statements of one transaction sent in one write and answered at once: for
 * each, its Parse (when its name is new on the connection), Bind, Describe
 * and Execute, then one Sync; with `opens`, the prepared BEGIN first, as the
 * PostgreSQL JDBC driver sends it. The server runs them in order, so a
 * statement still sees what the ones before it wrote and waits for the locks
 * they took; only the client's wait is shared. An error skips everything
 * after it up to the Sync: the failed statement gets the error, the ones
 * after it `notRunInPipeline`, and the transaction is aborted as it would
 * have been one statement at a time. Inside a transaction only (outside, one
 * Sync would make the statements one implicit transaction). Each statement's
 * rows are node-postgres's own Query's; BEGIN's answer is set aside.
 */
class Pipeline implements pg.Submittable {
  readonly #statements: readonly PipelinedStatement[];
  readonly #queries: (pg.Query & DrivenQuery)[];
  #beginPending: boolean;
  /** Statements answered in full (their CommandComplete arrived). */
  #answered = 0;

  readonly #onBeginFailed: () => void;

  /** `onBeginFailed`: the prepared BEGIN it opens with failed (its connection no longer holds it). */
  constructor(statements: readonly PipelinedStatement[], opens: boolean, onBeginFailed: () => void) {
    this.#statements = statements;
    this.#beginPending = opens;
    this.#onBeginFailed = onBeginFailed;
    // Rows are parsed with node-postgres's type parsers, as its Client gives its own queries.
    this.#queries = statements.map(
      ({ config, callback }) =>
        new pg.Query({ ...config, values: [...config.values], types: pg.types }, callback) as pg.Query &
          DrivenQuery,
    );
  }

  /** The statement whose answers come next: node-postgres records a ParseComplete under this name. */
  get name(): string | undefined {
    return this.#statements[this.#answered]?.config.name;
  }

  get text(): string | undefined {
    return this.#statements[this.#answered]?.config.text;
  }

  submit(connection: pg.Connection): Error | undefined {
    let values: (string | Buffer | null)[][];
    try {
      // Converted before anything is written: a value that cannot be sent fails the pipeline whole.
      values = this.#statements.map(({ config }) => config.values.map(driverValue));
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
    const parsed = (connection as unknown as ParsedOnConnection).parsedStatements;
    const parsedHere = new Set<string>();
    connection.stream.cork();
    try {
      if (this.#beginPending) {
        connection.bind({ statement: beginStatementName, portal: '', values: [] }, false);
        connection.execute({ portal: '' }, false);
      }
      this.#statements.forEach(({ config }, index) => {
        const name = config.name ?? '';
        if (name === '' || (parsed[name] === undefined && !parsedHere.has(name))) {
          connection.parse({ name, text: config.text, types: [] }, false);
          if (name !== '') parsedHere.add(name);
        }
        connection.bind({ statement: name, portal: '', values: values[index] ?? [] }, false);
        connection.describe({ type: 'P', name: '' }, false);
        connection.execute({ portal: '' }, false);
      });
      connection.sync();
    } finally {
      connection.stream.uncork();
    }
    return undefined;
  }

  handleRowDescription(message: unknown): void {
    this.#current().handleRowDescription(message);
  }

  handleDataRow(message: unknown): void {
    this.#current().handleDataRow(message);
  }

  handleCommandComplete(message: unknown, connection: pg.Connection): void {
    if (this.#beginPending) {
      this.#beginPending = false;
      return;
    }
    this.#current().handleCommandComplete(message, connection);
    this.#answered += 1;
  }

  /** Not sent by mpay (no statement is empty); counted so that later answers stay with their statements. */
  handleEmptyQuery(): void {
    this.#answered += 1;
  }

  /** node-postgres lets go of the pipeline at an error (no ReadyForQuery reaches it): everything settles now. */
  handleError(error: Error, connection: pg.Connection): void {
    const failed = this.#beginPending ? -1 : this.#answered;
    // The BEGIN failed (its prepared statement gone: DEALLOCATE, DISCARD ALL): node-postgres forgets it
    // was parsed, and the connection's next transaction sends BEGIN on its own again, which prepares it anew.
    if (failed === -1) {
      delete (connection as unknown as ParsedOnConnection).parsedStatements[beginStatementName];
      this.#onBeginFailed();
    }
    this.#queries.forEach((query, index) => {
      if (index < failed) query.handleReadyForQuery(connection);
      else if (index === failed) query.handleError(error, connection);
      else query.handleError(notRunInPipeline(error), connection);
    });
  }

  handleReadyForQuery(connection: pg.Connection): void {
    for (const query of this.#queries) query.handleReadyForQuery(connection);
  }

  /** Before anything was sent (the BEGIN sent on its own failed): every statement gets the error. */
  fail(error: Error): void {
    for (const query of this.#queries) query.handleError(error);
  }

  /** No mpay statement copies; refused as node-postgres's own Query does. */
  handleCopyInResponse(connection: pg.Connection & { sendCopyFail(message: string): void }): void {
    connection.sendCopyFail('No source stream defined');
  }

  handleCopyData(): void {}

  handlePortalSuspended(): void {}

  #current(): pg.Query & DrivenQuery {
    const query = this.#queries[this.#answered];
    if (query === undefined) throw new Error('assertion failed: an answer for a statement of the pipeline');
    return query;
  }
}

/** A parameter as the wire takes it: node-postgres's own conversion, bytes as a Buffer (sent binary). */
function driverValue(value: unknown): string | Buffer | null {
  const converted = prepareValue(value);
  return converted === null || typeof converted === 'string' || Buffer.isBuffer(converted)
    ? converted
    : Buffer.from(converted.buffer, converted.byteOffset, converted.byteLength);
}

/**
 * What a statement sent after one that failed in its pipeline is rejected
 * with: it never ran. It carries the failure's SQLSTATE (a work that looks
 * at codes sees the cause) under a message of its own.
 */
function notRunInPipeline(cause: Error): Error {
  // A stale plan is the failed statement's own (or the BEGIN's): the others' texts are not made unnamed for it.
  const code = planInvalid(cause as { code?: string; message: string })
    ? undefined
    : (cause as { code?: unknown }).code;
  return Object.assign(
    new Error(`not run: a statement before it in its pipeline failed (${cause.message})`),
    {
      code,
      cause,
    },
  );
}

/**
 * A transaction's statements as they are sent: those its work starts
 * together (before awaiting any: Promise.all) leave in one Pipeline at the
 * next microtask, the first of them carrying the BEGIN on a connection where
 * it is prepared; on a connection new to the pool, BEGIN goes on its own
 * first and is prepared for the next transactions.
 */
class TransactionLine {
  readonly client: pg.PoolClient;
  readonly #counter: StatementCounter;
  /** Whether BEGIN has been sent. */
  begun = false;
  #closed = false;
  #queued: PipelinedStatement[] = [];
  /** Settles once a BEGIN sent on its own has been answered. */
  #opened: Promise<void> = Promise.resolve();
  /** Settles once the last pipeline is in node-postgres's queue, after everything sent before it. */
  #enqueued: Promise<void> = Promise.resolve();
  /** What runs once the transaction committed (afterCommit), in the order registered. */
  readonly committed: (() => void)[] = [];
  /** Set once the transaction ended (committed or not): a callback registered after would never run. */
  ended = false;

  /** afterCommit's registration; refused once the transaction ended. */
  onCommitted(callback: () => void): void {
    if (this.ended) throw new Error('Transaction is closed');
    this.committed.push(callback);
  }
  /** The COMMIT sent with the work's last statements (commitWithLast); its answer. */
  commit: Promise<pg.QueryResult> | undefined;

  constructor(client: pg.PoolClient, counter: StatementCounter) {
    this.client = client;
    this.#counter = counter;
  }

  send(config: PipelinedStatement['config']): Promise<pg.QueryResult> {
    if (this.commit !== undefined) return Promise.reject(new Error(countedCommitBroken.statementAfter));
    if (this.#closed) return Promise.reject(new Error('Transaction is closed'));
    return new Promise((resolve, reject) => {
      if (this.#queued.length === 0) queueMicrotask(() => this.#flush());
      this.#queued.push({ config, callback: (error, result) => (error ? reject(error) : resolve(result)) });
    });
  }

  /**
   * The COMMIT queued after the statements started so far, in their pipeline
   * (it runs only if they all succeed: an error skips the rest of a
   * pipeline). With none started since the last pipeline left, nothing: the
   * COMMIT follows the work as usual.
   */
  commitWithLast(names: StatementNames, statements?: number): void {
    if (this.commit !== undefined || this.#closed || this.#queued.length === 0) return;
    if (statements !== undefined && this.#queued.length !== statements) {
      // A statement the work started never left (it failed before): the others must not commit alone.
      this.#queued.push({
        config: {
          text: `SELECT '${countedCommitBroken.short}'::integer`,
          values: [],
        },
        callback: () => undefined,
      });
      return;
    }
    const name = names.nameOf('COMMIT');
    const config = name === undefined ? { text: 'COMMIT', values: [] } : { name, text: 'COMMIT', values: [] };
    this.commit = new Promise((resolve, reject) => {
      this.#queued.push({ config, callback: (error, result) => (error ? reject(error) : resolve(result)) });
    });
    // Answered (or skipped) with the pipeline; looked at by the transaction once its work settles.
    this.commit.catch(() => undefined);
  }

  /** Opens the transaction for a script (the simple protocol carries no BEGIN with it). */
  async openAlone(): Promise<void> {
    if (!this.begun) {
      this.begun = true;
      this.#counter.roundTrips += 1;
      this.#opened = this.client.query('BEGIN').then(() => undefined);
    }
    await this.#opened;
  }

  /**
   * The work has ended: what it started and did not await is sent now, in
   * the transaction, before its COMMIT or ROLLBACK; nothing after.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#flush();
    await this.#enqueued;
  }

  #flush(): void {
    if (this.#queued.length === 0) return;
    const statements = this.#queued;
    this.#queued = [];
    let opens = false;
    if (!this.begun) {
      this.begun = true;
      if (beginPrepared.has(this.client)) opens = true;
      else {
        this.#counter.roundTrips += 1;
        this.#opened = this.client.query({ name: beginStatementName, text: 'BEGIN' }).then(() => {
          beginPrepared.add(this.client);
        });
      }
    }
    this.#counter.roundTrips += 1;
    const client = this.client;
    const pipeline = new Pipeline(statements, opens, () => beginPrepared.delete(client));
    // After a BEGIN sent on its own, and only if it was answered: never a statement outside the transaction.
    this.#enqueued = this.#opened.then(
      () => {
        this.client.query(pipeline);
      },
      (error: unknown) => pipeline.fail(error instanceof Error ? error : new Error(String(error))),
    );
  }
}

function wrap(
  client: pg.Pool | pg.PoolClient,
  counter: StatementCounter,
  names: StatementNames,
  line: TransactionLine | undefined,
): Sql {
  const run = async <Row>(text: string, values: unknown[], mayRetry: boolean): Promise<QueryResult<Row>> => {
    const name = names.nameOf(text);
    const config = name === undefined ? { text, values } : { name, text, values };
    try {
      if (line === undefined) counter.roundTrips += 1;
      const result = await (line === undefined ? client.query(config) : line.send(config));
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
    } catch (error) {
      if (name === undefined || !(error instanceof Error) || !planInvalid(error)) throw error;
      names.sendUnnamed(text);
      // Inside a transaction the error has aborted it: thrown as it is, the text unnamed from its next use.
      if (line !== undefined || !mayRetry) throw error;
      return run<Row>(text, values, false);
    }
  };
  return {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
      countStatement(counter, text);
      return run<Row>(text, toDriverParams(params), true);
    },
    ...(line === undefined
      ? {}
      : {
          commitWithLast: (statements?: number) => line.commitWithLast(names, statements),
          afterCommit: (callback: () => void) => line.onCommitted(callback),
        }),
    async exec(script: string): Promise<void> {
      if (line?.commit !== undefined) throw new Error(countedCommitBroken.scriptAfter);
      countStatement(counter, script);
      await line?.openAlone();
      counter.roundTrips += 1;
      await client.query(script);
    },
  };
}

/** A PostgreSQL server; every connection of the pool works in the service's own schema. */
export async function openPostgres(options: PostgresOptions): Promise<Database> {
  assertSchemaName(options.schema);
  const bootstrap = new pg.Client({ connectionString: options.url });
  // Ended by the server meanwhile: the statement under way fails, not the process.
  bootstrap.on('error', () => undefined);
  await bootstrap.connect();
  try {
    await bootstrap.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
  } catch (error) {
    // Two services racing to create the same schema: the loser sees a unique violation.
    if ((error as { code?: string }).code !== '23505') throw error;
  } finally {
    await bootstrap.end();
  }
  const statementTimeoutMs = timeout('statementTimeoutMs', options.statementTimeoutMs ?? 30_000);
  const lockTimeoutMs = timeout('lockTimeoutMs', options.lockTimeoutMs ?? 10_000);
  const idleMs = timeout('idleInTransactionTimeoutMs', options.idleInTransactionTimeoutMs ?? 60_000);
  const counter = statementCounterOf(options.schema);
  const config: pg.PoolConfig & PoolConnectHook = {
    onConnect: (client) => prepareBeginOn(client, counter),
    connectionString: options.url,
    max: options.poolSizeMax ?? 10,
    options: [
      `-c search_path=${options.schema}`,
      `-c statement_timeout=${statementTimeoutMs}`,
      `-c lock_timeout=${lockTimeoutMs}`,
      `-c idle_in_transaction_session_timeout=${idleMs}`,
    ].join(' '),
  };
  const pool = new pg.Pool(config);
  // An idle connection that breaks is dropped by the pool (the next statement opens another); without a
  // listener its error would end the process. Said, since no statement fails to say it (the pool's error below).
  // What the server ended, each connection once however it was found: idle (the pool's error), held by a
  // statement or a transaction that met the server's FATAL (released with it), or closed under the driver
  // without a word (its end, when this process did not end it).
  const connections: ConnectionCounts = { lost: 0 };
  const lostClients = new WeakSet<object>();
  const countLost = (client: object) => {
    if (lostClients.has(client)) return;
    lostClients.add(client);
    connections.lost += 1;
  };
  pool.on('connect', (client) => {
    client.once('end', () => {
      // node-postgres's own mark of an end this process asked for (pinned version: see the README).
      if ((client as { _ending?: boolean })._ending !== true) countLost(client);
    });
  });
  pool.on('release', (error: Error | undefined, client) => {
    if (error instanceof Error && endedByServer(error)) countLost(client);
  });
  pool.on('error', (error, client) => {
    countLost(client);
    warnConnectionLost(options.schema, error);
  });
  const names = new StatementNames();
  const sql = wrap(pool, counter, names, undefined);
  const listener = new PostgresListener(options.url, options.listenerReconnect);
  return {
    backend: 'postgres',
    schema: options.schema,
    query: sql.query,
    exec: sql.exec,
    transaction: async (work) => {
      const client = await pool.connect();
      // A connection that breaks while the work holds it (the server restarted, an administrator ended
      // the session) fails the statement under way, not the process; it is destroyed, never pooled again.
      let broken: Error | undefined;
      const onBroken = (error: Error) => {
        broken = error;
      };
      client.on('error', onBroken);
      counter.transactions += 1;
      // BEGIN goes with the first statements (TransactionLine); a work that sent none has nothing to commit.
      const line = new TransactionLine(client, counter);
      try {
        const result = await work(wrap(client, counter, names, line));
        await line.close();
        if (!line.begun) {
          // Nothing was sent: nothing to commit, and nothing that could have failed to.
          runCommitted(line.committed.splice(0));
          return result;
        }
        let committed: pg.QueryResult;
        if (line.commit === undefined) {
          counter.roundTrips += 1;
          committed = await client.query('COMMIT');
        } else committed = await line.commit;
        if (committed.command === 'ROLLBACK') throw rolledBackAtCommit();
        runCommitted(line.committed.splice(0));
        return result;
      } catch (error) {
        // The server ended the session (its FATAL answer may come before the socket's close): never pooled again.
        if (endedByServer(error)) broken ??= error as Error;
        await line.close();
        // A COMMIT sent with the last statements ran if they all succeeded: then the work failed after it.
        const ran = await line.commit?.then(
          (answer) => answer.command !== 'ROLLBACK',
          () => false,
        );
        if (ran === true) {
          // Committed all the same: what waited for the commit runs, as after any other.
          runCommitted(line.committed.splice(0));
          throw new Error(
            `assertion failed: the work failed after its COMMIT ran (committed): ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          );
        }
        if (line.begun) {
          counter.roundTrips += 1;
          await client.query('ROLLBACK').catch(() => undefined);
        }
        throw error;
      } finally {
        line.ended = true;
        client.off('error', onBroken);
        client.release(broken);
      }
    },
    connections,
    listen: async (channel, handler, listenOptions) =>
      listener.listen(channelOf(options.schema, channel), handler, listenOptions),
    async notify(channel, payload, within, notifyOptions) {
      checkPayload(payload);
      await (within ?? sql).query(notifyStatement(notifyOptions), [
        channelOf(options.schema, channel),
        payload,
      ]);
    },
    async close() {
      await listener.close();
      await pool.end();
    },
  };
}

/**
 * Runs `use` with the process id of a live session of the server at `url`
 * (`pg_backend_pid()`) and the host it was reached at (a folder for a Unix
 * socket), while that session is open: what `mpay bench e2e` needs to find
 * the server's processes on this machine.
 */
export async function withPostgresBackendPid<T>(
  url: string,
  use: (session: { readonly pid: number; readonly host: string }) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  // A connection that breaks while `use` runs fails the query under way or `end`, not the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return await use({ pid: rows[0]!.pid, host: client.host });
  } finally {
    await client.end();
  }
}

/** Drops a schema and everything in it (tests only). */
export async function dropPostgresSchema(url: string, schema: string): Promise<void> {
  assertSchemaName(schema);
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** The schemas of the database at `url` whose names start with `prefix` (a run's: "bench_e2e_1a2b3c4d_"), sorted. */
export async function postgresSchemasStartingWith(url: string, prefix: string): Promise<string[]> {
  assertSchemaName(prefix);
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const found = await client.query<{ nspname: string }>(
      'SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY nspname',
      [prefix],
    );
    return found.rows.map((row) => row.nspname);
  } finally {
    await client.end();
  }
}
