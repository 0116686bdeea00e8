import { isMpayError } from '@mpay/protocol';
import { sessionPinTriesMaxDefault } from '@mpay/sdk';

/**
 * What a PIN failure means for the wallet, from the SDK's stable codes:
 * - WALLET_PIN_INVALID: wrong PIN in an open session (checked on the phone);
 * - WALLET_LOCKED: the last wrong one in a row: the SDK ended the session;
 * - PIN_REFUSED: wrong PIN at custody's PIN server (a login), which counts it;
 * - PIN_BLOCKED: custody blocked the PIN: no key can be unwrapped any more.
 */
export type PinProblem =
  | { readonly kind: 'wrong'; readonly where: 'session' | 'custody' }
  | { readonly kind: 'locked' }
  | { readonly kind: 'blocked' };

export function pinProblemOf(error: unknown): PinProblem | undefined {
  if (isMpayError(error, 'WALLET_PIN_INVALID')) return { kind: 'wrong', where: 'session' };
  if (isMpayError(error, 'PIN_REFUSED')) return { kind: 'wrong', where: 'custody' };
  if (isMpayError(error, 'WALLET_LOCKED')) return { kind: 'locked' };
  if (isMpayError(error, 'PIN_BLOCKED')) return { kind: 'blocked' };
  return undefined;
}

/** Wrong PINs in a row an open session accepts (the SDK's default, which the page's Wallet uses). */
export const sessionPinTriesMax = sessionPinTriesMaxDefault;

/** The text under a PIN field after a wrong PIN: what happened and what comes next. */
export function wrongPinText(where: 'session' | 'custody', wrongInARow: number): string {
  if (where === 'custody')
    return "Wrong PIN. Your bank's PIN server counts every wrong PIN and blocks the wallet after a few in a row.";
  const left = sessionPinTriesMax - wrongInARow;
  return `Wrong PIN (${wrongInARow} of ${sessionPinTriesMax}). ${
    left === 1 ? 'One more wrong PIN locks the wallet.' : `${left} more wrong PINs lock the wallet.`
  }`;
}
