import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pgliteEngine } from '../pglite-engine.ts';
import { enableDataChecksums } from './checksums.ts';
import { syncDirectory, syncFolderTree } from './durable-fs.ts';
import { cannotOpen, describeFileError, probeWrite } from './inspect.ts';

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function initialise(folder: string): Promise<void> {
  const pglite = new PGlite(folder, { ...(await pgliteEngine()) });
  await pglite.waitReady;
  await pglite.close();
  await enableDataChecksums(folder, { sync: false });
}

/**
 * Creates a PGlite data folder with data checksums on. PGlite's initdb
 * cannot turn them on (its arguments are fixed in the WebAssembly build),
 * so the new, still empty cluster is closed, given checksums as
 * `pg_checksums --enable` would, and only then used. It is built beside its
 * final place and renamed into it, so a crash while creating leaves no
 * half-made database behind (a `.<name>.creating-*` folder at most); a
 * folder that exists and is empty (a mount point) is filled in place.
 * Every file is flushed to disk before the rename, as `initdb` does: PGlite
 * writes its first cluster without one sync (durable-fs.ts).
 */
export async function createDataFolder(folder: string): Promise<void> {
  const parent = dirname(folder);
  try {
    await mkdir(parent, { recursive: true });
  } catch (error) {
    throw cannotOpen(folder, describeFileError(error, `its parent folder ${parent}`), error);
  }
  const inPlace = await exists(folder);
  const building = inPlace
    ? folder
    : join(parent, `.${basename(folder)}.creating-${randomBytes(6).toString('hex')}`);
  try {
    await initialise(building);
    await syncFolderTree(building);
    if (!inPlace) {
      await rename(building, folder);
      syncDirectory(parent);
    }
  } catch (error) {
    if (!inPlace) await rm(building, { recursive: true, force: true });
    const unwritable = await probeWrite(
      inPlace ? folder : parent,
      inPlace ? 'the folder' : `its parent folder ${parent}`,
    );
    throw cannotOpen(
      folder,
      unwritable ??
        `creating a new database failed (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`,
      error,
    );
  }
}
