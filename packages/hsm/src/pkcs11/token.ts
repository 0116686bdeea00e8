import { MpayError } from '@mpay/protocol';
import pkcs11js, { type PKCS11 } from 'pkcs11js';
import { hsmError } from './errors.ts';

/** CK_TOKEN_INFO.label without its padding: blanks by the standard, NULs from some writers. */
function tokenLabelOf(pkcs11: PKCS11, slot: Buffer): string {
  return pkcs11.C_GetTokenInfo(slot).label.replace(/[ \0]+$/, '');
}

/**
 * The slot holding the initialised token labelled `tokenLabel`, or undefined.
 * Two tokens with one label are refused: which one holds the keys is then a
 * guess, and a guess here signs with the wrong key or loses sealed data.
 */
export function findTokenSlot(pkcs11: PKCS11, tokenLabel: string, where: string): Buffer | undefined {
  let matching: Buffer[];
  try {
    matching = pkcs11
      .C_GetSlotList(true)
      .filter((slot) => isInitialized(pkcs11, slot) && tokenLabelOf(pkcs11, slot) === tokenLabel);
  } catch (cause) {
    throw hsmError('HSM_UNAVAILABLE', where, cause);
  }
  if (matching.length > 1) throw new MpayError('HSM_UNAVAILABLE', `${where}: several tokens have this label`);
  return matching[0];
}

/** A slot with a token that is not initialised yet (softhsm2 always offers one). */
export function findFreeSlot(pkcs11: PKCS11): Buffer | undefined {
  return pkcs11.C_GetSlotList(true).find((slot) => !isInitialized(pkcs11, slot));
}

export function isUserPinInitialized(pkcs11: PKCS11, slot: Buffer): boolean {
  return (pkcs11.C_GetTokenInfo(slot).flags & pkcs11js.CKF_USER_PIN_INITIALIZED) !== 0;
}

function isInitialized(pkcs11: PKCS11, slot: Buffer): boolean {
  return (pkcs11.C_GetTokenInfo(slot).flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0;
}
