export { bankOperator, type Deployment, type OperatorClient } from './commands/deployment.ts';
export { ensurePlatformPki, platformInstitutions } from './commands/pki-platform.ts';
export { main, usage } from './main.ts';
export { type BankAccess, bankIds, type RunningBank } from './platform/banks.ts';
export { demoParties } from './platform/seed.ts';
export { type Platform, type PlatformOptions, platformSchemas, startPlatform } from './platform/start.ts';
