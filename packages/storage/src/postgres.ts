import { createHash } from 'node:crypto';
import pg from 'pg';
import {
  assertSchemaName,
  type Database,
  planInvalid,
  type QueryResult,
  rolledBackAtCommit,
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

function wrap(
  client: pg.Pool | pg.PoolClient,
  counter: StatementCounter,
  names: StatementNames,
  inTransaction: boolean,
): Sql {
  const run = async <Row>(text: string, values: unknown[], mayRetry: boolean): Promise<QueryResult<Row>> => {
    const name = names.nameOf(text);
    try {
      const result = await client.query(name === undefined ? { text, values } : { name, text, values });
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
    } catch (error) {
      if (name === undefined || !(error instanceof Error) || !planInvalid(error)) throw error;
      names.sendUnnamed(text);
      // Inside a transaction the error has aborted it: thrown as it is, the text unnamed from its next use.
      if (inTransaction || !mayRetry) throw error;
      return run<Row>(text, values, false);
    }
  };
  return {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
      countStatement(counter, text);
      return run<Row>(text, toDriverParams(params), true);
    },
    async exec(script: string): Promise<void> {
      countStatement(counter, script);
      await client.query(script);
    },
  };
}

/** A PostgreSQL server; every connection of the pool works in the service's own schema. */
export async function openPostgres(options: PostgresOptions): Promise<Database> {
  assertSchemaName(options.schema);
  const bootstrap = new pg.Client({ connectionString: options.url });
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
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSizeMax ?? 10,
    options: [
      `-c search_path=${options.schema}`,
      `-c statement_timeout=${statementTimeoutMs}`,
      `-c lock_timeout=${lockTimeoutMs}`,
      `-c idle_in_transaction_session_timeout=${idleMs}`,
    ].join(' '),
  });
  const counter = statementCounterOf(options.schema);
  const names = new StatementNames();
  const sql = wrap(pool, counter, names, false);
  const listener = new PostgresListener(options.url, options.listenerReconnect);
  return {
    backend: 'postgres',
    schema: options.schema,
    query: sql.query,
    exec: sql.exec,
    transaction: async (work) => {
      const client = await pool.connect();
      counter.transactions += 1;
      try {
        await client.query('BEGIN');
        const result = await work(wrap(client, counter, names, true));
        const committed = await client.query('COMMIT');
        if (committed.command === 'ROLLBACK') throw rolledBackAtCommit();
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    listen: async (channel, handler, listenOptions) =>
      listener.listen(channelOf(options.schema, channel), handler, listenOptions),
    async notify(channel, payload, within) {
      checkPayload(payload);
      await (within ?? sql).query('SELECT pg_notify($1, $2)', [channelOf(options.schema, channel), payload]);
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
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
