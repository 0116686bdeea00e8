import type { GatewayContext } from '../context.ts';
import type { MacroServiceLimits } from './limits.ts';
import type { MpinServer } from './mpin.ts';

/** What the MPASP's macro routes work with: the gateway's context, the macro limits and the OPAQUE server. */
export interface MacroContext {
  readonly gateway: GatewayContext;
  readonly limits: MacroServiceLimits;
  readonly mpins: MpinServer;
}
