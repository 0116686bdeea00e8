import { fileURLToPath } from 'node:url';
import { type Database, migrate, readMigrations } from '@mpay/storage';

/** The bank's SQL migrations: `migrate(database, await readMigrations(bankMigrationsFolder))`. */
export const bankMigrationsFolder = fileURLToPath(new URL('../migrations/', import.meta.url));

/** Applies the bank's migrations not yet applied; returns their ids. */
export async function migrateBank(database: Database): Promise<string[]> {
  return migrate(database, await readMigrations(bankMigrationsFolder));
}
