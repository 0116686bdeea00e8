import { PGlite } from '@electric-sql/pglite';
import { MpayError } from '@mpay/protocol';
import { pgliteEngine } from '../pglite-engine.ts';
import { enableDataChecksums, verifyDataChecksums } from './checksums.ts';
import { DurableNodeFs } from './durable-fs.ts';
import { inspectDataFolder } from './inspect.ts';
import { lockDataFolder } from './lock.ts';

export type EnableChecksumsOutcome =
  | { readonly folder: string; readonly outcome: 'no-database' }
  | { readonly folder: string; readonly outcome: 'already-on' }
  | { readonly folder: string; readonly outcome: 'enabled'; readonly pagesWritten: number };

/**
 * Adds data checksums to a PGlite folder made before mpay turned them on
 * (what the start warning STORAGE_CHECKSUMS_OFF asks for), as `pg_checksums
 * --enable` does: every page is rewritten in place, so the folder must be
 * copied first. The folder's lock is held throughout: a running mpay
 * refuses it with STORAGE_UNAVAILABLE, and mpay cannot start meanwhile.
 */
export async function enableChecksumsInFolder(folder: string): Promise<EnableChecksumsOutcome> {
  const lock = await lockDataFolder(folder);
  try {
    const found = await inspectDataFolder(folder);
    if (found.kind !== 'cluster') return { folder, outcome: 'no-database' };
    if (found.control.dataChecksumVersion !== 0) return { folder, outcome: 'already-on' };
    if (found.control.state !== 'shut down') {
      // Not closed cleanly (a crash): PGlite replays its log when it opens, and closes it cleanly.
      const pglite = new PGlite({ ...(await pgliteEngine()), fs: new DurableNodeFs(folder) });
      await pglite.waitReady;
      await pglite.close();
    }
    const { pagesWritten } = await enableDataChecksums(folder, { sync: true });
    const scan = await verifyDataChecksums(folder);
    if (scan.failureCount > 0)
      throw new MpayError(
        'STORAGE_CORRUPTED',
        `the embedded database in ${folder}: ${scan.failureCount} pages fail their new checksum; restore the copy`,
      );
    const pglite = new PGlite({ ...(await pgliteEngine()), fs: new DurableNodeFs(folder) });
    try {
      const { rows } = await pglite.query<{ data_checksums: string }>('SHOW data_checksums');
      if (rows[0]?.data_checksums !== 'on')
        throw new MpayError(
          'STORAGE_UNAVAILABLE',
          `the embedded database in ${folder}: PGlite does not see the new checksums; restore the copy`,
        );
    } finally {
      await pglite.close();
    }
    return { folder, outcome: 'enabled', pagesWritten };
  } finally {
    await lock.release();
  }
}
