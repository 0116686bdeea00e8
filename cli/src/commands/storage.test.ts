import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMpay } from './io.test-helper.ts';

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-storage-command-'));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function mpay(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { status, stdout, stderr } = await runMpay(argv);
  return { code: status, stdout, stderr };
}

describe('mpay storage', () => {
  it('shows each folder, refuses to rewrite one in use, and leaves it alone', async () => {
    const database = await openDatabase({ dataDir, schema: 'xbank', integrity: false });
    try {
      const status = await mpay('storage', 'status', '--data', dataDir, '--json');
      expect(status.code).toBe(0);
      const folders = JSON.parse(status.stdout) as { folder: string; database: boolean }[];
      expect(folders.map((entry) => entry.folder)).toContain(join(dataDir, 'gateway'));
      expect(folders.find((entry) => entry.folder === join(dataDir, 'xbank'))).toMatchObject({
        database: true,
        dataChecksums: true,
        heldBy: { pid: process.pid },
      });
      expect(folders.find((entry) => entry.folder === join(dataDir, 'gateway'))).toEqual({
        folder: join(dataDir, 'gateway'),
        database: false,
      });

      const refused = await mpay('storage', 'enable-checksums', join(dataDir, 'xbank'));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        `mpay: STORAGE_UNAVAILABLE: The database cannot be opened: its folder is missing, read-only, in use by another process, not a database or damaged. (cannot open the embedded database in ${join(dataDir, 'xbank')}: it is in use by this process`,
      );
      await database.query('SELECT 1');
    } finally {
      await database.close();
    }
    const done = await mpay('storage', 'enable-checksums', join(dataDir, 'xbank'), join(dataDir, 'ybank'));
    expect(done.stdout).toBe(
      `${join(dataDir, 'xbank')}: data checksums are already on\n${join(dataDir, 'ybank')}: no database here, nothing to do\n`,
    );
    const text = await mpay('storage', 'status', '--data', dataDir);
    expect(text.stdout).toContain(
      `${join(dataDir, 'xbank')}: data checksums on, state "shut down", not in use`,
    );
  });

  it('refuses an unknown subcommand', async () => {
    const result = await mpay('storage', 'defrag');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('mpay storage: unknown subcommand defrag');
  });
});
