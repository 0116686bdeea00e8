export type { FspIdentity, GatewayContext } from './context.ts';
export {
  createGatewayLimits,
  defaultGatewayLimits,
  type GatewayLimits,
  type GatewayLimitsReload,
  gatewayStartOnlyLimits,
  reloadedGatewayLimits,
} from './limits.ts';
export type { TransactionLogLink } from './log/outbox.ts';
export {
  createMacroServiceLimits,
  defaultMacroServiceLimits,
  type MacroServiceLimits,
} from './macro/limits.ts';
export { createMacroOpaqueServerSetup } from './macro/mpin.ts';
export {
  finalPaymentStates,
  paymentDurationBucketsSeconds,
  paymentStepBucketsSeconds,
} from './payments/statistics.ts';
export type { BankRegistration } from './registry/banks.ts';
export type { CustomerRegistration } from './registry/bindings.ts';
export type { MerchantRegistration } from './registry/register.ts';
export {
  createGatewayService,
  type GatewayService,
  type GatewayServiceOptions,
  gatewayMigrationsFolder,
} from './service.ts';
