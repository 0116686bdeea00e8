export type { FspIdentity, GatewayLimits } from './context.ts';
export { findParty, insertBank, updateWebhookUrl } from './registry/parties.ts';
export type { PartyRegistration } from './registry/register.ts';
export { registerParty } from './registry/register.ts';
export {
  createGatewayService,
  defaultGatewayLimits,
  type GatewayService,
  type GatewayServiceOptions,
  gatewayMigrationsFolder,
} from './service.ts';
