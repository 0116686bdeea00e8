import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { openTestDatabase, withPostgresBackendPid } from '@mpay/storage';
import { describe, expect, it } from 'vitest';
import {
  type CpuReading,
  localPostgresServerPid,
  namedProcessesCpuBetween,
  namedProcessesCpuMs,
  processTreeCpu,
} from './e2e-target.ts';

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
      const before = (await processTreeCpu(pid!, undefined))!;
      // Some hundreds of ms of the server's own CPU, in a session it forks for it, read while that
      // session still runs: a session that ends while /proc is walked can be missed (the figure's noise).
      const database = await openTestDatabase('bench');
      let after: CpuReading;
      try {
        await database.query('SELECT count(*) FROM generate_series(1, 3000000)');
        after = (await processTreeCpu(pid!, undefined))!;
      } finally {
        await database.close();
      }
      expect(after.ms - before.ms).toBeGreaterThan(100);
      // The part in the kernel is a part.
      expect(after.kernelMs - before.kernelMs).toBeGreaterThanOrEqual(0);
      expect(after.kernelMs - before.kernelMs).toBeLessThanOrEqual(after.ms - before.ms);
    },
  );

  it.runIf(serverUrl !== undefined && socketUrl !== undefined)(
    'finds the same server through its Unix socket',
    async () => {
      expect(await localPostgresServerPid(socketUrl!)).toBe(await localPostgresServerPid(serverUrl!));
    },
  );
});

describe('each service process’s CPU (mpay bench e2e --processes)', () => {
  /** Generous: a busy machine may take seconds to start a node process and run 300 ms of its CPU. */
  const busyChildDeadlineMs = 60_000;

  it('reads each named process’s tree apart, and knows none for one gone or restarted', async () => {
    // Says it is ready once started; once told (a line on its stdin), spends 300 ms of its own CPU (its
    // clock, not the wall's), says so, then waits to be stopped.
    const busy = spawn(
      process.execPath,
      [
        '-e',
        "process.stdin.once('data', () => { const start = process.cpuUsage(); while (process.cpuUsage(start).user < 300_000); console.log(JSON.stringify(process.cpuUsage(start))); }); console.log('ready');",
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    /** The child's next line on stdout, within the deadline. */
    const lineOf = (what: string) =>
      new Promise<string>((done, failed) => {
        const timer = setTimeout(
          () => failed(new Error(`the busy child did not say ${what} before its deadline`)),
          busyChildDeadlineMs,
        );
        busy.stdout.once('data', (line: Buffer) => {
          clearTimeout(timer);
          done(line.toString());
        });
      });
    try {
      // Its start (node's own CPU, in both user and kernel time) is over before the first reading:
      // on a busy machine it was not, and the window counted 70 ms of it (a CI run of 6 December).
      expect((await lineOf('it is ready')).trim()).toBe('ready');
      const before = await namedProcessesCpuMs({ busy: busy.pid, gone: 2 ** 22 + 1, unknown: undefined });
      const treeBefore = (await processTreeCpu(busy.pid!, undefined))!;
      expect(before.busy?.pid).toBe(busy.pid);
      // No process has that id (above Linux's pid_max): left out, as one not started.
      expect(Object.keys(before)).toEqual(['busy']);
      busy.stdin.write('go\n');
      // What the child says it spent: its loop asks the kernel for its CPU time at every turn, so
      // much of that is the kernel's (system), which /proc must show apart.
      const spent = JSON.parse(await lineOf('what it spent')) as { user: number; system: number };
      const after = await namedProcessesCpuMs({ busy: busy.pid, self: process.pid });
      const treeAfter = (await processTreeCpu(busy.pid!, undefined))!;
      const window = namedProcessesCpuBetween(before, after, ['busy', 'self']);
      // 300 ms, read in clock ticks (10 ms).
      expect(window.busy).toBeGreaterThanOrEqual(280);
      // The tree's reading splits it as the child does: each part within 5 clock ticks or a fifth of the
      // window, whichever is more (the window also holds the child's own work around its loop, its line
      // out and its idle turns, which a busy machine makes longer: two clocks, compared loosely).
      const kernelMs = treeAfter.kernelMs - treeBefore.kernelMs;
      const allMs = treeAfter.ms - treeBefore.ms;
      const toleranceMs = Math.max(50, allMs / 5);
      expect(Math.abs(kernelMs - spent.system / 1000)).toBeLessThan(toleranceMs);
      expect(Math.abs(allMs - kernelMs - spent.user / 1000)).toBeLessThan(toleranceMs);
      // Not in the first reading: not known, rather than all its CPU since it started.
      expect(window.self).toBeUndefined();
      // Restarted in between (another id): its CPU in the window is not known either.
      const restarted = { busy: { pid: busy.pid! + 1, ms: after.busy!.ms } };
      expect(namedProcessesCpuBetween(before, restarted, ['busy']).busy).toBeUndefined();
    } finally {
      busy.kill();
    }
  });
});
