import { constants } from 'node:fs';
import { access, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MpayError } from '@mpay/protocol';
import { readControlFile } from './checksums.ts';
import { type ControlFile, ControlFileError } from './control-file.ts';

/** What a data folder holds before PGlite opens it. */
export type DataFolder =
  | { readonly kind: 'new' }
  | { readonly kind: 'cluster'; readonly control: ControlFile };

/** The PostgreSQL major version of PGlite 0.3. */
const postgresMajorVersion = '17';

/** The folders PostgreSQL cannot start without. */
const requiredFolders = ['base', 'global', 'pg_wal', 'pg_xact'] as const;

/**
 * STORAGE_UNAVAILABLE naming the folder and the cause: what the operator
 * reads instead of PGlite's `RuntimeError: unreachable`.
 */
export function cannotOpen(folder: string, cause: string, error?: unknown): MpayError {
  return new MpayError(
    'STORAGE_UNAVAILABLE',
    `cannot open the embedded database in ${folder}: ${cause}`,
    error === undefined ? undefined : { cause: error },
  );
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** An operating-system error in words, with its code: "the folder is read-only (EROFS)". */
export function describeFileError(error: unknown, what: string): string {
  const code = codeOf(error);
  switch (code) {
    case 'EROFS':
      return `${what} is read-only (EROFS)`;
    case 'EACCES':
    case 'EPERM':
      return `${what} is not writable by this user (${code})`;
    case 'ENOTDIR':
      return `${what} is not a folder: a file is in its place (ENOTDIR)`;
    case 'ENOENT':
      return `${what} does not exist (ENOENT)`;
    case 'ENOSPC':
      return `the disk holding ${what} is full (ENOSPC)`;
    default:
      return `${what}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

async function assertWritable(folder: string): Promise<void> {
  for (const relative of ['.', ...requiredFolders, 'global/pg_control']) {
    try {
      await access(join(folder, relative), constants.R_OK | constants.W_OK);
    } catch (error) {
      throw cannotOpen(folder, describeFileError(error, relative === '.' ? 'the folder' : relative), error);
    }
  }
}

/**
 * Tries to write a file in the folder: after PGlite failed, says whether it
 * was because the folder cannot be written (a read-only mount the access
 * check did not see, a full disk), else undefined.
 */
export async function probeWrite(folder: string, what = 'the folder'): Promise<string | undefined> {
  const probe = join(folder, `.mpay-write-probe-${process.pid}`);
  try {
    await writeFile(probe, 'probe');
    await rm(probe, { force: true });
    return undefined;
  } catch (error) {
    return describeFileError(error, what);
  }
}

/**
 * After PGlite failed to start: the first file or folder of the cluster
 * this process cannot read and write (a read-only mount of a part of it,
 * files of another user), in words, else undefined.
 */
export async function findUnwritable(folder: string): Promise<string | undefined> {
  const pending = ['.'];
  for (let relative = pending.pop(); relative !== undefined; relative = pending.pop()) {
    const path = join(folder, relative);
    try {
      await access(path, constants.R_OK | constants.W_OK);
    } catch (error) {
      return describeFileError(error, relative === '.' ? 'the folder' : relative);
    }
    const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const child = relative === '.' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) pending.push(child);
      else {
        try {
          await access(join(folder, child), constants.R_OK | constants.W_OK);
        } catch (error) {
          return describeFileError(error, child);
        }
      }
    }
  }
  return probeWrite(folder);
}

async function inspectCluster(folder: string, names: readonly string[]): Promise<DataFolder> {
  const version = (await readFile(join(folder, 'PG_VERSION'), 'utf8')).trim();
  if (version !== postgresMajorVersion) {
    throw cannotOpen(
      folder,
      `the folder was made by PostgreSQL ${version.slice(0, 16)}; this PGlite runs PostgreSQL ${postgresMajorVersion}`,
    );
  }
  const missing = requiredFolders.filter((name) => !names.includes(name));
  if (missing.length > 0) throw cannotOpen(folder, `the folder is damaged: ${missing.join(', ')} missing`);
  let control: ControlFile;
  try {
    control = (await readControlFile(folder)).control;
  } catch (error) {
    if (error instanceof ControlFileError)
      throw cannotOpen(folder, `the folder is damaged: ${error.message}`, error);
    throw cannotOpen(
      folder,
      `the folder is damaged: ${describeFileError(error, 'global/pg_control')}`,
      error,
    );
  }
  await assertWritable(folder);
  return { kind: 'cluster', control };
}

/**
 * Looks at a data folder before PGlite does, so that each way it can be
 * unusable gets its own message: absent or empty (a new database), a file in
 * its place, unreadable, not a PGlite folder, another PostgreSQL version, a
 * damaged control file, read-only.
 */
export async function inspectDataFolder(folder: string): Promise<DataFolder> {
  let names: string[];
  try {
    const stats = await stat(folder);
    if (!stats.isDirectory()) {
      throw cannotOpen(folder, 'the path is not a folder: a file is in its place (ENOTDIR)');
    }
    names = await readdir(folder);
  } catch (error) {
    if (error instanceof MpayError) throw error;
    if (codeOf(error) === 'ENOENT') return { kind: 'new' };
    throw cannotOpen(folder, describeFileError(error, 'the folder'), error);
  }
  if (names.length === 0) return { kind: 'new' };
  if (!names.includes('PG_VERSION')) {
    const shown = names.sort().slice(0, 3).join(', ');
    throw cannotOpen(
      folder,
      `the folder is not a PGlite data folder: it has no PG_VERSION but holds ${shown}${names.length > 3 ? ', …' : ''}`,
    );
  }
  try {
    return await inspectCluster(folder, names);
  } catch (error) {
    if (error instanceof MpayError) throw error;
    throw cannotOpen(folder, describeFileError(error, 'the folder'), error);
  }
}
