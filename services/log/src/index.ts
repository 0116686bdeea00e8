export type { Submitter } from './http/authenticate.ts';
export { assertCheckpointExtends } from './integrate/assert-extends.ts';
export type { IntegrationResult, LogIdentity } from './integrate/integrate.ts';
export { createLogLimits, type LogLimits } from './limits.ts';
export { logMigrationsFolder, migrateLog, migrateWitness, witnessMigrationsFolder } from './migrations.ts';
export { createLogService, type LogService, type LogServiceOptions } from './service.ts';
export { entryLeafData } from './store/entries.ts';
export { type FollowOptions, followLog } from './witness/follow.ts';
export { createWitnessServer, parseAddCheckpoint } from './witness/service.ts';
export {
  type AddCheckpointRequest,
  type Cosigned,
  Witness,
  type WitnessAlarm,
  type WitnessedLog,
  type WitnessOptions,
} from './witness/witness.ts';
