export { type ChecksumScan, enableDataChecksums, verifyDataChecksums } from './data-folder/checksums.ts';
export { type EnableChecksumsOutcome, enableChecksumsInFolder } from './data-folder/enable.ts';
export { inspectDataFolder } from './data-folder/inspect.ts';
export { type DataFolderLock, lockDataFolder, lockPathOf } from './data-folder/lock.ts';
export {
  afterCommit,
  type Backend,
  type ConnectionCounts,
  commitWithLastStatements,
  type Database,
  type QueryResult,
  type Sql,
  together,
} from './database.ts';
export type { IntegrityReport } from './integrity/check.ts';
export type { DatabaseIntegrity, StorageReadinessCheck, VacuumReport } from './integrity/monitor.ts';
export {
  defaultIntegrityIntervalMs,
  type IntegrityOptions,
  type IntegrityTimer,
  type StorageLog,
  type StorageLogEntry,
} from './integrity/options.ts';
export { type Migration, migrate, readMigrations } from './migrate.ts';
export {
  type NotificationHandler,
  type NotificationListenOptions,
  notificationPayloadBytesMax,
  type ReconnectLimits,
  type StopListening,
} from './notifications.ts';
export { type OpenDatabaseOptions, openDatabase } from './open.ts';
export { outboxInstanceNamePattern, startOutboxLeases } from './outbox-leases.ts';
export { createMissingDataFolders } from './pglite.ts';
export { dropPostgresSchema, postgresSchemasStartingWith, withPostgresBackendPid } from './postgres.ts';
export { processStartTicks, processStillRuns } from './process-identity.ts';
export {
  type StatementCount,
  statementCounts,
  statementTexts,
  traceStatementTexts,
} from './statement-meter.ts';
export { openTestDatabase, testBackend } from './testing.ts';
