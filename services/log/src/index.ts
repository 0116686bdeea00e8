export {
  type BenchmarkProgress,
  benchmarkLog,
  type LogBenchmarkOptions,
  type LogBenchmarkResult,
} from './bench/run.ts';
export type { Submitter } from './http/authenticate.ts';
export { assertCheckpointExtends } from './integrate/assert-extends.ts';
export type { CosigningRound, LogWitness } from './integrate/cosign.ts';
export type { IntegrationResult, LogIdentity } from './integrate/integrate.ts';
export { createLogLimits, type LogLimits } from './limits.ts';
export { createPhaseMeter, type Phase, type PhaseMeter } from './meter.ts';
export { logMigrationsFolder, migrateLog, migrateWitness, witnessMigrationsFolder } from './migrations.ts';
export { createLogService, type LogService, type LogServiceOptions } from './service.ts';
export { type KeyPairText, loadOrCreateKeyPair } from './stack/key-files.ts';
export {
  defaultOrigin,
  defaultWitnessName,
  type LogStack,
  type LogStackOptions,
  startLogStack,
} from './stack/stack.ts';
export { entryLeafData } from './store/entries.ts';
export { type FollowOptions, followLog } from './witness/follow.ts';
export { createWitnessServer } from './witness/service.ts';
export {
  type Cosigned,
  Witness,
  type WitnessAlarm,
  type WitnessedLog,
  type WitnessOptions,
} from './witness/witness.ts';
