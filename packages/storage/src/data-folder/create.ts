import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
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

/** A new, empty cluster with data checksums on, as files: what every new folder of a process starts as. */
interface ClusterFiles {
  /** Relative paths, parents before their children; the folder itself is not listed. */
  readonly directories: readonly { readonly relative: string; readonly mode: number }[];
  readonly files: readonly { readonly relative: string; readonly mode: number; readonly bytes: Buffer }[];
}

/** How long a process keeps its new-cluster files after it last made a folder (a platform makes seven at once). */
export const clusterTemplateKeptMs = 60_000;

let template: Promise<ClusterFiles | undefined> | undefined;
let forgetTemplate: NodeJS.Timeout | undefined;

/** Forgets the new-cluster files `clusterTemplateKeptMs` after the last folder made from them. */
function keepTemplateFor(ms: number): void {
  if (forgetTemplate !== undefined) clearTimeout(forgetTemplate);
  forgetTemplate = setTimeout(() => {
    template = undefined;
    forgetTemplate = undefined;
  }, ms);
  forgetTemplate.unref();
}

/** Forgets the new-cluster files now: the next folder runs initdb (and is kept again). */
export function forgetNewClusterTemplate(): void {
  if (forgetTemplate !== undefined) clearTimeout(forgetTemplate);
  forgetTemplate = undefined;
  template = undefined;
}

async function readClusterFiles(folder: string): Promise<ClusterFiles> {
  const directories: { relative: string; mode: number }[] = [];
  const files: { relative: string; mode: number; bytes: Buffer }[] = [];
  const walk = async (relative: string): Promise<void> => {
    for (const entry of await readdir(join(folder, relative), { withFileTypes: true })) {
      const path = relative === '' ? entry.name : join(relative, entry.name);
      const { mode } = await stat(join(folder, path));
      if (entry.isDirectory()) {
        directories.push({ relative: path, mode: mode & 0o7777 });
        await walk(path);
      } else if (entry.isFile()) {
        files.push({ relative: path, mode: mode & 0o7777, bytes: await readFile(join(folder, path)) });
      } else {
        throw new Error(`a new cluster holds ${path}, neither a file nor a folder`);
      }
    }
  };
  await walk('');
  return { directories, files };
}

async function writeClusterFiles(folder: string, cluster: ClusterFiles): Promise<void> {
  await mkdir(folder, { recursive: true, mode: 0o700 });
  for (const directory of cluster.directories)
    await mkdir(join(folder, directory.relative), { mode: directory.mode });
  for (const file of cluster.files) {
    // 'wx': the file is new; a folder filled in place (a mount point) held nothing to overwrite.
    const handle = await open(join(folder, file.relative), 'wx', file.mode);
    try {
      await handle.writeFile(file.bytes);
    } finally {
      await handle.close();
    }
  }
}

/** PGlite's initdb in `folder`, then data checksums turned on, as `pg_checksums --enable` would. */
async function initialise(folder: string): Promise<void> {
  const pglite = new PGlite(folder, { ...(await pgliteEngine()) });
  await pglite.waitReady;
  await pglite.close();
  await enableDataChecksums(folder, { sync: false });
}

/**
 * The cluster's files in `folder`, not yet flushed. The first folder of a
 * process runs initdb (1.3–2.8 s on this project's 2-core machines, most of
 * a new folder's cost) and keeps the new cluster's files (27 MB) in memory
 * for `clusterTemplateKeptMs`; the folders made meanwhile are written from
 * them, as PostgreSQL's CREATE DATABASE copies its template. They share
 * initdb's system identifier, which only WAL archiving and replication read
 * and PGlite has neither. A template that could not be read is not kept:
 * the next folder runs initdb and tries again.
 */
async function fillNewCluster(folder: string): Promise<void> {
  const cluster = template === undefined ? undefined : await template;
  if (cluster !== undefined) {
    keepTemplateFor(clusterTemplateKeptMs);
    await writeClusterFiles(folder, cluster);
    return;
  }
  // No await runs between looking at the template and claiming its making.
  const making = template === undefined;
  let made: (cluster: ClusterFiles | undefined) => void = () => undefined;
  if (making) template = new Promise((resolve) => (made = resolve));
  try {
    await initialise(folder);
  } catch (error) {
    if (making) {
      template = undefined;
      made(undefined);
    }
    throw error;
  }
  if (!making) return;
  const files = await readClusterFiles(folder).catch(() => undefined);
  if (files === undefined) template = undefined;
  else keepTemplateFor(clusterTemplateKeptMs);
  made(files);
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
    await fillNewCluster(building);
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
