import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { deleteSoftHsmToken, type SoftHsmTokenOptions, sweepSoftHsmTokens, type TokenOwner } from '@mpay/hsm';
import { processStartTicks, processStillRuns } from '@mpay/storage';

/**
 * The custody token of an in-memory platform, made for its run only in the
 * shared test folder (./secrets.ts softHsmOf): recorded with this process as
 * its owner, deleted when the platform closes, and swept by a later platform
 * once this process is gone without closing it (SIGKILL, a test runner
 * stopped with Ctrl-C, a crash).
 */

/** This machine and its boot: a pid and its start time mean nothing on another, nor after a reboot. */
function thisHost(): string {
  let boot = 'unknown boot';
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // No /proc: the host name alone.
  }
  return `${hostname()} ${boot}`;
}

/** This process as the owner of the run tokens it makes. */
export function thisProcessAsOwner(): TokenOwner {
  const startTicks = processStartTicks('self');
  return { pid: process.pid, host: thisHost(), ...(startTicks === undefined ? {} : { startTicks }) };
}

/**
 * Whether the run that made a token is over: it ran on this machine since its
 * last boot, and its process no longer runs (a reused pid is told apart by its
 * start time). A token of another machine sharing the folder, or of a
 * previous boot (whose /tmp is usually gone anyway), is left alone.
 */
export function runTokenOwnerGone(owner: TokenOwner): boolean {
  return owner.host === thisHost() && !processStillRuns(owner.pid, owner.startTicks);
}

/**
 * Deletes the tokens of `directory` whose runs are over, best effort: a
 * failure is a process warning, never a start that fails. Returns the labels
 * deleted.
 */
export async function sweepRunTokens(directory: string): Promise<string[]> {
  return sweepSoftHsmTokens(directory, runTokenOwnerGone).catch((error: unknown) => {
    process.emitWarning(`run tokens of ${directory} not swept: ${messageOf(error)}`);
    return [];
  });
}

/** Deletes a run's custody token, best effort: a token left behind costs a little disk, never a close. */
export async function deleteRunToken(token: SoftHsmTokenOptions): Promise<void> {
  await deleteSoftHsmToken(token).catch((error: unknown) => {
    process.emitWarning(
      `custody token "${token.tokenLabel}" in ${token.directory} not deleted: ${messageOf(error)}`,
    );
  });
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
