import { execFile } from 'node:child_process';
import { chmod, cp, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Database } from '../database.ts';
import type { IntegrityTimer, StorageLog, StorageLogEntry } from '../integrity/options.ts';

const run = promisify(execFile);

/** A folder under the system's temporary folder, removed by `remove`. */
export async function temporaryFolder(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `mpay-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export async function copyFolder(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true });
}

/** Overwrites `bytes.length` bytes of a file at `offset`, in place (what a failing disk or a stray write does). */
export async function overwrite(file: string, offset: number, bytes: Uint8Array): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.write(bytes, 0, bytes.length, offset);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The heap file of a table, relative to the data folder (`base/1/16390`), after a checkpoint wrote it out. */
export async function heapFileOf(database: Database, table: string): Promise<string> {
  await database.exec('CHECKPOINT');
  const { rows } = await database.query<{ path: string }>(
    'SELECT pg_relation_filepath($1::regclass) AS path',
    [table],
  );
  const path = rows[0]?.path;
  if (path === undefined) throw new Error(`no file for ${table}`);
  return path;
}

/** A StorageLog that keeps what it was told. */
export function recordingLog(): { log: StorageLog; warnings: StorageLogEntry[]; errors: StorageLogEntry[] } {
  const warnings: StorageLogEntry[] = [];
  const errors: StorageLogEntry[] = [];
  return {
    log: { warn: (entry) => warnings.push(entry), error: (entry) => errors.push(entry) },
    warnings,
    errors,
  };
}

/** A timer the test fires itself: the periodic check runs when the test says, not after ten minutes. */
export function manualTimer(): IntegrityTimer & {
  readonly scheduled: { readonly delayMs: number; readonly callback: () => void }[];
  fire(): void;
} {
  const scheduled: { delayMs: number; callback: () => void; cleared: boolean }[] = [];
  return {
    scheduled,
    setTimeout(callback, delayMs) {
      const entry = { delayMs, callback, cleared: false };
      scheduled.push(entry);
      return entry;
    },
    clearTimeout(handle) {
      (handle as { cleared: boolean }).cleared = true;
    },
    fire() {
      const next = scheduled.findLast((entry) => !entry.cleared);
      if (next === undefined) throw new Error('no check is scheduled');
      next.cleared = true;
      next.callback();
    },
  };
}

async function allPaths(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return [folder, ...entries.map((entry) => join(entry.parentPath, entry.name))];
}

/**
 * Makes a folder read-only for this process, or says why it cannot. A user
 * other than root: its files and folders lose their write permission. Root
 * ignores permissions, so there it is a read-only bind mount of the folder
 * onto itself (needs mount and CAP_SYS_ADMIN, as in a container run as
 * root with that capability). `undo` puts it back.
 */
export async function makeReadOnly(
  folder: string,
): Promise<{ how: string; undo(): Promise<void> } | { unavailable: string }> {
  if (process.getuid?.() !== 0) {
    const modes = new Map<string, number>();
    for (const path of await allPaths(folder)) modes.set(path, (await stat(path)).mode & 0o7777);
    for (const [path, mode] of modes) await chmod(path, mode & 0o7555);
    return {
      how: 'write permission removed',
      undo: async () => {
        for (const [path, mode] of modes) await chmod(path, mode);
      },
    };
  }
  try {
    await run('mount', ['--bind', folder, folder]);
  } catch (error) {
    return { unavailable: `root, and no bind mount: ${(error as Error).message}` };
  }
  try {
    await run('mount', ['-o', 'remount,ro,bind', folder]);
  } catch (error) {
    await run('umount', [folder]);
    return { unavailable: `root, and no read-only remount: ${(error as Error).message}` };
  }
  return { how: 'read-only bind mount', undo: async () => void (await run('umount', [folder])) };
}
