import { randomBytes } from 'node:crypto';
import type { Database } from './database.ts';
import { openDatabase } from './open.ts';
import { dropPostgresSchema } from './postgres.ts';

/**
 * A fresh database for one test: a unique schema on the PostgreSQL server
 * named by DATABASE_URL (dropped on close), else an in-memory PGlite.
 */
export async function openTestDatabase(prefix: string): Promise<Database> {
  const url = process.env.DATABASE_URL;
  const schema = `t_${prefix}_${randomBytes(5).toString('hex')}`;
  const database = await openDatabase({ url, schema, poolSizeMax: 20 });
  if (!url) return database;
  return {
    ...database,
    close: async () => {
      await database.close();
      await dropPostgresSchema(url, schema);
    },
  };
}

export function testBackend(): 'postgres' | 'pglite' {
  return process.env.DATABASE_URL ? 'postgres' : 'pglite';
}
