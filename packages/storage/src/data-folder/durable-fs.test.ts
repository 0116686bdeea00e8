import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { afterEach, describe, expect, it } from 'vitest';
import { serviceStartDeadlineMs } from '../../../../test/support/deadlines.ts';
import { openPglite } from '../pglite.ts';
import { DurableNodeFs, failedFlushExitStatus } from './durable-fs.ts';
import { temporaryFolder } from './folders.test-helper.ts';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./durable-fs-child.test-helper.ts', import.meta.url));

/** The fsync and fdatasync calls a child made, as the kernel saw them (strace, installed by the project's setup). */
async function kernelSyncs(
  folder: string,
  mode: 'durable' | 'plain',
): Promise<{ fsync: number; fdatasync: number }> {
  const trace = join(folder, `${mode}.strace`);
  const { stdout } = await run(
    'strace',
    [
      '-f',
      '--seccomp-bpf',
      '-qq',
      '-e',
      'trace=fsync,fdatasync',
      '-o',
      trace,
      process.execPath,
      '--import',
      'tsx',
      child,
      join(folder, mode),
      mode,
    ],
    { timeout: serviceStartDeadlineMs },
  );
  expect(stdout).toContain('committed');
  const lines = (await readFile(trace, 'utf8')).split('\n');
  // "1234  fdatasync(21) = 0": a completed call (an unfinished one is counted when it resumes).
  const count = (call: string) =>
    lines.filter((line) => new RegExp(`\\b${call}\\(\\d+\\)\\s+= 0`).test(line)).length;
  return { fsync: count('fsync'), fdatasync: count('fdatasync') };
}

const flushChild = fileURLToPath(new URL('./durable-fs-flush-child.test-helper.ts', import.meta.url));

/** Runs the flush child in `mode` on a new folder: its exit status and output, or 'hung' past the deadline. */
async function flushChildIn(folder: string, mode: string) {
  return run(process.execPath, ['--import', 'tsx', flushChild, folder, mode], {
    timeout: serviceStartDeadlineMs,
  }).then(
    ({ stdout, stderr }) => ({ code: 0 as number | string | undefined, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string; killed?: boolean }) => ({
      code: error.killed === true ? 'hung' : error.code,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }),
  );
}

/** What the folder holds when it is opened again (the restart's view). */
async function committedIn(folder: string): Promise<number[]> {
  const pglite = new PGlite({ fs: new DurableNodeFs(folder) });
  try {
    const { rows } = await pglite.query<{ id: number }>('SELECT id FROM payments ORDER BY id');
    return rows.map((row) => row.id);
  } finally {
    await pglite.close();
  }
}

describe('the disk failing under the embedded database', () => {
  const folders: { remove(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const folder of folders.splice(0)) await folder.remove();
  });

  /** The flush child in `mode` on a new folder: the folder, and how the child ended. */
  async function childIn(mode: string) {
    const folder = await temporaryFolder(`durable-fs-${mode}`);
    folders.push(folder);
    const db = join(folder.path, 'db');
    return { db, child: await flushChildIn(db, mode) };
  }

  it('a failed flush stops the process at once (status 74), naming the folder, the file and the cause; the commit before it is kept', async () => {
    const { db, child } = await childIn('flush-eio');
    expect(child.code).toBe(failedFlushExitStatus);
    expect(child.stdout).toContain('first committed');
    expect(child.stdout).not.toContain('second committed');
    expect(child.stderr).toMatch(
      new RegExp(
        `mpay: fatal: STORAGE_UNAVAILABLE: the embedded database in ${db} could not flush \\S*pg_wal\\S* to the disk \\(EIO: EIO: injected by the test\\)`,
      ),
    );
    // What the disk holds is what a restart recovers from: the first commit, flushed before the failure.
    expect(await committedIn(db)).toContain(1);
  });

  it('a write the disk refuses (full: ENOSPC) stops the process the same way once the engine gives up, never freezes it', async () => {
    const { db, child } = await childIn('write-enospc');
    expect(child.code).toBe(failedFlushExitStatus);
    expect(child.stdout).toContain('first committed');
    expect(child.stdout).not.toContain('second committed');
    expect(child.stderr).toContain(
      `mpay: fatal: STORAGE_UNAVAILABLE: the embedded database engine of ${db} stopped`,
    );
    expect(await committedIn(db)).toContain(1);
  });

  it('a directory flush the file system cannot do (EINVAL) is tolerated, as PostgreSQL does', async () => {
    const { db, child } = await childIn('directory-einval');
    expect(child).toMatchObject({ code: 0 });
    expect(child.stdout).toContain('second committed');
    // Directories were flushed meanwhile (a table created, a checkpoint), each refused, none fatal.
    expect(Number(/directory flushes refused: (\d+)/.exec(child.stdout)?.[1])).toBeGreaterThan(0);
    expect(await committedIn(db)).toEqual([1, 2]);
  });
});

