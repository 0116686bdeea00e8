import { readFileSync, readlinkSync } from 'node:fs';
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

/**
 * Where a pid means one process: this machine, since its last boot, in this PID namespace
 * (containers and sandboxes sharing /tmp and the uid have their own pids). Undefined where any of
 * the three cannot be read: then no owner is recorded, and no token is ever swept.
 */
function thisPidSpace(): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const namespace = readlinkSync('/proc/self/ns/pid');
    return `${hostname()} ${boot} ${namespace}`;
  } catch {
    return undefined;
  }
}

/** This process as the owner of the run tokens it makes; undefined where its pid space cannot be told. */
export function thisProcessAsOwner(): TokenOwner | undefined {
  const host = thisPidSpace();
  const startTicks = processStartTicks('self');
  if (host === undefined || startTicks === undefined) return undefined;
  return { pid: process.pid, host, startTicks };
}

/**
 * Whether the run that made a token is over: it ran in this pid space (this
 * machine, boot and PID namespace; `here`, read once by a sweep), and its
 * process no longer runs (a reused pid is told apart by its start time). A
 * token of any other pid space sharing the folder is left alone.
 */
export function runTokenOwnerGone(owner: TokenOwner, here: string | undefined = thisPidSpace()): boolean {
  return here !== undefined && owner.host === here && !processStillRuns(owner.pid, owner.startTicks);
}

/**
 * Deletes the tokens of `directory` whose runs are over, best effort: a
 * failure is a process warning, never a start that fails. Returns the labels
 * deleted.
 */
export async function sweepRunTokens(directory: string): Promise<string[]> {
  const here = thisPidSpace();
  if (here === undefined) return [];
  return sweepSoftHsmTokens(directory, (owner) => runTokenOwnerGone(owner, here)).catch((error: unknown) => {
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
