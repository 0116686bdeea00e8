import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { isMpayError, type MpayError } from '@mpay/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backgroundWorkDeadlineMs, waitFor } from '../../../../test/support/deadlines.ts';
import { readControlFile, verifyDataChecksums } from '../data-folder/checksums.ts';
import {
  copyFolder,
  heapFileOf,
  manualTimer,
  overwrite,
  recordingLog,
  temporaryFolder,
} from '../data-folder/folders.test-helper.ts';
import type { Database } from '../database.ts';
import { openDatabase } from '../open.ts';
import { createIntegritySettings, defaultIntegrityIntervalMs } from './options.ts';

const run = promisify(execFile);

/**
 * The case: 64 bytes overwritten in a data page made a customer's
 * account disappear, silently. Here the same damage (the page's item
 * pointers zeroed: its rows vanish from every scan) is a loud
 * STORAGE_CORRUPTED naming the folder, whether the page was damaged while
 * the service was stopped (the start check refuses to start) or while it
 * ran (the periodic check raises the alarm, /ready fails, every query is
 * refused), and the first read of the page fails with the same code even
 * with the checks off.
 */
let root: { path: string; remove(): Promise<void> };
/** Made by openDatabase: data checksums on. */
let withChecksums: string;
/** Made by PGlite alone, as every folder before this change: no data checksums. */
let withoutChecksums: string;
let open: Database | undefined;

const accountsSql = `
  CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance_minor bigint NOT NULL);
  INSERT INTO accounts SELECT g, 'customer-' || g || '@person.xbank', 100000 FROM generate_series(1, 60) AS g;`;

beforeAll(async () => {
  root = await temporaryFolder('storage-integrity');
  const database = await openDatabase({ dataDir: join(root.path, 'checksums'), schema: 'xbank' });
  await database.exec(accountsSql);
  await database.close();
  withChecksums = join(root.path, 'checksums', 'xbank');
  withoutChecksums = join(root.path, 'no-checksums', 'xbank');
  await mkdir(join(root.path, 'no-checksums'));
  const pglite = new PGlite(withoutChecksums);
  await pglite.exec(`CREATE SCHEMA xbank; SET search_path TO xbank; ${accountsSql}`);
  await pglite.close();
});
afterEach(async () => {
  await open?.close();
  open = undefined;
});
afterAll(async () => {
  await root?.remove();
});

async function copyOf(template: string, name: string): Promise<{ dataDir: string; folder: string }> {
  const dataDir = join(root.path, name);
  const folder = join(dataDir, 'xbank');
  await copyFolder(template, folder);
  return { dataDir, folder };
}

async function rejection(promise: Promise<unknown>): Promise<MpayError> {
  try {
    await promise;
  } catch (error) {
    if (isMpayError(error)) return error;
    throw error;
  }
  throw new Error('it did not fail');
}

/** The heap file of accounts, found while the folder is open without checks. */
async function accountsFile(dataDir: string, folder: string): Promise<string> {
  const { log } = recordingLog();
  const database = await openDatabase({ dataDir, schema: 'xbank', integrity: { checks: false, log } });
  try {
    return join(folder, await heapFileOf(database, 'accounts'));
  } finally {
    await database.close();
  }
}

/** The one alarm line of a database found damaged, with its one problem. */
function oneAlarm(folder: string, problem: RegExp): unknown[] {
  return [
    expect.objectContaining({
      code: 'STORAGE_CORRUPTED',
      folder,
      problems: [expect.stringMatching(problem)],
    }),
  ];
}

/** The page's item pointers start at byte 24, after its header: 64 zero bytes drop 16 rows. */
const itemPointersOffset = 24;

