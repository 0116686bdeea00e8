import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MpayError } from '@mpay/protocol';
import { assertTokenLabel, TOKEN_DELETE_MS_MAX } from '../limits.ts';
import { withDirectoryLock } from './directory.ts';
import type { SoftHsmTokenOptions } from './ensure-token.ts';
import { locateSoftHsmUtil } from './locate.ts';
import { readPinFile, type TokenOwner, writePinFile } from './pins.ts';

/** What softhsm2-util prints (and exits 1 with) when no token carries the label. */
const NO_SUCH_TOKEN = 'Could not find a token';

/**
 * Deletes an embedded softhsm2 token made by `ensureSoftHsmToken`, with every
 * key in it, and then its PINs from pins.json: for tokens made for one run
 * (an in-memory platform's custody), which would otherwise pile up in the
 * shared folder and make every C_Initialize read them all. Idempotent: a
 * token already gone only has its PINs removed.
 *
 * Call it once every `Hsm` on the token is closed. Other processes may keep
 * softhsm2 initialised on the same folder: they find their own tokens still
 * (softhsm2 answers CKR_GENERAL_ERROR for the deleted one until they finalise,
 * and `scanTokenSlots` passes over it). The deletion runs under the
 * directory's lock, as token creation and opening do, through softhsm2-util:
 * PKCS#11 has no call that removes a token.
 */
export async function deleteSoftHsmToken(options: SoftHsmTokenOptions): Promise<void> {
  const { tokenLabel } = options;
  assertTokenLabel(tokenLabel);
  const directory = resolve(options.directory);
  const configPath = join(directory, 'softhsm2.conf');
  if (!existsSync(configPath)) return;
  const util = softHsmUtil();
  await withDirectoryLock(directory, () => deleteLocked(util, directory, configPath, tokenLabel));
}

/**
 * Deletes, as `deleteSoftHsmToken` does, every token of `directory` made for
 * a run (`SoftHsmTokenOptions.owner`) whose process `isGone` says has ended:
 * a run killed before it could delete its own (SIGKILL, a test runner
 * stopped with Ctrl-C, a crash). Tokens without an owner are never touched.
 * Returns the labels deleted; a token that cannot be deleted is passed over,
 * and once the others are gone the call rejects (HSM_UNAVAILABLE) naming it.
 * Under the directory's lock, so that no token is made or opened meanwhile.
 */
export async function sweepSoftHsmTokens(
  directory: string,
  isGone: (owner: TokenOwner) => boolean,
): Promise<string[]> {
  const resolved = resolve(directory);
  const configPath = join(resolved, 'softhsm2.conf');
  if (!existsSync(configPath)) return [];
  return withDirectoryLock(resolved, () => {
    const abandoned = Object.entries(readPinFile(resolved).tokens)
      .filter(([, pins]) => pins.owner !== undefined && isGone(pins.owner))
      .map(([label]) => label);
    if (abandoned.length === 0) return [];
    const util = softHsmUtil();
    // One token that cannot be deleted does not keep the others: each is tried, the failures said together.
    const swept: string[] = [];
    const failures: string[] = [];
    for (const label of abandoned) {
      try {
        deleteLocked(util, resolved, configPath, label);
        swept.push(label);
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (failures.length > 0) {
      throw new MpayError(
        'HSM_UNAVAILABLE',
        `swept ${swept.length} token(s) of ${resolved}; ${failures.length} not: ${failures.join('; ')}`,
      );
    }
    return swept;
  });
}

function softHsmUtil(): string {
  const util = locateSoftHsmUtil();
  if (util === undefined) {
    throw new MpayError('HSM_UNAVAILABLE', 'softhsm2-util is not installed (Debian package softhsm2)');
  }
  return util;
}

/** Under the directory's lock: the token through softhsm2-util, then its PINs. */
function deleteLocked(util: string, directory: string, configPath: string, tokenLabel: string): void {
  const where = `token "${tokenLabel}"`;
  const run = spawnSync(util, ['--delete-token', '--token', tokenLabel], {
    encoding: 'utf8',
    env: { ...process.env, SOFTHSM2_CONF: configPath },
    timeout: TOKEN_DELETE_MS_MAX,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const gone = run.status === 1 && `${run.stdout}${run.stderr}`.includes(NO_SUCH_TOKEN);
  if (run.status !== 0 && !gone) {
    const why = run.error?.message ?? (run.signal === null ? `exit ${run.status}` : `signal ${run.signal}`);
    throw new MpayError('HSM_UNAVAILABLE', `${where}: softhsm2-util --delete-token failed (${why})`);
  }
  // After the token: an interruption between the two leaves PINs of no token, never a token without PINs.
  const file = readPinFile(directory);
  if (!Object.hasOwn(file.tokens, tokenLabel)) return;
  const tokens = Object.fromEntries(Object.entries(file.tokens).filter(([label]) => label !== tokenLabel));
  writePinFile(directory, { tokens });
}
