import { MpayError } from '@mpay/protocol';
import pkcs11js, { type PKCS11 } from 'pkcs11js';
import { hsmError, isReturnValue } from './errors.ts';

/** CK_TOKEN_INFO.label without its padding: blanks by the standard, NULs from some writers. */
function labelOf(info: pkcs11js.TokenInfo): string {
  return info.label.replace(/[ \0]+$/, '');
}

/**
 * A token softhsm2 still lists but can no longer read: one another process
 * deleted (`deleteSoftHsmToken`) after this process initialised the library.
 * softhsm2 keeps its slot until C_Finalize and answers C_GetTokenInfo on it
 * with CKR_GENERAL_ERROR; a removed device answers with the other two.
 */
const GONE_TOKEN_RETURN_VALUES: readonly number[] = [
  pkcs11js.CKR_GENERAL_ERROR,
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_DEVICE_REMOVED,
];

/** The slot's token info, or undefined for a token that is gone (GONE_TOKEN_RETURN_VALUES). */
function tokenInfoOf(pkcs11: PKCS11, slot: Buffer): pkcs11js.TokenInfo | undefined {
  try {
    return pkcs11.C_GetTokenInfo(slot);
  } catch (cause) {
    if (GONE_TOKEN_RETURN_VALUES.some((value) => isReturnValue(cause, value))) return undefined;
    throw cause;
  }
}

function isInitialized(info: pkcs11js.TokenInfo): boolean {
  return (info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0;
}

/** What a scan of the slots for one label found. */
export interface TokenScan {
  /** The slot of the initialised token with the label, if any. */
  readonly slot: Buffer | undefined;
  /** Slots whose token could not be read (gone): one of them may have carried the label. */
  readonly unreadable: number;
}

/**
 * The slot holding the initialised token labelled `tokenLabel`, and how many
 * slots could not be read. Two tokens with one label are refused: which one
 * holds the keys is then a guess, and a guess here signs with the wrong key or
 * loses sealed data. A slot whose token is gone (GONE_TOKEN_RETURN_VALUES) is
 * counted, not fatal: another process deleting its own token must not stop
 * this one from finding its own.
 */
export function scanTokenSlots(pkcs11: PKCS11, tokenLabel: string, where: string): TokenScan {
  const matching: Buffer[] = [];
  let unreadable = 0;
  try {
    for (const slot of pkcs11.C_GetSlotList(true)) {
      const info = tokenInfoOf(pkcs11, slot);
      if (info === undefined) unreadable += 1;
      else if (isInitialized(info) && labelOf(info) === tokenLabel) matching.push(slot);
    }
  } catch (cause) {
    throw hsmError('HSM_UNAVAILABLE', where, cause);
  }
  if (matching.length > 1) throw new MpayError('HSM_UNAVAILABLE', `${where}: several tokens have this label`);
  return { slot: matching[0], unreadable };
}

/** How many initialised tokens the library shows (tokens it cannot read not counted). */
export function initializedTokenCount(pkcs11: PKCS11): number {
  return pkcs11.C_GetSlotList(true).filter((slot) => {
    const info = tokenInfoOf(pkcs11, slot);
    return info !== undefined && isInitialized(info);
  }).length;
}

/** The slot holding the initialised token labelled `tokenLabel`, or undefined (`scanTokenSlots`). */
export function findTokenSlot(pkcs11: PKCS11, tokenLabel: string, where: string): Buffer | undefined {
  return scanTokenSlots(pkcs11, tokenLabel, where).slot;
}

/** A slot with a token that is not initialised yet (softhsm2 always offers one); gone tokens are passed over. */
export function findFreeSlot(pkcs11: PKCS11): Buffer | undefined {
  return pkcs11.C_GetSlotList(true).find((slot) => {
    const info = tokenInfoOf(pkcs11, slot);
    return info !== undefined && !isInitialized(info);
  });
}

export function isUserPinInitialized(pkcs11: PKCS11, slot: Buffer): boolean {
  return (pkcs11.C_GetTokenInfo(slot).flags & pkcs11js.CKF_USER_PIN_INITIALIZED) !== 0;
}
