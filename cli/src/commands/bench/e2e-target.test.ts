import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { openTestDatabase, withPostgresBackendPid } from '@mpay/storage';
import { describe, expect, it } from 'vitest';
import { localPostgresServerPid, processTreeCpuMs } from './e2e-target.ts';

const serverUrl = process.env.DATABASE_URL || undefined;
/** Debian's PostgreSQL socket, when the server runs here: a URL that WHATWG URLs refuse but node-postgres reads. */
const socketFolder = '/var/run/postgresql';
const socketUrl = existsSync(`${socketFolder}/.s.PGSQL.5432`)
  ? `postgres://postgres@/test?host=${socketFolder}`
  : undefined;

describe('the database server’s CPU (mpay bench e2e on PostgreSQL)', () => {
  it('is not read for a server that is not on this machine, nor for a URL it cannot read', async () => {
    // A remote host's process ids mean nothing in this machine's /proc.
    expect(await localPostgresServerPid('postgres://postgres@db.example:5432/test')).toBeUndefined();
    expect(await localPostgresServerPid('postgres://postgres@10.0.0.7/test')).toBeUndefined();
    expect(await localPostgresServerPid('not a url')).toBeUndefined();
    expect(
      await localPostgresServerPid('postgres://postgres@db.example:5432/test?sslmode=require'),
    ).toBeUndefined();
  });

  it.runIf(serverUrl !== undefined)(
    'finds the local server’s main process, the parent of a session, and reads its tree’s CPU as it works',
    async () => {
      const url = serverUrl!;
      const pid = await localPostgresServerPid(url);
      expect(pid).toBeTypeOf('number');
      expect((await readFile(`/proc/${pid}/comm`, 'utf8')).trim()).toBe('postgres');
      // A session's backend is a child of it.
      await withPostgresBackendPid(url, async ({ pid: backend }) => {
        const stat = await readFile(`/proc/${backend}/stat`, 'utf8');
        expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])).toBe(pid);
      });
      const before = (await processTreeCpuMs(pid!, undefined))!;
      // Some hundreds of ms of the server's own CPU, in a session it forks for it, read while that
      // session still runs: a session that ends while /proc is walked can be missed (the figure's noise).
      const database = await openTestDatabase('bench');
      let after: number;
      try {
        await database.query('SELECT count(*) FROM generate_series(1, 3000000)');
        after = (await processTreeCpuMs(pid!, undefined))!;
      } finally {
        await database.close();
      }
      expect(after - before).toBeGreaterThan(100);
    },
  );

  it.runIf(serverUrl !== undefined && socketUrl !== undefined)(
    'finds the same server through its Unix socket',
    async () => {
      expect(await localPostgresServerPid(socketUrl!)).toBe(await localPostgresServerPid(serverUrl!));
    },
  );
});