describe('data checksums', () => {
  it('are on in a new folder, written by PGlite on every page since', async () => {
    const { dataDir, folder } = await copyOf(withChecksums, 'new');
    open = await openDatabase({ dataDir, schema: 'xbank' });
    expect((await open.query('SHOW data_checksums')).rows).toEqual([{ data_checksums: 'on' }]);
    await open.exec('UPDATE accounts SET balance_minor = balance_minor - 1250 WHERE id % 3 = 0; CHECKPOINT');
    expect(open.integrity?.dataChecksums).toBe(true);
    expect(open.integrity?.lastReport).toMatchObject({ folder, dataChecksums: true, problems: [] });
    const scan = await verifyDataChecksums(folder);
    expect(scan.failureCount).toBe(0);
    expect(scan.pagesVerified).toBeGreaterThan(1000);
  });

  it('are missing in an older folder: a warning once at start says how to add them, and the folder is left as it was', async () => {
    const { dataDir, folder } = await copyOf(withoutChecksums, 'older');
    const timer = manualTimer();
    const { log, warnings, errors } = recordingLog();
    open = await openDatabase({ dataDir, schema: 'xbank', integrity: { log, timer } });
    expect(warnings).toEqual([
      expect.objectContaining({
        code: 'STORAGE_CHECKSUMS_OFF',
        folder,
        message: expect.stringContaining(`npx mpay storage enable-checksums ${folder}`),
      }),
    ]);
    expect((await open.query('SHOW data_checksums')).rows).toEqual([{ data_checksums: 'off' }]);
    timer.fire();
    await waitFor(() => open?.integrity?.lastReport !== undefined && timer.scheduled.length === 2, {
      deadlineMs: backgroundWorkDeadlineMs,
      what: 'the periodic check to end and the next to be scheduled',
    });
    expect(warnings).toHaveLength(1);
    expect(errors).toEqual([]);
    await open.close();
    open = undefined;
    expect((await readControlFile(folder)).control.dataChecksumVersion).toBe(0);
  });

  it('are added to an older folder by the migration the warning names, rows intact', async () => {
    const { dataDir, folder } = await copyOf(withoutChecksums, 'migrated');
    const { stdout } = await run(
      process.execPath,
      ['cli/bin/mpay.js', 'storage', 'enable-checksums', folder],
      { cwd: join(import.meta.dirname, '..', '..', '..', '..') },
    );
    expect(stdout).toMatch(new RegExp(`^${folder}: data checksums on \\(\\d+ pages\\)\\n$`));
    const { log, warnings } = recordingLog();
    open = await openDatabase({ dataDir, schema: 'xbank', integrity: { log } });
    expect(warnings).toEqual([]);
    expect((await open.query('SHOW data_checksums')).rows).toEqual([{ data_checksums: 'on' }]);
    expect(
      (await open.query('SELECT count(*)::int AS n, sum(balance_minor)::text AS total FROM accounts')).rows,
    ).toEqual([{ n: 60, total: '6000000' }]);
  });
});

