import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ControlFile, controlFilePath, parseControlFile, withDataChecksumsOn } from './control-file.ts';
import {
  isNewPage,
  pageChecksum,
  pageSizeBytes,
  setPageChecksum,
  storedPageChecksum,
} from './page-checksum.ts';

/** A page that fails its checksum, or a file that is not a whole number of pages. */
export interface PageFailure {
  /** The file, relative to the data folder: `base/1/16384` (database 1, relation file 16384). */
  readonly file: string;
  readonly blockNumber: number;
  readonly reason: string;
}

export interface ChecksumScan {
  readonly pagesVerified: number;
  readonly bytesRead: number;
  /** The first `failuresMax` failures. */
  readonly failures: readonly PageFailure[];
  /** Every failure, also those past `failuresMax`. */
  readonly failureCount: number;
}

/** Most failures one scan lists (it counts them all): a wrecked folder must not fill memory. */
export const failuresMax = 100;
/** Pages read per system call. */
const chunkPages = 64;

interface RelationFile {
  readonly relative: string;
  /** Block number of the file's first page within its relation (segment × blocks per segment). */
  readonly firstBlock: number;
}

/** Relation files: `16384`, `16384.1` (next segment), `16384_fsm`, `16384_vm`, `16384_init`. */
const relationFileName = /^\d+(?:_(?:fsm|vm|init))?(?:\.(\d+))?$/;

