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

describe('a flush that fails', () => {
  it('stops the process at once with status 74, naming the folder, the file and the cause; the commit before it is kept', async () => {
    const folder = await temporaryFolder('durable-fs-flush');
    try {
      const child = await run(process.execPath, ['--import', 'tsx', flushChild, join(folder.path, 'db')], {
        timeout: serviceStartDeadlineMs,
      }).then(
        () => ({ code: 0, stdout: '', stderr: '' }),
        (error: { code?: number; stdout?: string; stderr?: string; killed?: boolean }) => ({
          code: error.killed === true ? 'killed (hung)' : error.code,
          stdout: error.stdout ?? '',
          stderr: error.stderr ?? '',
        }),
      );
      expect(child.code).toBe(failedFlushExitStatus);
      expect(child.stdout).toContain('first committed');
      expect(child.stdout).not.toContain('second committed');
      expect(child.stderr).toMatch(
        new RegExp(
          `mpay: fatal: STORAGE_UNAVAILABLE: the embedded database in ${join(folder.path, 'db')} could not flush \\S*pg_wal\\S* to the disk \\(EIO: EIO: i/o error, fdatasync\\)`,
        ),
      );
      // What the disk holds is what a restart recovers from: the first commit, flushed before the failure.
      const pglite = new PGlite({ fs: new DurableNodeFs(join(folder.path, 'db')) });
      try {
        const { rows } = await pglite.query<{ id: number }>('SELECT id FROM payments ORDER BY id');
        expect(rows.map((row) => row.id)).toContain(1);
      } finally {
        await pglite.close();
      }
    } finally {
      await folder.remove();
    }
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
