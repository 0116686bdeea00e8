import { PGlite } from '@electric-sql/pglite';
import { assertSchemaName, type Database, type QueryResult, type Sql, toDriverParams } from './database.ts';

interface PgliteQueryable {
  query<Row>(text: string, params?: unknown[]): Promise<{ rows: Row[]; affectedRows?: number }>;
  exec(script: string): Promise<unknown>;
}

function wrap(queryable: PgliteQueryable): Sql {
  return {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
      const result = await queryable.query<Row>(text, toDriverParams(params));
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(script: string): Promise<void> {
      await queryable.exec(script);
    },
  };
}

/**
 * An embedded PostgreSQL (PGlite, WebAssembly) for one service: in memory when
 * `dataDir` is undefined, else persisted in that folder. One connection, so
 * transactions are serialised by PGlite itself.
 */
export async function openPglite(options: { dataDir?: string; schema: string }): Promise<Database> {
  assertSchemaName(options.schema);
  const pglite = options.dataDir === undefined ? new PGlite() : new PGlite(options.dataDir);
  await pglite.waitReady;
  await pglite.exec(`CREATE SCHEMA IF NOT EXISTS ${options.schema}; SET search_path TO ${options.schema};`);
  const sql = wrap(pglite);
  return {
    backend: 'pglite',
    schema: options.schema,
    query: sql.query,
    exec: sql.exec,
    transaction: (work) => pglite.transaction((tx) => work(wrap(tx))),
    close: () => pglite.close(),
  };
}
