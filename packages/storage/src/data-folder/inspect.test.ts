import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMpayError } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../open.ts';
import { copyFolder, makeReadOnly, overwrite, recordingLog, temporaryFolder } from './folders.test-helper.ts';

/**
 * Each way a data folder can be unusable fails the start with
 * STORAGE_UNAVAILABLE, naming the folder and the cause, instead of PGlite's
 * `RuntimeError: unreachable` or `Aborted()` (what each of these gave before:
 * a file in place of the folder and a foreign folder `ExitStatus: exit(1)`,
 * read-only `RuntimeError: unreachable`, a damaged control file, another
 * version or a missing log `Aborted()`, all without the folder's name).
 */
let root: { path: string; remove(): Promise<void> };
/** A database made once (the slow part: PGlite's initdb), copied for each case. */
let template: string;

beforeAll(async () => {
  root = await temporaryFolder('storage-open');
  const database = await openDatabase({ dataDir: join(root.path, 'template'), schema: 'xbank' });
  await database.exec('CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL)');
  await database.close();
  template = join(root.path, 'template', 'xbank');
});
afterAll(async () => {
  await root?.remove();
});

/** A copy of the template as `<root>/<name>/xbank`, the data folder of schema xbank under dataDir `<root>/<name>`. */
async function copyOfTemplate(name: string): Promise<{ dataDir: string; folder: string }> {
  const dataDir = join(root.path, name);
  const folder = join(dataDir, 'xbank');
  await copyFolder(template, folder);
  return { dataDir, folder };
}

async function openFailure(dataDir: string): Promise<{ code: string; detail: string }> {
  const { log } = recordingLog();
  try {
    const database = await openDatabase({ dataDir, schema: 'xbank', integrity: { log } });
    await database.close();
  } catch (error) {
    if (!isMpayError(error)) throw error;
    return { code: error.code, detail: error.detail ?? '' };
  }
  throw new Error(`${dataDir} opened`);
}

describe('opening an unusable data folder', () => {
  it('names a file where the folder should be', async () => {
    const dataDir = join(root.path, 'file');
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'xbank'), 'not a database');
    expect(await openFailure(dataDir)).toEqual({
      code: 'STORAGE_UNAVAILABLE',
      detail: `cannot open the embedded database in ${join(dataDir, 'xbank')}: the path is not a folder: a file is in its place (ENOTDIR)`,
    });
  });

  it('names a folder that is not a PGlite folder, and leaves it as it was', async () => {
    const dataDir = join(root.path, 'foreign');
    await mkdir(join(dataDir, 'xbank'), { recursive: true });
    await writeFile(join(dataDir, 'xbank', 'notes.txt'), 'my notes');
    expect(await openFailure(dataDir)).toEqual({
      code: 'STORAGE_UNAVAILABLE',
      detail: `cannot open the embedded database in ${join(dataDir, 'xbank')}: the folder is not a PGlite data folder: it has no PG_VERSION but holds notes.txt`,
    });
    expect(await readdir(join(dataDir, 'xbank'))).toEqual(['notes.txt']);
  });

  it('names another PostgreSQL version', async () => {
    const { dataDir, folder } = await copyOfTemplate('version');
    await writeFile(join(folder, 'PG_VERSION'), '16\n');
    expect(await openFailure(dataDir)).toEqual({
      code: 'STORAGE_UNAVAILABLE',
      detail: `cannot open the embedded database in ${folder}: the folder was made by PostgreSQL 16; this PGlite runs PostgreSQL 17`,
    });
  });

  it('names a damaged or missing control file', async () => {
    const damaged = await copyOfTemplate('control-damaged');
    await overwrite(join(damaged.folder, 'global', 'pg_control'), 40, new Uint8Array(64).fill(0x5a));
    expect(await openFailure(damaged.dataDir)).toEqual({
      code: 'STORAGE_UNAVAILABLE',
      detail: `cannot open the embedded database in ${damaged.folder}: the folder is damaged: global/pg_control is damaged: its CRC does not match its contents`,
    });
    const missing = await copyOfTemplate('control-missing');
    await rm(join(missing.folder, 'global', 'pg_control'));
    expect(await openFailure(missing.dataDir)).toEqual({
      code: 'STORAGE_UNAVAILABLE',
      detail: `cannot open the embedded database in ${missing.folder}: the folder is damaged: global/pg_control does not exist (ENOENT)`,
    });
  });

  it('names the folder when PGlite itself stops (its write-ahead log gone), with what PGlite said', async () => {
    const { dataDir, folder } = await copyOfTemplate('wal');
    for (const name of await readdir(join(folder, 'pg_wal'))) {
      if (/^[0-9A-F]{24}$/.test(name)) await rm(join(folder, 'pg_wal', name));
    }
    const failure = await openFailure(dataDir);
    expect(failure.code).toBe('STORAGE_UNAVAILABLE');
    expect(failure.detail).toMatch(
      new RegExp(
        `^cannot open the embedded database in ${folder}: PGlite stopped while starting \\(RuntimeError: .+\\): the folder is damaged or was not written by PGlite 0\\.3; restore it from a backup$`,
      ),
    );
  });

  it('names a read-only folder', async (context) => {
    const { dataDir, folder } = await copyOfTemplate('read-only');
    const readOnly = await makeReadOnly(folder);
    if ('unavailable' in readOnly)
      return context.skip(`cannot make a folder read-only here (${readOnly.unavailable})`);
    try {
      const failure = await openFailure(dataDir);
      // Root meets the read-only mount (EROFS); another user its missing write permission (EACCES).
      expect(failure).toEqual({
        code: 'STORAGE_UNAVAILABLE',
        detail:
          readOnly.how === 'read-only bind mount'
            ? `cannot open the embedded database in ${folder}: the folder is read-only (EROFS)`
            : `cannot open the embedded database in ${folder}: the folder is not writable by this user (EACCES)`,
      });
    } finally {
      await readOnly.undo();
    }
  });

  it('names a read-only parent when the folder is new', async (context) => {
    const dataDir = join(root.path, 'read-only-parent');
    await mkdir(dataDir);
    const readOnly = await makeReadOnly(dataDir);
    if ('unavailable' in readOnly)
      return context.skip(`cannot make a folder read-only here (${readOnly.unavailable})`);
    try {
      const failure = await openFailure(dataDir);
      expect(failure.code).toBe('STORAGE_UNAVAILABLE');
      expect(failure.detail).toBe(
        `cannot open the embedded database in ${join(dataDir, 'xbank')}: its parent folder ${dataDir} is ${
          readOnly.how === 'read-only bind mount' ? 'read-only (EROFS)' : 'not writable by this user (EACCES)'
        }`,
      );
    } finally {
      await readOnly.undo();
    }
    expect(await readdir(dataDir)).toEqual([]);
  });
});
