export type { BankLink, CustodyContext, CustodyIdentity, FspLink, LogLink } from './context.ts';
export { type CustodyLimits, createCustodyLimits, defaultCustodyLimits } from './limits.ts';
export { forwardHash } from './procedure/step2-receive.ts';
export { delegationMac, delegationMacInput } from './procedure/step6-delegate.ts';
export {
  type CustodyService,
  type CustodyServiceOptions,
  createCustodyService,
  custodyMigrationsFolder,
} from './service.ts';
