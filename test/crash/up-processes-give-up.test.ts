import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProcStat } from '@mpay/http-server';
import { describe, expect, it } from 'vitest';
import {
  platformStartDeadlineMs,
  processExitDeadlineMs,
  serviceStartDeadlineMs,
  testTimeoutMs,
  waitFor,
  within,
} from '../support/deadlines.ts';
import { freePlatformPorts, startMpay } from './platform-process.ts';

/**
 * `mpay up --processes` starts a service again when it dies by itself, up to `--restarts` times
 * within any `--restart-window` minutes (cli/src/platform/crash-budget.ts; 5 within 10 by default);
 * a service that crashes more often stops the whole platform, and the command exits 1, so that
 * whatever runs it sees a failed platform rather than one serving without that service. The first
 * restart is at once, the later ones after a pause that doubles from 1 s. Here, with a budget of 3
 * within 2 minutes, the witness is killed four times in a row, each time once it is up again. On the
 * embedded database in a temporary folder, whatever DATABASE_URL says: the test is about the
 * supervisor.
 */
const restarts = 3;
const kills = restarts + 1;

/** The witness's process under the supervisor: its child whose command line ends with `witness`. */
async function witnessPid(supervisor: number): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const stat = parseProcStat(await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => ''));
    if (stat?.ppid !== supervisor) continue;
    // A process killed and not yet reaped has no command line any more.
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (args.filter((arg) => arg !== '').at(-1) === 'witness') return Number(entry);
  }
  return undefined;
}

describe.runIf(process.platform === 'linux')('mpay up --processes and a service that keeps crashing', () => {
  it(
    'starts the witness again 3 times within 2 minutes (at once, then after 1 s and 2 s), then stops the platform and exits 1',
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'mpay-give-up-'));
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.DATABASE_URL;
      delete env.MPAY_DATA_DIR;
      for (const [name, port] of Object.entries(await freePlatformPorts())) env[name] = String(port);
      const up = startMpay(
        ['up', '--processes', '--restarts', String(restarts), '--restart-window', '2', '--data', dataDir],
        env,
      );
      const supervisor = up.child.pid as number;
      const detail = () => `stdout:\n${up.stdout().slice(-4000)}\nstderr:\n${up.stderr().slice(-4000)}`;
      const upAgain = () => (up.stdout().match(/mpay: witness is up again/g) ?? []).length;
      try {
        // An mpay that exits instead (wrong arguments) fails the test at once, with its output.
        await waitFor(
          () => {
            if (up.child.exitCode !== null)
              throw new Error(`mpay up exited (${up.child.exitCode}): ${detail()}`);
            return up.stdout().includes('Ctrl-C stops.');
          },
          {
            deadlineMs: platformStartDeadlineMs,
            what: 'mpay up --processes to be up',
            detail,
          },
        );
        for (let kill = 1; kill <= kills; kill += 1) {
          const pid = await waitFor(() => witnessPid(supervisor), {
            deadlineMs: serviceStartDeadlineMs,
            what: `the witness's process before kill ${kill}`,
            detail,
          });
          process.kill(pid, 'SIGKILL');
          if (kill === kills) break;
          await waitFor(() => upAgain() >= kill, {
            deadlineMs: serviceStartDeadlineMs,
            what: `the witness up again after kill ${kill}`,
            detail,
          });
        }
        const code = await within(up.exited, {
          deadlineMs: 5 * processExitDeadlineMs,
          what: 'the supervisor to give up on the witness and exit',
        });
        expect(code, detail()).toBe(1);
        expect(upAgain()).toBe(kills - 1);
        expect(up.stdout()).toContain('mpay: starting witness again (1 of 3 within 2 minutes)');
        expect(up.stdout()).toContain('mpay: starting witness again in 1 s (2 of 3 within 2 minutes)');
        expect(up.stdout()).toContain('mpay: starting witness again in 2 s (3 of 3 within 2 minutes)');
        expect(up.stderr()).toContain(
          'mpay: witness crashed more than 3 times within 2 minutes: stopping the platform',
        );
        // Its services went with it (each exits when its channel to the supervisor closes).
        expect(await witnessPid(supervisor)).toBeUndefined();
      } finally {
        await up.interrupt(5 * processExitDeadlineMs);
        await rm(dataDir, { recursive: true, force: true });
      }
    },
    testTimeoutMs + platformStartDeadlineMs + kills * serviceStartDeadlineMs,
  );
});
