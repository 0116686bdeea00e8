import { dirname } from 'node:path';
import { Hsm, type HsmOptions } from '../hsm.ts';
import { withDirectoryLock } from './directory.ts';

/**
 * Opens an `Hsm`. For an embedded softhsm2 token (`configPath`, as
 * `ensureSoftHsmToken` returns it) the open runs under the token directory's
 * lock, as token creation does: softhsm2 reads every token of the folder when
 * the library initialises, and a token another process was creating at that
 * moment made C_GetTokenInfo fail (CKR_GENERAL_ERROR, seen in a CI run while a
 * second test suite used the same folder). Any other module opens at once.
 */
export async function openHsm(options: HsmOptions & { readonly configPath?: string }): Promise<Hsm> {
  if (options.configPath === undefined) return Hsm.open(options);
  return withDirectoryLock(dirname(options.configPath), () => Hsm.open(options));
}
