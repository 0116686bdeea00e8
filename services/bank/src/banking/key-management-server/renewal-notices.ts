import type { BankingContext } from '../context.ts';

/** One pass of the key management server: sends renewal notices for bindings close to expiry. */
export async function sendDueRenewalNotices(_context: BankingContext, _now: Date): Promise<number> {
  return 0;
}