describe('a damaged page', () => {
  it('damaged while stopped: the start fails with STORAGE_CORRUPTED naming the folder and the table', async () => {
    const { dataDir, folder } = await copyOf(withChecksums, 'stopped');
    await overwrite(await accountsFile(dataDir, folder), itemPointersOffset, new Uint8Array(64));
    const { log, errors } = recordingLog();
    const error = await rejection(openDatabase({ dataDir, schema: 'xbank', integrity: { log } }));
    expect(error.code).toBe('STORAGE_CORRUPTED');
    expect(error.detail).toMatch(
      new RegExp(
        `^the embedded database in ${folder} is damaged: page 0 of xbank\\.accounts \\(base/1/\\d+\\): checksum`,
      ),
    );
    expect(errors).toEqual([
      expect.objectContaining({ code: 'STORAGE_CORRUPTED', folder, problems: expect.any(Array) }),
    ]);
    // The engine agrees: the rows are not silently gone, the page cannot be read.
    expect(errors[0]?.problems?.join('\n')).toMatch(
      /invalid page in block 0 of relation base\/1\/\d+ \(SQLSTATE XX001\)/,
    );
  });

  it('damaged while stopped, checks off: the first read of it fails with STORAGE_CORRUPTED and fences the database', async () => {
    const { dataDir, folder } = await copyOf(withChecksums, 'first-read');
    await overwrite(await accountsFile(dataDir, folder), itemPointersOffset, new Uint8Array(64));
    const { log, errors } = recordingLog();
    open = await openDatabase({ dataDir, schema: 'xbank', integrity: { checks: false, log } });
    expect((await open.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    const error = await rejection(open.query('SELECT owner FROM accounts WHERE id = 7'));
    expect(error.code).toBe('STORAGE_CORRUPTED');
    expect(error.detail).toBe(`the embedded database "xbank" is damaged; the service's log names the pages`);
    expect(errors).toEqual(
      oneAlarm(folder, /^a query: invalid page in block 0 of relation base\/1\/\d+ \(SQLSTATE XX001\)$/),
    );
    // From now on nothing is served from this database, and its readiness check says so.
    expect((await rejection(open.query('SELECT 1 AS one'))).code).toBe('STORAGE_CORRUPTED');
    expect((await rejection(open.transaction(async (sql) => sql.query('SELECT 1')))).code).toBe(
      'STORAGE_CORRUPTED',
    );
    expect((await rejection(Promise.resolve(open.integrity?.readiness.check()))).code).toBe(
      'STORAGE_CORRUPTED',
    );
    expect(errors).toHaveLength(1);
  });

  it('damaged while running: the periodic check raises the alarm, the readiness check fails, every query is refused', async () => {
    const { dataDir, folder } = await copyOf(withChecksums, 'running');
    const timer = manualTimer();
    const { log, errors } = recordingLog();
    open = await openDatabase({ dataDir, schema: 'xbank', integrity: { log, timer, intervalMs: 60_000 } });
    expect(timer.scheduled.map((entry) => entry.delayMs)).toEqual([60_000]);
    await expect(open.integrity?.readiness.check()).resolves.toMatchObject({ problems: [] });
    const file = join(folder, await heapFileOf(open, 'accounts'));
    expect((await open.query('SELECT owner FROM accounts WHERE id = 7')).rows).toEqual([
      { owner: 'customer-7@person.xbank' },
    ]);
    await overwrite(file, itemPointersOffset, new Uint8Array(64));
    timer.fire();
    await waitFor(() => errors.length > 0, { deadlineMs: backgroundWorkDeadlineMs, what: 'the alarm' });
    expect(errors).toEqual([
      expect.objectContaining({
        code: 'STORAGE_CORRUPTED',
        folder,
        message: `the embedded database in ${folder} is damaged: the service stops using it; restore the folder from a backup`,
        problems: expect.arrayContaining([
          expect.stringMatching(/^page 0 of xbank\.accounts \(base\/1\/\d+\): checksum/),
        ]),
      }),
    ]);
    expect((await rejection(Promise.resolve(open.integrity?.readiness.check()))).code).toBe(
      'STORAGE_CORRUPTED',
    );
    expect((await rejection(open.query('SELECT owner FROM accounts WHERE id = 40'))).code).toBe(
      'STORAGE_CORRUPTED',
    );
    // No further check is scheduled once the database is fenced.
    expect(timer.scheduled).toHaveLength(1);
  });

  it('without data checksums: a damaged row is found by amcheck at start', async () => {
    const { dataDir, folder } = await copyOf(withoutChecksums, 'older-damaged');
    // The rows sit at the end of the page; 64 zero bytes there wreck the first rows' headers.
    await overwrite(await accountsFile(dataDir, folder), 8100, new Uint8Array(64));
    const { log } = recordingLog();
    const error = await rejection(openDatabase({ dataDir, schema: 'xbank', integrity: { log } }));
    expect(error.code).toBe('STORAGE_CORRUPTED');
    expect(error.detail).toMatch(
      new RegExp(
        `^the embedded database in ${folder} is damaged: table xbank\\.accounts, block 0, item \\d+: `,
      ),
    );
  });
});

describe('housekeeping: VACUUM (ANALYZE), which no autovacuum does in single-user PGlite', () => {
  it('that reads a damaged page raises the alarm and fences the database, as a query would', async () => {
    const { dataDir, folder } = await copyOf(withChecksums, 'vacuum-damaged');
    await overwrite(await accountsFile(dataDir, folder), itemPointersOffset, new Uint8Array(64));
    const timer = manualTimer();
    const { log, errors } = recordingLog();
    let now = Date.parse('2026-12-05T12:00:00Z');
    // The start's check off, so that the damage is still there for the round's VACUUM to meet.
    open = await openDatabase({
      dataDir,
      schema: 'xbank',
      integrity: { checks: false, log, timer, vacuumIntervalMs: 3_600_000, now: () => now },
    });
    now += 3_600_000;
    const refused = await rejection(Promise.resolve(open.integrity?.vacuum()));
    expect(refused.code).toBe('STORAGE_CORRUPTED');
    expect(errors).toEqual(
      oneAlarm(
        folder,
        /^VACUUM \(ANALYZE\): invalid page in block 0 of relation base\/1\/\d+ \(SQLSTATE XX001\)$/,
      ),
    );
    // Fenced: no query, no readiness, no VACUUM_FAILED line besides the alarm.
    expect((await rejection(open.query('SELECT 1 AS one'))).code).toBe('STORAGE_CORRUPTED');
    expect((await rejection(Promise.resolve(open.integrity?.readiness.check()))).code).toBe(
      'STORAGE_CORRUPTED',
    );
    expect(errors.map((entry) => entry.code)).toEqual(['STORAGE_CORRUPTED']);
  });

  it('runs in the periodic round once its interval has passed, not before, and gives the planner its statistics', async () => {
    const { dataDir } = await copyOf(withChecksums, 'vacuum');
    const timer = manualTimer();
    const { log, warnings, errors } = recordingLog();
    let now = Date.parse('2026-12-05T12:00:00Z');
    open = await openDatabase({
      dataDir,
      schema: 'xbank',
      integrity: { log, timer, intervalMs: 60_000, vacuumIntervalMs: 3_600_000, now: () => now },
    });
    await open.exec(
      "CREATE TABLE payments (id bigint PRIMARY KEY, state text NOT NULL); INSERT INTO payments SELECT g, 'asked' FROM generate_series(1, 500) AS g; UPDATE payments SET state = 'paid'",
    );
    // Never vacuumed nor analysed: PostgreSQL knows no row count (-1).
    const reltuples = async () =>
      (
        await open!.query<{ n: number }>(
          "SELECT reltuples::int AS n FROM pg_class WHERE relname = 'payments'",
        )
      ).rows[0]?.n;
    expect(await reltuples()).toBe(-1);
    // A round before the interval: the check runs, no VACUUM.
    now += 3_599_000;
    timer.fire();
    await waitFor(() => timer.scheduled.length === 2, {
      deadlineMs: backgroundWorkDeadlineMs,
      what: 'the first round to end',
    });
    expect(open.integrity?.lastVacuum).toBeUndefined();
    expect(await reltuples()).toBe(-1);
    // The next round, past the hour: VACUUM (ANALYZE) of every table, then the next round is scheduled.
    now += 60_000;
    timer.fire();
    await waitFor(() => timer.scheduled.length === 3, {
      deadlineMs: backgroundWorkDeadlineMs,
      what: 'the round with the VACUUM to end',
    });
    expect(open.integrity?.lastVacuum).toEqual({ at: now, durationMs: expect.any(Number) });
    expect(await reltuples()).toBe(500);
    expect(errors).toEqual([]);
    expect(warnings.filter((entry) => entry.code === 'STORAGE_VACUUM_SLOW')).toEqual([]);
    // Due again an hour after that one, not at the next round.
    const first = open.integrity?.lastVacuum;
    now += 60_000;
    timer.fire();
    await waitFor(() => timer.scheduled.length === 4, {
      deadlineMs: backgroundWorkDeadlineMs,
      what: 'the round after the VACUUM to end',
    });
    expect(open.integrity?.lastVacuum).toBe(first);
  });

  it('is refused out of bounds, and 0 turns it off', () => {
    expect(createIntegritySettings().vacuumIntervalMs).toBe(3_600_000);
    expect(createIntegritySettings({ vacuumIntervalMs: 0 }).vacuumIntervalMs).toBe(0);
    for (const vacuumIntervalMs of [59_999, 1.5, 604_800_001, -1, Number.NaN])
      expect(() => createIntegritySettings({ vacuumIntervalMs })).toThrow(
        'storage integrity: vacuumIntervalMs must be 0 or an integer in 60000..604800000',
      );
  });
});

describe('the options', () => {
  it('take a named, validated interval (ten minutes by default), refused before the folder is touched', async () => {
    expect(createIntegritySettings().intervalMs).toBe(defaultIntegrityIntervalMs);
    expect(defaultIntegrityIntervalMs).toBe(600_000);
    for (const intervalMs of [999, 1_500.5, 86_400_001, Number.NaN]) {
      expect(() => createIntegritySettings({ intervalMs })).toThrow(RangeError);
    }
    const dataDir = join(root.path, 'never-made');
    await expect(openDatabase({ dataDir, schema: 'xbank', integrity: { intervalMs: 10 } })).rejects.toThrow(
      'storage integrity: intervalMs must be an integer in 1000..86400000',
    );
    await expect(readFile(join(dataDir, 'xbank', 'PG_VERSION'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
