import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { isMpayError } from '@mpay/protocol';
import { enableDataChecksums, verifyDataChecksums } from './checksums.ts';
import { inspectDataFolder } from './inspect.ts';

/**
 * Adds data checksums to PGlite folders made before mpay turned them on
 * (what the start warning STORAGE_CHECKSUMS_OFF asks for). Stop mpay first
 * and copy the folders: this rewrites every page in place.
 *
 *   node --import tsx packages/storage/src/data-folder/enable-checksums-main.ts .mpay/xbank .mpay/ybank …
 */
async function enableOne(folder: string): Promise<string> {
  const found = await inspectDataFolder(folder);
  if (found.kind !== 'cluster') return `${folder}: no database here, nothing to do`;
  if (found.control.dataChecksumVersion !== 0) return `${folder}: data checksums are already on`;
  if (found.control.state !== 'shut down') {
    // Not closed cleanly (a crash): PGlite replays its log when it opens, and closes it cleanly.
    const pglite = new PGlite(folder);
    await pglite.waitReady;
    await pglite.close();
  }
  const { pagesWritten } = await enableDataChecksums(folder, { sync: true });
  const scan = await verifyDataChecksums(folder);
  if (scan.failureCount > 0) throw new Error(`${folder}: ${scan.failureCount} pages fail their new checksum`);
  const pglite = new PGlite(folder);
  try {
    const { rows } = await pglite.query<{ data_checksums: string }>('SHOW data_checksums');
    if (rows[0]?.data_checksums !== 'on') throw new Error(`${folder}: PGlite does not see the checksums`);
  } finally {
    await pglite.close();
  }
  return `${folder}: data checksums on (${pagesWritten} pages)`;
}

async function main(folders: readonly string[]): Promise<number> {
  if (folders.length === 0) {
    process.stderr.write(
      'usage: node --import tsx packages/storage/src/data-folder/enable-checksums-main.ts FOLDER…\n',
    );
    return 2;
  }
  for (const folder of folders) process.stdout.write(`${await enableOne(resolve(folder))}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const text = isMpayError(error)
      ? `${error.code}: ${error.detail ?? error.message}`
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
    process.stderr.write(`enable-checksums: ${text}\n`);
    process.exitCode = 1;
  },
);
