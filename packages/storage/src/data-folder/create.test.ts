import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../open.ts';
import { readControlFile } from './checksums.ts';
import { createDataFolder, forgetNewClusterTemplate } from './create.ts';
import { temporaryFolder } from './folders.test-helper.ts';

let root: { path: string; remove(): Promise<void> };

beforeAll(async () => {
  root = await temporaryFolder('storage-create');
  // This worker may have made a folder for another file within the minute: start from initdb.
  forgetNewClusterTemplate();
});
afterAll(async () => {
  await root?.remove();
});

/** Every file and folder under `folder`, relative, with its permission bits and (files) its bytes' SHA-256. */
async function treeOf(folder: string): Promise<Map<string, { mode: number; sha256?: string }>> {
  const tree = new Map<string, { mode: number; sha256?: string }>();
  const walk = async (relative: string): Promise<void> => {
    for (const entry of await readdir(join(folder, relative), { withFileTypes: true })) {
      const path = join(relative, entry.name);
      const mode = (await stat(join(folder, path))).mode & 0o7777;
      if (entry.isDirectory()) {
        tree.set(`${path}/`, { mode });
        await walk(path);
      } else
        tree.set(path, {
          mode,
          sha256: createHash('sha256')
            .update(await readFile(join(folder, path)))
            .digest('hex'),
        });
    }
  };
  await walk('');
  return tree;
}

describe('a new data folder', () => {
  it('after the first of a process, is written from that first new cluster: the same files, each folder its own', async () => {
    const first = join(root.path, 'first');
    const second = join(root.path, 'second');
    await createDataFolder(first);
    const made = await treeOf(first);
    await createDataFolder(second);

    // Byte for byte the cluster initdb made (with checksums on), with the same permissions: a
    // copy, not a second initdb, whose control file would hold another system identifier.
    expect(await treeOf(second)).toEqual(made);
    expect(made.size).toBeGreaterThan(100);
    expect((await readControlFile(second)).control.dataChecksumVersion).toBe(1);

    // Each opens as a database of its own: a table made in one is not in the other.
    const a = await openDatabase({ dataDir: root.path, schema: 'first' });
    const b = await openDatabase({ dataDir: root.path, schema: 'second' });
    try {
      await a.exec('CREATE TABLE accounts (id bigint PRIMARY KEY); INSERT INTO accounts VALUES (1)');
      const seen = await b.query<{ found: string | null }>(
        "SELECT to_regclass('second.accounts')::text AS found",
      );
      expect(seen.rows).toEqual([{ found: null }]);
      await b.exec('CREATE TABLE accounts (id bigint PRIMARY KEY)');
      expect((await b.query('SELECT * FROM accounts')).rows).toEqual([]);
      expect((await a.query('SELECT id::text FROM accounts')).rows).toEqual([{ id: '1' }]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('made from the first cluster after that one was opened and written to, holds none of it', async () => {
    const third = join(root.path, 'third');
    await createDataFolder(third);
    const database = await openDatabase({ dataDir: root.path, schema: 'third' });
    try {
      const tables = await database.query<{ count: string }>(
        "SELECT count(*)::text AS count FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
      );
      expect(tables.rows).toEqual([{ count: '0' }]);
    } finally {
      await database.close();
    }
  });
});
