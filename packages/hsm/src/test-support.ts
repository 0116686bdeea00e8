import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Hsm, HsmOptions } from './hsm.ts';
import { heldModule } from './pkcs11/module.ts';
import { ensureSoftHsmToken } from './soft-hsm/ensure-token.ts';
import { openHsm } from './soft-hsm/open.ts';
import { readPinFile } from './soft-hsm/pins.ts';

/**
 * One softhsm2 directory per user for every test of the repository: a process
 * can use tokens of one directory only (see `ensureSoftHsmToken`), so tests
 * that share a process must share it too. Tests tell their tokens apart by
 * label, and reuse their labels from run to run, so the folder does not grow;
 * in-memory platforms delete their own (`deleteSoftHsmToken`). Named `-2`
 * since tokens are deleted in it: a checkout from before then fails its slot
 * scan on a token deleted under it (`scanTokenSlots`), so the two never share
 * a folder.
 */
export function sharedTestHsmDirectory(): string {
  return join(tmpdir(), `mpay-hsm-${userInfo().uid}-2`);
}

/** A token of the shared test directory, made on first use, and an open `Hsm` on it (`openHsm`). Close it in afterAll. */
export async function openSharedTestHsm(
  tokenLabel: string,
): Promise<{ readonly hsm: Hsm; readonly options: HsmOptions & { readonly configPath: string } }> {
  const directory = sharedTestHsmDirectory();
  const options = await ensureSoftHsmToken({ directory, tokenLabel });
  return { hsm: await openHsm(options), options };
}

/** How many open `Hsm`s (and token set-ups under way) of this process hold the library at `modulePath`. */
export function moduleHoldersOf(modulePath: string): number {
  return heldModule(modulePath)?.holders ?? 0;
}

/**
 * The labels pins.json of `directory` holds PINs for: every token made there and not deleted
 * (`deleteSoftHsmToken` removes a label's PINs last, once its token is gone).
 */
export function tokenLabelsWithPins(directory: string): string[] {
  return Object.keys(readPinFile(directory).tokens);
}
