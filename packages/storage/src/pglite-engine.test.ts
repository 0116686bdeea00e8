import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { temporaryFolder } from './data-folder/folders.test-helper.ts';
import type { Database } from './database.ts';
import { openPglite } from './pglite.ts';
import { newInMemoryPglite, pgliteEngine, pgliteSharedBuffers, withSharedBuffers } from './pglite-engine.ts';

const fixed = new TextEncoder().encode('\0asm…temp_buffers=8MB\0shared_buffers=128MB\0wal_buffers=4MB\0');

describe('PGlite’s engine as mpay runs it', () => {
  const opened: Database[] = [];
  const folders: { remove(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const database of opened.splice(0)) await database.close();
    for (const folder of folders.splice(0)) await folder.remove();
  });

  it('rewrites the fixed shared_buffers option in place, to the same length, NUL-padded', () => {
    const rewritten = withSharedBuffers(fixed, '32MB');
    expect(rewritten.length).toBe(fixed.length);
    expect(Buffer.from(rewritten).toString('latin1')).toBe(
      Buffer.from(fixed).toString('latin1').replace('shared_buffers=128MB\0', 'shared_buffers=32MB\0\0'),
    );
    // The bytes given are not changed.
    expect(Buffer.from(fixed).includes('shared_buffers=128MB')).toBe(true);
  });

  it('refuses a module without the option, or with it twice, and a size it cannot fit', () => {
    const twice = new Uint8Array([...fixed, ...fixed]);
    expect(() => withSharedBuffers(new TextEncoder().encode('\0asm shared_buffers=64MB\0'), '32MB')).toThrow(
      /no longer fixes shared_buffers=128MB once/,
    );
    expect(() => withSharedBuffers(twice, '32MB')).toThrow(/no longer fixes shared_buffers=128MB once/);
    // Only the option itself, between NULs: not a longer name that ends the same way.
    expect(() =>
      withSharedBuffers(new TextEncoder().encode('\0asm\0xshared_buffers=128MB\0'), '32MB'),
    ).toThrow(/no longer fixes shared_buffers=128MB once/);
    for (const size of ['1GB', '1024MB', '256MB', '0MB', '32', '', '32MB; fsync=off'])
      expect(() => withSharedBuffers(fixed, size)).toThrow(RangeError);
  });

  it('compiles the engine once per process', async () => {
    expect(await pgliteEngine()).toBe(await pgliteEngine());
  });

  it('starts in-memory databases after the first from a copy of a fresh cluster: each its own, and empty', async () => {
    const catalog = `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2`;
    const first = await newInMemoryPglite();
    const fresh = (await first.query(catalog)).rows;
    await first.exec('CREATE TABLE only_in_first (id int); INSERT INTO only_in_first VALUES (1)');
    const [second, third] = await Promise.all([newInMemoryPglite(), newInMemoryPglite()]);
    try {
      for (const later of [second!, third!]) {
        expect((await later.query(catalog)).rows).toEqual(fresh);
        await later.exec('CREATE TABLE t (id int PRIMARY KEY)');
      }
      await second!.exec('INSERT INTO t VALUES (2)');
      expect((await third!.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 0 }]);
      expect((await first.query('SELECT count(*)::int AS n FROM only_in_first')).rows).toEqual([{ n: 1 }]);
    } finally {
      for (const pglite of [first, second, third]) await pglite?.close();
    }
  });

  it('runs every database, in memory or in a folder, with its smaller pool', async () => {
    const memory = await openPglite({ schema: 'engine' });
    opened.push(memory);
    const folder = await temporaryFolder('engine');
    folders.push(folder);
    const persisted = await openPglite({ schema: 'engine', dataDir: join(folder.path, 'engine') });
    opened.push(persisted);
    for (const database of [memory, persisted]) {
      const { rows } = await database.query<{ shared_buffers: string }>('SHOW shared_buffers');
      expect(rows[0]?.shared_buffers).toBe(pgliteSharedBuffers);
    }
  });
});