async function numericDirectories(folder: string, relative: string): Promise<string[]> {
  const entries = await readdir(join(folder, relative), { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory() && /^\d+$/.test(entry.name))
    .map((entry) => `${relative}/${entry.name}`);
}

/**
 * Every relation file of the cluster: the shared catalogs (global/) and each
 * database (base/<oid>/). PGlite has no tablespaces, so pg_tblspc stays empty.
 */
async function relationFiles(folder: string, control: ControlFile): Promise<RelationFile[]> {
  const directories = ['global', ...(await numericDirectories(folder, 'base'))];
  const files: RelationFile[] = [];
  for (const directory of directories) {
    for (const name of (await readdir(join(folder, directory))).sort()) {
      const match = relationFileName.exec(name);
      if (match === null) continue;
      const segment = Number(match[1] ?? '0');
      files.push({ relative: `${directory}/${name}`, firstBlock: segment * control.relationSegmentBlocks });
    }
  }
  return files;
}

export async function readControlFile(folder: string): Promise<{ bytes: Uint8Array; control: ControlFile }> {
  const bytes = new Uint8Array(await readFile(join(folder, controlFilePath)));
  return { bytes, control: parseControlFile(bytes) };
}

const yieldToOthers = () => new Promise<void>((done) => setImmediate(done));

/**
 * Calls `visit` for each whole page of a file, `chunkPages` at a time, and
 * writes a chunk back when `visit` changed a page in it. The reads and
 * writes are synchronous and the engine (WebAssembly on this same thread)
 * writes synchronously too, so a chunk never sees half of a page write;
 * between chunks the event loop runs, so a running service keeps
 * answering. A file that shrinks or disappears meanwhile (VACUUM, DROP) is
 * read as far as it goes.
 */
async function forEachPage(
  path: string,
  mode: 'r' | 'r+' | 'r+ sync',
  firstBlock: number,
  buffer: Uint8Array,
  visit: (page: Uint8Array, blockNumber: number) => boolean,
): Promise<{ bytes: number; partialBytes: number }> {
  let descriptor: number;
  try {
    descriptor = openSync(path, mode === 'r' ? 'r' : 'r+');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return { bytes: 0, partialBytes: 0 };
    throw error;
  }
  try {
    let position = 0;
    for (;;) {
      const bytesRead = readSync(descriptor, buffer, 0, buffer.length, position);
      const wholeBytes = bytesRead - (bytesRead % pageSizeBytes);
      let changed = false;
      for (let offset = 0; offset < wholeBytes; offset += pageSizeBytes) {
        const blockNumber = firstBlock + (position + offset) / pageSizeBytes;
        changed = visit(buffer.subarray(offset, offset + pageSizeBytes), blockNumber) || changed;
      }
      if (changed) writeSync(descriptor, buffer, 0, wholeBytes, position);
      position += wholeBytes;
      if (bytesRead < buffer.length) {
        if (mode === 'r+ sync') fsyncSync(descriptor);
        return { bytes: position + (bytesRead - wholeBytes), partialBytes: bytesRead - wholeBytes };
      }
      await yieldToOthers();
    }
  } finally {
    closeSync(descriptor);
  }
}

/**
 * Checks every page of every relation file against its checksum, as the
 * engine does when it reads a page (and as `pg_checksums --check` does),
 * but for all pages, also those no query has read since the last start.
 * Safe while PGlite has the folder open in this process (see forEachPage).
 * Only meaningful when the control file says checksums are on.
 */
export async function verifyDataChecksums(folder: string): Promise<ChecksumScan> {
  const { control } = await readControlFile(folder);
  if (control.dataChecksumVersion === 0) throw new Error(`assertion failed: ${folder} has no data checksums`);
  const buffer = new Uint8Array(chunkPages * pageSizeBytes);
  const failures: PageFailure[] = [];
  let failureCount = 0;
  let pagesVerified = 0;
  let bytesRead = 0;
  const fail = (failure: PageFailure) => {
    failureCount += 1;
    if (failures.length < failuresMax) failures.push(failure);
  };
  for (const file of await relationFiles(folder, control)) {
    const result = await forEachPage(
      join(folder, file.relative),
      'r',
      file.firstBlock,
      buffer,
      (page, blockNumber) => {
        if (isNewPage(page)) return false;
        pagesVerified += 1;
        const expected = pageChecksum(page, blockNumber);
        const found = storedPageChecksum(page);
        if (expected !== found) {
          fail({
            file: file.relative,
            blockNumber,
            reason: `checksum ${found} where the page's contents give ${expected}`,
          });
        }
        return false;
      },
    );
    bytesRead += result.bytes;
    if (result.partialBytes !== 0) {
      fail({
        file: file.relative,
        blockNumber: file.firstBlock + Math.floor(result.bytes / pageSizeBytes),
        reason: `the file ends in ${result.partialBytes} bytes that are not a whole page`,
      });
    }
  }
  return { pagesVerified, bytesRead, failures, failureCount };
}

/**
 * Turns data checksums on in a cluster that is shut down, as `pg_checksums
 * --enable` does: a checksum into every page that has contents, each file
 * flushed to disk (`sync`), then the control file says so. A crash before
 * the last step leaves a cluster without checksums, as before (the engine
 * ignores page checksums until the control file turns them on). The caller
 * makes sure no process has the folder open. `sync: false` is for a
 * cluster just made by PGlite's initdb, which does not flush either.
 */
export async function enableDataChecksums(
  folder: string,
  options: { readonly sync: boolean } = { sync: true },
): Promise<{ pagesWritten: number }> {
  const { bytes, control } = await readControlFile(folder);
  if (control.dataChecksumVersion !== 0) return { pagesWritten: 0 };
  if (control.state !== 'shut down' && control.state !== 'shut down in recovery') {
    throw new Error(
      `${folder} was not shut down cleanly (state: ${control.state}); open it once and close it, then try again`,
    );
  }
  let pagesWritten = 0;
  const buffer = new Uint8Array(chunkPages * pageSizeBytes);
  for (const file of await relationFiles(folder, control)) {
    const path = join(folder, file.relative);
    const mode = options.sync ? 'r+ sync' : 'r+';
    const { partialBytes } = await forEachPage(path, mode, file.firstBlock, buffer, (page, blockNumber) => {
      if (isNewPage(page)) return false;
      setPageChecksum(page, blockNumber);
      pagesWritten += 1;
      return true;
    });
    if (partialBytes !== 0) throw new Error(`${file.relative} is not a whole number of pages`);
  }
  const handle = await open(join(folder, controlFilePath), 'r+');
  try {
    await handle.write(withDataChecksumsOn(bytes), 0, bytes.length, 0);
    if (options.sync) await handle.sync();
  } finally {
    await handle.close();
  }
  return { pagesWritten };
}
