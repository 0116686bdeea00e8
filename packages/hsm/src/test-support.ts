import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Hsm, type HsmOptions } from './hsm.ts';
import { heldModule } from './pkcs11/module.ts';
import { ensureSoftHsmToken } from './soft-hsm/ensure-token.ts';

/**
 * One softhsm2 directory per user for every test of the repository: a process
 * can use tokens of one directory only (see `ensureSoftHsmToken`), so tests
 * that share a process must share it too. Tests tell their tokens apart by
 * label, and reuse their labels from run to run, so the folder does not grow.
 */
export function sharedTestHsmDirectory(): string {
  return join(tmpdir(), `mpay-hsm-${userInfo().uid}`);
}

/** A token of the shared test directory, made on first use, and an open `Hsm` on it. Close it in afterAll. */
export async function openSharedTestHsm(
  tokenLabel: string,
): Promise<{ readonly hsm: Hsm; readonly options: HsmOptions & { readonly configPath: string } }> {
  const options = await ensureSoftHsmToken({ directory: sharedTestHsmDirectory(), tokenLabel });
  return { hsm: Hsm.open(options), options };
}

/** How many open `Hsm`s (and token set-ups under way) of this process hold the library at `modulePath`. */
export function moduleHoldersOf(modulePath: string): number {
  return heldModule(modulePath)?.holders ?? 0;
}
