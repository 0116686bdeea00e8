import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { MpayError } from '@mpay/protocol';
import { processStartTicks, processStillRuns } from '../process-identity.ts';
import { describeFileError } from './inspect.ts';

/**
 * One process at a time in a data folder. PGlite has no lock of its own: two
 * processes opening one folder (a second `mpay up`, `mpay storage
 * enable-checksums` while mpay runs) would each write pages the other does
 * not know of, and the folder would be damaged without a word.
 *
 * The lock is a file beside the folder (`<folder>.lock`), created with
 * O_EXCL, holding the owner's process id, its start time and host, as
 * PostgreSQL's postmaster.pid does. A lock left by a process that is gone
 * (SIGKILL, a power cut) is taken over: the owner is gone when no process
 * has its id, or one has it but started at another time (the id was reused).
 * A lock of another host (a folder on a shared disk) is never taken over.
 */
export interface DataFolderLock {
  readonly path: string;
  /** Removes the lock file if it is still this lock's; once. */
  release(): Promise<void>;
}

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  /** The owner's start time in clock ticks since boot (/proc/<pid>/stat field 22); undefined off Linux. */
  readonly startTicks: string | undefined;
  readonly lockedAt: string;
}

/** Attempts at taking a lock over from a gone owner before giving up (another process is racing for it). */
const takeOverAttemptsMax = 3;

export function lockPathOf(folder: string): string {
  return `${folder}.lock`;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (!Number.isSafeInteger(value.pid) || typeof value.host !== 'string') return undefined;
    return {
      pid: value.pid as number,
      host: value.host,
      startTicks: typeof value.startTicks === 'string' ? value.startTicks : undefined,
      lockedAt: typeof value.lockedAt === 'string' ? value.lockedAt : '',
    };
  } catch {
    return undefined;
  }
}

/** Whether the owner may still be running: on another host it always may. */
function ownerAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true;
  return processStillRuns(owner.pid, owner.startTicks);
}

function inUse(folder: string, path: string, owner: LockOwner): MpayError {
  const who =
    owner.pid === process.pid && owner.host === hostname()
      ? 'this process already (opened twice without closing)'
      : `process ${owner.pid} on ${owner.host}${owner.lockedAt === '' ? '' : ` since ${owner.lockedAt}`}`;
  return new MpayError(
    'STORAGE_UNAVAILABLE',
    `cannot open the embedded database in ${folder}: it is in use by ${who}. ` +
      `Stop that process first; if it is surely gone (another host's lock is never taken over), remove ${path}`,
  );
}

/**
 * Takes the folder's lock, or refuses with STORAGE_UNAVAILABLE naming the
 * process that holds it. The folder itself need not exist yet.
 */
export async function lockDataFolder(folder: string): Promise<DataFolderLock> {
  const path = lockPathOf(folder);
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    startTicks: processStartTicks(process.pid),
    lockedAt: new Date().toISOString(),
  };
  const content = `${JSON.stringify(owner)}\n`;
  await mkdir(dirname(folder), { recursive: true }).catch(() => undefined);
  for (let attempt = 1; ; attempt += 1) {
    try {
      const handle = await open(path, 'wx', 0o644);
      try {
        await handle.writeFile(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return heldLock(path, content);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EEXIST')
        throw new MpayError(
          'STORAGE_UNAVAILABLE',
          // The lock file is made in the folder's parent: that is what cannot be written.
          `cannot open the embedded database in ${folder}: ${describeFileError(error, `its parent folder ${dirname(folder)}`)}`,
          { cause: error },
        );
    }
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined) continue; // released meanwhile: try again
    const holder = parseOwner(text);
    // A lock file that says nothing readable was cut short by a crash while being written.
    if (holder !== undefined && ownerAlive(holder)) throw inUse(folder, path, holder);
    if (attempt >= takeOverAttemptsMax)
      throw new MpayError(
        'STORAGE_UNAVAILABLE',
        `cannot open the embedded database in ${folder}: another process keeps taking its lock ${path}`,
      );
    await rm(path, { force: true });
  }
}

function heldLock(path: string, content: string): DataFolderLock {
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text === content) await rm(path, { force: true });
    },
  };
}
