import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serviceStartDeadlineMs, waitFor } from '../../../test/support/deadlines.ts';
import { processStartTicks } from '../platform/tls.ts';
import { runMpay } from './io.test-helper.ts';
import { platformInstitutions } from './pki-platform.ts';

let dataDir: string;

const run = (...argv: string[]) => runMpay([...argv, '--data', dataDir]);

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-cli-pki-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('mpay pki', () => {
  it('init creates the CA and a certificate per service of the platform, and keeps them the second time', async () => {
    const first = await run('pki', 'init', '--json');
    expect(first.status).toBe(0);
    const report = JSON.parse(first.stdout) as { caCreated: boolean; services: { action: string }[] };
    expect(report.caCreated).toBe(true);
    const serviceCount = platformInstitutions.reduce((sum, entry) => sum + entry.services.length, 0);
    expect(report.services).toHaveLength(serviceCount);
    expect((await stat(join(dataDir, 'pki', 'ca.key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'pki', 'xbank', 'bank.key.pem'))).mode & 0o777).toBe(0o600);

    const second = await run('pki', 'init');
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('CA kept');
    expect(second.stdout).toContain('xbank/bank: kept');
  });

  it('list shows subject, names, not-after and days left; issue adds a service with its host', async () => {
    await run('pki', 'init');
    const issued = await run('pki', 'issue', 'xbank', 'api', '--host', 'api.xbank.example');
    expect(issued.status).toBe(0);
    const listed = await run('pki', 'list');
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(
      /xbank\/api {2}\S+api\.cert\.pem\n {2}subject: {3}O=xbank, OU=api, CN=api\.xbank\n/,
    );
    expect(listed.stdout).toContain('names:     DNS:localhost, DNS:api.xbank.example, IP Address:127.0.0.1');
    expect(listed.stdout).toMatch(/not after: \d{4}-\d\d-\d\dT[\d:.]+Z \(8\d days left\)/);
    const json = JSON.parse((await run('pki', 'list', '--json')).stdout) as {
      role: string;
      daysLeft: number;
    }[];
    expect(json[0]).toMatchObject({ role: 'ca' });
    expect(json.filter((entry) => entry.role === 'service').length).toBeGreaterThan(5);
  });

  it('rotate reissues every service certificate and keeps the CA', async () => {
    await run('pki', 'init');
    const serialOf = async (path: string) => new X509Certificate(await readFile(path, 'utf8')).serialNumber;
    const ca = await serialOf(join(dataDir, 'pki', 'ca.cert.pem'));
    const bank = await serialOf(join(dataDir, 'pki', 'xbank', 'bank.cert.pem'));
    const rotated = await run('pki', 'rotate');
    expect(rotated.status).toBe(0);
    expect(rotated.stdout).toContain('xbank/bank: reissued (rotate)');
    expect(await serialOf(join(dataDir, 'pki', 'ca.cert.pem'))).toBe(ca);
    expect(await serialOf(join(dataDir, 'pki', 'xbank', 'bank.cert.pem'))).not.toBe(bank);
    // No platform has run from this folder: nothing to tell.
    expect(rotated.stdout).toContain(
      `not reloaded (no deployment.json in ${dataDir}): a platform uses the new certificates from its next start`,
    );
  });

  it('rotate sends SIGHUP to the mpay up running from the folder, and to nothing else', async () => {
    await run('pki', 'init');
    const deployment = (pid: number | undefined, tls = true, pidStartTicks?: string) =>
      writeFile(
        join(dataDir, 'deployment.json'),
        JSON.stringify({
          gateway: 'https://127.0.0.1:1',
          banks: [],
          pid,
          ...(pidStartTicks === undefined ? {} : { pidStartTicks }),
          ...(tls ? { tls: { ca: 'x' } } : {}),
        }),
      );
    // A stand-in for `mpay up` (its command line names mpay and up): says "ready", then "reload" on SIGHUP.
    const upLike = spawn(
      process.execPath,
      [
        '-e',
        "process.on('SIGHUP', () => { process.stdout.write('reload\\n'); process.exit(0); }); process.stdout.write('ready\\n'); setInterval(() => undefined, 1000);",
        'mpay',
        'up',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      let output = '';
      const saw = (what: string) =>
        waitFor(async () => (output.includes(what) ? true : undefined), {
          deadlineMs: serviceStartDeadlineMs,
          what: `the stand-in process to print ${what}`,
          detail: () => output,
        });
      upLike.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      await saw('ready');
      const pid = upLike.pid ?? 0;

      await deployment(pid, false);
      expect((await run('pki', 'rotate')).stdout).toContain(
        `not reloaded (the platform of ${dataDir} ran without TLS)`,
      );
      await deployment(pid);
      expect((await run('pki', 'rotate', '--no-reload')).stdout).toContain('not reloaded (--no-reload)');
      // This test's own process is alive but is not `mpay up`.
      await deployment(process.pid);
      expect((await run('pki', 'rotate')).stdout).toContain(`pid ${process.pid} is not mpay up`);

      // The pid of a platform that stopped, now another process's: its start time differs.
      await deployment(pid, true, '1');
      expect((await run('pki', 'rotate')).stdout).toContain(`pid ${pid} is another process now`);

      await deployment(pid, true, await processStartTicks(pid));
      const rotated = await run('pki', 'rotate', '--json');
      expect(rotated.status).toBe(0);
      expect((JSON.parse(rotated.stdout) as { reload: unknown }).reload).toEqual({ signalled: true, pid });
      await saw('reload');
      const exited = upLike.exitCode !== null ? Promise.resolve() : once(upLike, 'exit');
      await exited;
      // Gone now: the next rotation finds no process.
      expect((await run('pki', 'rotate')).stdout).toContain(`not reloaded (no process ${pid} runs`);
    } finally {
      upLike.kill('SIGKILL');
    }
  });

  it('says clearly when the folder is missing or damaged, and refuses bad names and options', async () => {
    const missing = await run('pki', 'list');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(
      `mpay: PKI_INVALID: The deployment's certificate folder is missing, incomplete or damaged; the detail names the file. (${join(dataDir, 'pki')}: missing (run \`mpay pki init\`))\n`,
    );
    await run('pki', 'init');
    await writeFile(join(dataDir, 'pki', 'ca.cert.pem'), 'not a certificate');
    const damaged = await run('pki', 'rotate');
    expect(damaged.status).toBe(1);
    expect(damaged.stderr).toContain(`PKI_INVALID`);
    expect(damaged.stderr).toContain(`${join(dataDir, 'pki', 'ca.cert.pem')}: not a PEM certificate`);

    expect((await run('pki', 'issue', 'X Bank', 'bank')).stderr).toMatch(/institution id "X Bank"/);
    expect((await run('pki', 'issue', 'xbank', 'bank', '--host', 'a b')).status).toBe(2);
    expect((await run('pki', 'frobnicate')).status).toBe(2);
    expect((await run('pki', 'list', '--force')).stderr).toMatch(/unknown option --force/);
  });
});
