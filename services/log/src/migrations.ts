import { fileURLToPath } from 'node:url';
import { type Database, migrate, readMigrations } from '@mpay/storage';

/** The log's SQL migrations. */
export const logMigrationsFolder = fileURLToPath(new URL('../migrations/', import.meta.url));

/** A witness keeps its own database (its own operator); these are its migrations. */
export const witnessMigrationsFolder = fileURLToPath(new URL('../migrations/witness/', import.meta.url));

export async function migrateLog(database: Database): Promise<string[]> {
  return migrate(database, await readMigrations(logMigrationsFolder));
}

export async function migrateWitness(database: Database): Promise<string[]> {
  return migrate(database, await readMigrations(witnessMigrationsFolder));
}
