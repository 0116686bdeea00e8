import {
  chmodSync,
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MpayError } from '@mpay/protocol';
import { TOKEN_LOCK_RETRY_MS, TOKEN_LOCK_WAIT_MS_MAX } from '../limits.ts';

const PRIVATE_DIRECTORY_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;
const GROUP_AND_OTHER_BITS = 0o077;

/**
 * Creates `path` as a folder only this user can enter, or makes an existing
 * one so. A folder of another user (a shared /tmp) or a symbolic link is
 * refused: the token files and pins.json would be theirs to read or swap.
 */
export function ensurePrivateDirectory(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  const stats = lstatSync(path);
  if (!stats.isDirectory()) throw new MpayError('HSM_UNAVAILABLE', `${path}: not a directory`);
  if (process.getuid !== undefined && stats.uid !== process.getuid()) {
    throw new MpayError('HSM_UNAVAILABLE', `${path}: owned by another user`);
  }
  if ((stats.mode & GROUP_AND_OTHER_BITS) !== 0) chmodSync(path, PRIVATE_DIRECTORY_MODE);
}

/** Writes `content` to `path` (mode 0600) unless the file already holds exactly it. */
export function writeFileIfChanged(path: string, content: string): void {
  let current: string | undefined;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== content) writeFileSync(path, content, { mode: PRIVATE_FILE_MODE });
}

/**
 * Runs `critical` holding `directory/.lock`, an exclusive file holding the
 * holder's pid, so processes sharing the directory (parallel test files, a
 * platform's services) create tokens and rewrite pins.json one at a time. A
 * lock whose process is gone is removed; one held longer than
 * TOKEN_LOCK_WAIT_MS_MAX fails the call. `critical` is synchronous on purpose:
 * the lock is never held across an await.
 */
export async function withDirectoryLock<T>(directory: string, critical: () => T): Promise<T> {
  const lockPath = join(directory, '.lock');
  const deadline = Date.now() + TOKEN_LOCK_WAIT_MS_MAX;
  for (;;) {
    const descriptor = tryCreate(lockPath);
    if (descriptor !== undefined) {
      try {
        try {
          writeFileSync(descriptor, String(process.pid));
        } finally {
          closeSync(descriptor);
        }
        return critical();
      } finally {
        unlinkSync(lockPath);
      }
    }
    const holder = holderOf(lockPath);
    if (holder !== undefined && !isAlive(holder)) {
      removeStale(lockPath, holder);
      continue;
    }
    if (Date.now() > deadline) {
      throw new MpayError('HSM_UNAVAILABLE', `${lockPath}: held by process ${holder ?? '?'} for too long`);
    }
    await sleep(TOKEN_LOCK_RETRY_MS);
  }
}

function tryCreate(lockPath: string): number | undefined {
  try {
    return openSync(lockPath, 'wx', PRIVATE_FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw error;
  }
}

/** The pid in the lock file; undefined while its holder has not written it yet, or when it is gone. */
function holderOf(lockPath: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes a lock left by a process that died holding it. Checked again just
 * before: another waiter may have removed it and taken the lock in between.
 * (The window between this check and the unlink remains; it needs a dead
 * holder and two waiters at the same instant.)
 */
function removeStale(lockPath: string, deadHolder: number): void {
  if (holderOf(lockPath) !== deadHolder) return;
  try {
    unlinkSync(lockPath);
  } catch {
    // Another waiter removed it first.
  }
}
