import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from './database.ts';

export interface Migration {
  readonly id: string;
  readonly sql: string;
}

/** Reads `NNNN_name.sql` files from a folder, in name order. */
export async function readMigrations(folder: string): Promise<Migration[]> {
  const names = (await readdir(folder)).filter((name) => /^\d{4}_[a-z0-9_]+\.sql$/.test(name)).sort();
  return Promise.all(
    names.map(async (name) => ({ id: name, sql: await readFile(join(folder, name), 'utf8') })),
  );
}

/**
 * Applies the migrations not yet recorded, each in its own transaction, under
 * an advisory lock so that two processes starting together do not race.
 */
export async function migrate(database: Database, migrations: readonly Migration[]): Promise<string[]> {
  return database.transaction(async (sql) => {
    if (database.backend === 'postgres') {
      await sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`mpay.migrate.${database.schema}`]);
    }
    await sql.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const applied = new Set(
      (await sql.query<{ id: string }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id),
    );
    const done: string[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.id)) continue;
      await sql.exec(migration.sql);
      await sql.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
      done.push(migration.id);
    }
    return done;
  });
}
