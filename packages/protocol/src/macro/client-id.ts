import { MpayError } from '../errors/index.ts';
import { parsePartyId } from '../party/index.ts';

/**
 * ID_C as the client bank issues it: 'C', twelve random digits unique at that
 * bank, '.', the bank's id (`C042917365028.xbank`). The bank's id makes it
 * unique across banks and names ID_CB, which the MPASP needs for
 * `GetClientInfo(ID_C, ID_CB)` (step 5). Its own file, so that the messages
 * (messages.ts) and the registration (registration.ts) share it without
 * importing each other.
 */
export const macroClientIdPattern = /^C[0-9]{12}\.([a-z][a-z0-9-]*[a-z0-9])$/;

export function isMacroClientId(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const bank = macroClientIdPattern.exec(value)?.[1];
  if (bank === undefined) return false;
  try {
    return parsePartyId(bank).kind === 'bank';
  } catch {
    return false;
  }
}

/** The client bank (ID_CB) named by a client id. */
export function bankOfMacroClientId(clientId: string): string {
  const bank = isMacroClientId(clientId) ? macroClientIdPattern.exec(clientId)?.[1] : undefined;
  if (bank === undefined) throw new MpayError('REQUEST_INVALID', 'clientId');
  return bank;
}
