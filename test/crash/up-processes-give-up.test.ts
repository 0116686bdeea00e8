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
 * `mpay up --processes` starts a service again when it dies by itself, up to 5 times within any 10
 * minutes (cli/src/platform/crash-budget.ts); a service that crashes more often stops the whole
 * platform, and the command exits 1, so that whatever runs it sees a failed platform rather than one
 * serving without that service. Here the witness is killed six times in a row, each time once it is
 * up again. On the embedded database in a temporary folder, whatever DATABASE_URL says: the test is
 * about the supervisor.
 */
const kills = 6;

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
    'starts the witness again 5 times within 10 minutes, then stops the platform and exits 1',
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'mpay-give-up-'));
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.DATABASE_URL;
      delete env.MPAY_DATA_DIR;
      for (const [name, port] of Object.entries(await freePlatformPorts())) env[name] = String(port);
      const up = startMpay(['up', '--processes', '--data', dataDir], env);
      const supervisor = up.child.pid as number;
      const detail = () => `stdout:\n${up.stdout().slice(-4000)}\nstderr:\n${up.stderr().slice(-4000)}`;
      const upAgain = () => (up.stdout().match(/mpay: witness is up again/g) ?? []).length;
      try {
        await waitFor(() => up.stdout().includes('Ctrl-C stops.'), {
          deadlineMs: platformStartDeadlineMs,
          what: 'mpay up --processes to be up',
          detail,
        });
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
        expect(up.stdout()).toContain('mpay: starting witness again (5 of 5 within 10 minutes)');
        expect(up.stderr()).toContain(
          'mpay: witness crashed more than 5 times within 10 minutes: stopping the platform',
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