describe('the embedded database’s folder is durable: a commit reaches the disk', () => {
  const folders: { remove(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const folder of folders.splice(0)) await folder.remove();
  });

  it('syncs the WAL at each commit, the data files at a checkpoint, and a directory after its files changed', async () => {
    const folder = await temporaryFolder('durable-fs');
    folders.push(folder);
    const fs = new DurableNodeFs(folder.path);
    const pglite = new PGlite({ fs });
    try {
      await pglite.waitReady;
      await pglite.exec('CREATE TABLE payments (id int PRIMARY KEY)');
      const before = { ...fs.syncs };
      for (let id = 0; id < 5; id += 1) await pglite.query('INSERT INTO payments VALUES ($1)', [id]);
      expect(fs.syncs.dataOnly - before.dataOnly).toBe(5);
      await pglite.transaction(async (tx) => {
        for (let id = 5; id < 10; id += 1) await tx.query('INSERT INTO payments VALUES ($1)', [id]);
      });
      // One transaction, one flush at its commit.
      expect(fs.syncs.dataOnly - before.dataOnly).toBe(6);
      // A read commits nothing and flushes nothing.
      await pglite.query('SELECT count(*) FROM payments');
      expect(fs.syncs.dataOnly - before.dataOnly).toBe(6);
      await pglite.exec('CHECKPOINT');
      expect(fs.syncs.files).toBeGreaterThan(before.files);
      await pglite.exec('CREATE TABLE refunds (id int)');
      await pglite.exec('CHECKPOINT');
      expect(fs.syncs.directories).toBeGreaterThan(before.directories);
    } finally {
      await pglite.close();
    }
  });

  it('the services’ own opening path is the durable one', async () => {
    const folder = await temporaryFolder('durable-open');
    folders.push(folder);
    const database = await openPglite({ dataDir: folder.path, schema: 'durable' });
    try {
      await database.query('CREATE TABLE payments (id int PRIMARY KEY)', []);
      await database.query('INSERT INTO payments VALUES ($1)', [1]);
      expect(database.durableSyncs?.dataOnly).toBeGreaterThan(0);
    } finally {
      await database.close();
    }
  });

  it('the kernel sees the syncs: none from PGlite as it comes, one fdatasync per commit at least from the durable folder', async () => {
    const folder = await temporaryFolder('durable-strace');
    folders.push(folder);
    const plain = await kernelSyncs(folder.path, 'plain');
    // PGlite 0.3 as it comes: not one sync, not even at its checkpoint on close. Should this start to fail,
    // PGlite has learnt to sync by itself and durable-fs.ts can be reconsidered.
    expect(plain).toEqual({ fsync: 0, fdatasync: 0 });
    const durable = await kernelSyncs(folder.path, 'durable');
    expect(durable.fdatasync).toBeGreaterThanOrEqual(21);
    expect(durable.fsync).toBeGreaterThan(0);
  });
});
