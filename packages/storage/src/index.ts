export type { Backend, Database, QueryResult, Sql } from './database.ts';
export { type Migration, migrate, readMigrations } from './migrate.ts';
export { type OpenDatabaseOptions, openDatabase } from './open.ts';
export { dropPostgresSchema } from './postgres.ts';
export { openTestDatabase, testBackend } from './testing.ts';
