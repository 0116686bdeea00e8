/**
 * @mpay/hsm: customer signing keys and sealing keys inside an HSM through
 * PKCS#11 (pkcs11js), with Debian's softhsm2 as the embedded default. Node
 * only: it loads a native library.
 */
export { Hsm, type HsmOptions } from './hsm.ts';
export type { HsmKeyAttributes, HsmSigningKeyInfo } from './key/signing-key.ts';
export { deleteSoftHsmToken, sweepSoftHsmTokens } from './soft-hsm/delete-token.ts';
export { ensureSoftHsmToken, type SoftHsmTokenOptions } from './soft-hsm/ensure-token.ts';
export { locateSoftHsmModule, locateSoftHsmUtil } from './soft-hsm/locate.ts';
export { openHsm } from './soft-hsm/open.ts';
export type { TokenOwner } from './soft-hsm/pins.ts';
