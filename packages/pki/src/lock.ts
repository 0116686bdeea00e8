import { createHash } from 'node:crypto';
import { open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MpayError } from '@mpay/protocol';
import { processStartTicks, processStillRuns } from '@mpay/storage/process-identity';
import { isInstitutionId } from './naming.ts';

/**
 * One writer at a time in a deployment's pki folder: `mpay pki ca
 * begin|switch|retire`, `rotate`, `issue` and `ensureDeploymentPki` (`mpay
 * up`, `pki init`) each hold `<pki>/pki.lock` while they read and write.
 * Without it two of them (an operator's `switch` while `mpay up` starts)
 * could each read the folder, then write over the other's files: a leaf of
 * a CA whose key is gone, or a `ca.key.pem` that is not `ca.cert.pem`'s.
 * Readers (a service's trust bundle, `pki list`) take no lock: every file is
 * renamed into place whole.
 *
 * The lock file is created with O_EXCL and holds the holder's pid and start
 * time. A holder that is alive gives PKI_BUSY naming its pid; a pid that no
 * longer runs (a command killed) left a stale lock, taken over with a note.
 * Two commands taking over the same stale lock at once: one gets it
 * (`takeOverStale`). A pid reused by an
 * unrelated process is told apart by the process's start time in /proc
 * (`startTicks`, kept in the lock); where /proc is not there, such a pid
 * makes the lock look held (the message says to delete the file then).
 */

export const pkiLockFileName = 'pki.lock';

interface LockHolder {
  readonly pid: number;
  readonly startedAt: string;
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat), where there is one. */
  readonly startTicks?: string;
}

function holderOf(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || !Number.isSafeInteger(value.pid) || value.pid <= 0) return undefined;
    return {
      pid: value.pid,
      startedAt: typeof value.startedAt === 'string' ? value.startedAt : '?',
      ...(typeof value.startTicks === 'string' ? { startTicks: value.startTicks } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Whether the holder still runs, and is the same process, not a reuse of its pid. */
function isAlive(holder: LockHolder): boolean {
  return processStillRuns(holder.pid, holder.startTicks);
}

async function tryCreate(path: string, holder: LockHolder): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new MpayError('PKI_INVALID', `${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await handle.writeFile(`${JSON.stringify(holder)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

function busy(path: string, why: string): MpayError {
  return new MpayError(
    'PKI_BUSY',
    `${path}: ${why}; retry when it is done (if no mpay command runs, delete ${path})`,
  );
}

/**
 * Replaces the stale lock whose text is `stale` by ours. Removing a file and
 * creating another is two steps: two commands doing both at once could each
 * remove the other's fresh lock and both hold one. So the right to remove
 * this stale lock is itself taken first, with O_EXCL, as a marker named by a
 * digest of its text (`pki.lock.takeover-<digest>`): one command only holds it;
 * under it, the lock is read again and removed only while it is still that
 * stale text. The marker is removed once done; a command that comes later
 * reads the new holder's lock and is told PKI_BUSY. A command killed while
 * holding a marker leaves it (and the stale lock): the next get PKI_BUSY
 * naming both files.
 */
async function takeOverStale(path: string, stale: string, holder: LockHolder): Promise<void> {
  const marker = `${path}.takeover-${createHash('sha256').update(stale, 'utf8').digest('hex').slice(0, 32)}`;
  if (!(await tryCreate(marker, holder)))
    throw busy(path, `another command is taking over its stale lock (if none runs, delete ${marker})`);
  try {
    if ((await readFile(path, 'utf8').catch(() => undefined)) === stale) await rm(path, { force: true });
    if (!(await tryCreate(path, holder)))
      throw busy(path, 'taken by another command while a stale lock was being taken over');
  } finally {
    await rm(marker, { force: true });
  }
}

/**
 * Takes the folder's lock (`folder` must exist), runs `work`, releases the
 * lock in `finally`. `note` hears of a stale lock taken over.
 */
export async function withPkiLock<T>(
  folder: string,
  options: { readonly now: Date; readonly note: (line: string) => void },
  work: () => Promise<T>,
): Promise<T> {
  const path = join(folder, pkiLockFileName);
  const startTicks = processStartTicks('self');
  const holder: LockHolder = {
    pid: process.pid,
    startedAt: options.now.toISOString(),
    ...(startTicks === undefined ? {} : { startTicks }),
  };
  if (!(await tryCreate(path, holder))) {
    const text = await readFile(path, 'utf8').catch(() => undefined);
    const found = text === undefined ? undefined : holderOf(text);
    // Unreadable or half written: maybe a holder between its create and its write; never taken over.
    if (text === undefined || found === undefined)
      throw busy(path, 'held by a command whose lock cannot be read');
    if (isAlive(found))
      throw busy(path, `held by process ${found.pid} (since ${found.startedAt}), which is still running`);
    await takeOverStale(path, text, holder);
    options.note(
      `${path}: took over the lock of process ${found.pid} (since ${found.startedAt}), which no longer runs`,
    );
  }
  try {
    return await work();
  } finally {
    await rm(path, { force: true });
  }
}

/** A temporary file of ./store.ts's writeAtomically: `<name>.<uuid>.tmp`. */
const temporaryPattern = /\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp$/;

/**
 * Removes what a write cut short left in the folder and its institutions'
 * folders (`*.<uuid>.tmp`, some with a CA's or a service's private key).
 * Only under the lock: no other writer's temporary file is in flight then.
 * The paths removed.
 */
export async function removeLeftoverTemporaryFiles(folder: string): Promise<string[]> {
  const removed: string[] = [];
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
  const folders = [
    folder,
    ...entries
      .filter((entry) => entry.isDirectory() && isInstitutionId(entry.name))
      .map((entry) => join(folder, entry.name)),
  ];
  for (const where of folders) {
    const files = where === folder ? entries : await readdir(where, { withFileTypes: true }).catch(() => []);
    for (const file of files) {
      if (!file.isFile() || !temporaryPattern.test(file.name)) continue;
      await rm(join(where, file.name), { force: true });
      removed.push(join(where, file.name));
    }
  }
  return removed.sort();
}
