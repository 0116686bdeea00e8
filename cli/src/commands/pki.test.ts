import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createUnconstrainedCa } from '../../../packages/pki/src/forge.test-helper.ts';
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
    // A permit that would all but undo the constraints is refused, and makes nothing.
    for (const wide of ['com', '0.0.0.0/0', '::/0']) {
      const refused = await run('pki', 'init', '--permit', wide);
      expect(refused.status, wide).toBe(2);
      expect(refused.stderr).toContain(`--permit ${JSON.stringify(wide)}`);
    }
    expect((await run('pki', 'init', '--permit', 'xbank.example', '--permit', '10.1.0.0/16')).status).toBe(0);
    const issued = await run('pki', 'issue', 'xbank', 'api', '--host', 'api.xbank.example');
    expect(issued.status).toBe(0);
    const listed = await run('pki', 'list');
    expect(listed.status).toBe(0);
    expect(listed.stdout).toContain(
      'permits:   DNS:localhost, DNS:xbank.example, IP:127.0.0.0/8, IP:::1/128, IP:10.1.0.0/16 (name-constrained)',
    );
    expect(listed.stdout).toMatch(
      /xbank\/api {2}\S+api\.cert\.pem\n {2}subject: {3}O=xbank, OU=api, CN=api\.xbank\n/,
    );
    expect(listed.stdout).toContain('names:     DNS:localhost, DNS:api.xbank.example, IP Address:127.0.0.1');
    expect(listed.stdout).toMatch(/not after: \d{4}-\d\d-\d\dT[\d:.]+Z \(8\d days left\)/);
    const json = JSON.parse((await run('pki', 'list', '--json')).stdout) as {
      role: string;
      daysLeft: number;
    }[];
    expect(json[0]).toMatchObject({
      role: 'ca',
      nameConstraints: { permitted: expect.arrayContaining(['DNS:xbank.example']), excluded: [] },
    });
    expect(json.filter((entry) => entry.role === 'service').length).toBeGreaterThan(5);
  });

  it('issue refuses a host the CA does not permit, before reading its key; list says whether the CA is constrained', async () => {
    await run('pki', 'init');
    const refused = await run('pki', 'issue', 'xbank', 'api', '--host', 'www.example.org');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(
      `PKI_INVALID: The deployment's certificate folder is missing, incomplete or damaged; the detail names the file. (${join(dataDir, 'pki', 'ca.cert.pem')}: its name constraints do not permit DNS:www.example.org (it permits DNS:localhost, IP:127.0.0.0/8, IP:::1/128;`,
    );
    await expect(stat(join(dataDir, 'pki', 'xbank', 'api.cert.pem'))).rejects.toThrow(/ENOENT/);
    // A CA made before name constraints (an older data folder): still used, and shown as trusted for every name.
    const legacy = await createUnconstrainedCa(new Date(), 'legacy');
    await writeFile(join(dataDir, 'pki', 'ca.key.pem'), legacy.keyPem);
    await writeFile(join(dataDir, 'pki', 'ca.cert.pem'), legacy.certPem);
    expect((await run('pki', 'issue', 'xbank', 'api', '--host', 'www.example.org')).status).toBe(0);
    const listed = await run('pki', 'list');
    expect(listed.stdout).toContain(
      'permits:   any name (no name constraints: whoever trusts it trusts it for every site)',
    );
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

  it('revoke lists the certificate on the CA’s revocation list and issues the service a new key; list counts it', async () => {
    await run('pki', 'init');
    const certPath = join(dataDir, 'pki', 'xbank', 'bank.cert.pem');
    const before = new X509Certificate(await readFile(certPath, 'utf8')).serialNumber;
    const revoked = await run('pki', 'revoke', 'xbank', 'bank', '--json');
    expect(revoked.status).toBe(0);
    const report = JSON.parse(revoked.stdout) as {
      revokedSerial: string;
      issuedSerial: string;
      crlPath: string;
    };
    expect(report.revokedSerial).toBe(before.replace(/^0+/, ''));
    expect(new X509Certificate(await readFile(certPath, 'utf8')).serialNumber).not.toBe(before);
    expect(report.crlPath.startsWith(join(dataDir, 'pki', 'crl'))).toBe(true);
    const listed = await run('pki', 'list');
    expect(listed.stdout).toContain('revoked:   1 certificate(s) on its revocation list');
    expect(listed.stdout).not.toContain('REVOKED');
    // issue says which certificate it replaces (valid until revoked); revoke --serial lists that one.
    const current = new X509Certificate(await readFile(certPath, 'utf8')).serialNumber.replace(/^0+/, '');
    const issued = await run('pki', 'issue', 'xbank', 'bank');
    expect(issued.stdout).toContain(`the certificate it replaces, ${current}, stays valid until `);
    expect(issued.stdout).toContain(`\`mpay pki revoke xbank bank --serial ${current}\``);
    const older = await run('pki', 'revoke', 'xbank', 'bank', '--serial', current);
    expect(older.status).toBe(0);
    expect(older.stdout).toContain(`revoked xbank/bank's certificate ${current}`);
    expect(older.stdout).toContain('its current certificate is kept');
    expect((await run('pki', 'list')).stdout).toContain('revoked:   2 certificate(s) on its revocation list');
    expect((await run('pki', 'issue', 'xbank', 'bank', '--serial', current)).stderr).toContain(
      '--serial is for revoke',
    );
    expect((await run('pki', 'revoke', 'xbank', 'bank', '--serial', 'not-hex')).status).toBe(2);
    // Wrong arguments: usage, exit 2; a service without a certificate: PKI_INVALID naming the file.
    expect((await run('pki', 'revoke', 'xbank')).status).toBe(2);
    expect((await run('pki', 'revoke', 'xbank', 'bank', '--host', 'x.example')).status).toBe(2);
    const unknown = await run('pki', 'revoke', 'xbank', 'nothing');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain(join(dataDir, 'pki', 'xbank', 'nothing.cert.pem'));
  });

  it('ca begin, switch and retire replace the CA in order, list shows each CA, and steps out of order are refused', async () => {
    await run('pki', 'init');
    const pki = join(dataDir, 'pki');
    const early = await run('pki', 'ca', 'switch');
    expect(early.status).toBe(1);
    expect(early.stderr).toContain(
      `PKI_INVALID: The deployment's certificate folder is missing, incomplete or damaged; the detail names the file. (${join(pki, 'ca.next.cert.pem')}: missing: no next CA to switch to (\`mpay pki ca begin\` first))`,
    );
    expect((await run('pki', 'ca', 'retire')).stderr).toContain('no previous CA to retire');
    expect((await run('pki', 'ca', 'rotate')).status).toBe(2);
    expect((await run('pki', 'ca')).status).toBe(2);

    const oldCa = new X509Certificate(await readFile(join(pki, 'ca.cert.pem'), 'utf8'));
    const begun = await run('pki', 'ca', 'begin', '--no-reload', '--json');
    expect(begun.status).toBe(0);
    expect(JSON.parse(begun.stdout)).toMatchObject({
      step: 'begin',
      paths: [join(pki, 'ca.next.key.pem'), join(pki, 'ca.next.cert.pem'), join(pki, 'ca.next.proof.json')],
      reload: { signalled: false, why: '--no-reload' },
    });
    const duringBegin = await run('pki', 'list');
    expect(duringBegin.stdout).toMatch(/^CA {2}\S+\/ca\.cert\.pem\n/);
    expect(duringBegin.stdout).toMatch(
      /\nnext CA {2}\S+\/ca\.next\.cert\.pem\n {2}subject: .*\n {2}permits: .*\n {2}not after: \S+ \(\d+ days left\)/,
    );
    expect(duringBegin.stdout).not.toContain('NOT issued');

    const switched = await run('pki', 'ca', 'switch');
    expect(switched.status).toBe(0);
    expect(switched.stdout).toContain('switched to the next CA');
    expect(switched.stdout).toContain('xbank/bank: reissued (ca-switch)');
    expect(switched.stdout).toContain(`not reloaded (no deployment.json in ${dataDir})`);
    const newCa = new X509Certificate(await readFile(join(pki, 'ca.cert.pem'), 'utf8'));
    expect(newCa.fingerprint256).not.toBe(oldCa.fingerprint256);
    for (const institution of platformInstitutions) {
      for (const service of institution.services) {
        const leaf = new X509Certificate(
          await readFile(join(pki, institution.id, `${String(service)}.cert.pem`), 'utf8'),
        );
        expect(
          leaf.checkIssued(newCa) && leaf.verify(newCa.publicKey),
          `${institution.id}/${String(service)}`,
        ).toBe(true);
      }
    }
    const duringSwitch = await run('pki', 'list');
    expect(duringSwitch.stdout).toMatch(/\nprevious CA {2}\S+\/ca\.previous\.cert\.pem\n/);
    expect((await run('pki', 'ca', 'switch')).stderr).toContain('the switch is done');

    const retired = await run('pki', 'ca', 'retire');
    expect(retired.status).toBe(0);
    expect(retired.stdout).toContain(`removed ${join(pki, 'ca.previous.cert.pem')}`);
    expect((await run('pki', 'list')).stdout).not.toContain('previous CA');
  });

  it('init (what mpay up runs at start) warns once of a CA without name constraints', async () => {
    await run('pki', 'init');
    const legacy = await createUnconstrainedCa(new Date(), 'legacy');
    await writeFile(join(dataDir, 'pki', 'ca.key.pem'), legacy.keyPem);
    await writeFile(join(dataDir, 'pki', 'ca.cert.pem'), legacy.certPem);
    const warned = await run('pki', 'init');
    expect(warned.status).toBe(0);
    const warning = `mpay: warning: ${join(dataDir, 'pki', 'ca.cert.pem')}: this CA has no name constraints (made by an older mpay): whoever trusts it trusts it for every site; \`mpay pki ca begin\` then \`mpay pki ca switch\` replace it by a name-constrained CA\n`;
    expect(warned.stderr).toBe(warning);
    expect((await run('pki', 'ca', 'begin', '--permit', 'pay.example')).status).toBe(0);
    expect((await run('pki', 'ca', 'switch')).status).toBe(0);
    expect((await run('pki', 'init')).stderr).toBe('');
    expect((await run('pki', 'list')).stdout).toContain(
      'permits:   DNS:localhost, DNS:pay.example, IP:127.0.0.0/8, IP:::1/128 (name-constrained)',
    );
    // A constrained CA's constraints are copied: nothing to permit besides them.
    expect((await run('pki', 'ca', 'retire')).status).toBe(0);
    const widened = await run('pki', 'ca', 'begin', '--permit', 'other.example');
    expect(widened.status).toBe(1);
    expect(widened.stderr).toContain("the next CA copies this CA's name constraints");
  });

  it('rotate and issue send SIGUSR2 to the mpay up running from the folder, and to nothing else', async () => {
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
    // A stand-in for `mpay up` (its command line names mpay and up): says "ready", then which reload signal came.
    const upLike = spawn(
      process.execPath,
      [
        '-e',
        "for (const signal of ['SIGUSR2', 'SIGHUP']) process.on(signal, () => process.stdout.write('reload ' + signal + '\\n')); process.stdout.write('ready\\n'); setInterval(() => undefined, 1000);",
        'mpay',
        'up',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      let output = '';
      const saw = (what: string, times = 1) =>
        waitFor(async () => (output.split(what).length - 1 >= times ? true : undefined), {
          deadlineMs: serviceStartDeadlineMs,
          what: `the stand-in process to print ${what} ${times} time(s)`,
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
      await saw('reload SIGUSR2');

      // One service's certificate issued again: the running platform reloads it too, unless --no-reload.
      const issued = await run('pki', 'issue', 'xbank', 'bank');
      expect(issued.status).toBe(0);
      expect(issued.stdout).toContain(`sent SIGUSR2 to the platform running from ${dataDir} (pid ${pid})`);
      await saw('reload SIGUSR2', 2);
      const quiet = await run('pki', 'issue', 'xbank', 'bank', '--no-reload', '--json');
      expect((JSON.parse(quiet.stdout) as { reload: unknown }).reload).toEqual({
        signalled: false,
        why: '--no-reload',
      });
      // A revocation: the running platform reloads the lists (and the service's new certificate).
      const revoked = await run('pki', 'revoke', 'xbank', 'bank');
      expect(revoked.status).toBe(0);
      expect(revoked.stdout).toContain(
        `sent SIGUSR2 to the platform running from ${dataDir} (pid ${pid}): it reloads the revocation lists and certificate now`,
      );
      await saw('reload SIGUSR2', 3);
      // A CA rotation's step: the same reload.
      const begun = await run('pki', 'ca', 'begin');
      expect(begun.status).toBe(0);
      expect(begun.stdout).toContain(
        `sent SIGUSR2 to the platform running from ${dataDir} (pid ${pid}): it reloads the CAs now`,
      );
      await saw('reload SIGUSR2', 4);
      // Not SIGHUP: a terminal sends that one too; nothing but SIGUSR2 ever came.
      expect(output).not.toContain('reload SIGHUP');

      const exited = upLike.exitCode !== null ? Promise.resolve() : once(upLike, 'exit');
      upLike.kill('SIGTERM');
      await exited;
      // Gone now: the next rotation (and issue) finds no process.
      expect((await run('pki', 'rotate')).stdout).toContain(`not reloaded (no process ${pid} runs`);
      expect((await run('pki', 'issue', 'xbank', 'bank')).stdout).toContain(
        `not reloaded (no process ${pid} runs`,
      );
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
    expect((await run('pki', 'init', '--permit', 'Not A Name')).stderr).toMatch(
      /--permit "Not A Name" is not/,
    );
    expect((await run('pki', 'init', '--permit', '10.0.0.0/40')).stderr).toMatch(
      /not an IP address or range/,
    );
    expect((await run('pki', 'issue', 'xbank', 'bank', '--permit', 'x.example')).stderr).toMatch(
      /--permit is for init/,
    );
    expect((await run('pki', 'list', '--force')).stderr).toMatch(/unknown option --force/);
  });
});
