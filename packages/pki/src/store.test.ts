import { X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMpayError } from '@mpay/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDeploymentCa, issueServiceCertificate } from './ca.ts';
import { createUnconstrainedCa } from './forge.test-helper.ts';
import { dayMs } from './limits.ts';
import { serviceTlsOf } from './service-tls.ts';
import {
  caPathsOf,
  type DeploymentInstitution,
  ensureDeploymentPki,
  issueDeploymentCertificate,
  listDeploymentPki,
  loadDeploymentCaCertificate,
  loadServiceTls,
  pkiDirOf,
  rotateDeploymentPki,
  servicePathsOf,
} from './store.ts';

const start = new Date('2026-12-03T12:00:00Z');
const later = (days: number) => new Date(start.getTime() + days * dayMs);

const institutions: DeploymentInstitution[] = [
  { id: 'fsp.mpay', services: ['gateway'] },
  { id: 'xbank', services: [{ name: 'bank', hosts: ['bank.xbank.example'] }] },
];

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-pki-store-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function serialOf(path: string): Promise<string> {
  return new X509Certificate(await readFile(path, 'utf8')).serialNumber;
}

async function pkiCode(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isMpayError(error)) throw new Error(`expected an MpayError, got ${String(error)}`);
  return `${error.code} ${error.detail ?? ''}`;
}

describe('ensureDeploymentPki', () => {
  it('creates the CA and one certificate per service, keys 0600 and no temporary files left', async () => {
    const report = await ensureDeploymentPki(dataDir, institutions, { now: start });
    expect(report.caCreated).toBe(true);
    expect(report.services.map((entry) => [entry.institution, entry.service, entry.action])).toEqual([
      ['fsp.mpay', 'gateway', 'issued'],
      ['xbank', 'bank', 'issued'],
    ]);
    const ca = caPathsOf(dataDir);
    const bank = servicePathsOf(dataDir, 'xbank', 'bank');
    expect(bank.keyPath).toBe(join(dataDir, 'pki', 'xbank', 'bank.key.pem'));
    for (const keyPath of [ca.keyPath, bank.keyPath]) expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
    expect((await stat(pkiDirOf(dataDir))).mode & 0o777).toBe(0o700);
    expect((await readdir(pkiDirOf(dataDir))).sort()).toEqual([
      'ca.cert.pem',
      'ca.key.pem',
      'fsp.mpay',
      'xbank',
    ]);
    expect((await readdir(join(pkiDirOf(dataDir), 'xbank'))).sort()).toEqual([
      'bank.cert.pem',
      'bank.key.pem',
    ]);
    const material = await loadServiceTls(dataDir, 'xbank', 'bank', start);
    expect(new X509Certificate(material.certPem).subjectAltName).toContain('DNS:bank.xbank.example');
  });

  it('keeps everything on the next start, and reissues a certificate within 30 days of its expiry', async () => {
    await ensureDeploymentPki(dataDir, institutions, { now: start });
    const caSerial = await serialOf(caPathsOf(dataDir).certPath);
    const bankSerial = await serialOf(servicePathsOf(dataDir, 'xbank', 'bank').certPath);

    const again = await ensureDeploymentPki(dataDir, institutions, { now: later(59) });
    expect(again.caCreated).toBe(false);
    expect(again.services.map((entry) => entry.action)).toEqual(['kept', 'kept']);
    expect(await serialOf(servicePathsOf(dataDir, 'xbank', 'bank').certPath)).toBe(bankSerial);

    const renewed = await ensureDeploymentPki(dataDir, institutions, { now: later(61) });
    expect(renewed.services.map((entry) => [entry.action, entry.reason])).toEqual([
      ['reissued', 'expiring'],
      ['reissued', 'expiring'],
    ]);
    expect(await serialOf(servicePathsOf(dataDir, 'xbank', 'bank').certPath)).not.toBe(bankSerial);
    expect(await serialOf(caPathsOf(dataDir).certPath)).toBe(caSerial);
    const bank = new X509Certificate(
      await readFile(servicePathsOf(dataDir, 'xbank', 'bank').certPath, 'utf8'),
    );
    expect(Date.parse(bank.validTo)).toBe(later(61 + 90).getTime());
  });

  it('reissues a certificate of another CA, one whose key is lost and one that lacks a host', async () => {
    await ensureDeploymentPki(dataDir, institutions, { now: start });
    const foreignCa = await createDeploymentCa({ now: start, label: 'foreign' });
    const foreign = await issueServiceCertificate(
      foreignCa,
      { institution: 'xbank', service: 'bank' },
      { now: start },
    );
    const bank = servicePathsOf(dataDir, 'xbank', 'bank');
    await writeFile(bank.keyPath, foreign.keyPem);
    await writeFile(bank.certPath, foreign.certPem);
    await rm(servicePathsOf(dataDir, 'fsp.mpay', 'gateway').keyPath);
    const report = await ensureDeploymentPki(dataDir, institutions, { now: start });
    expect(report.services.map((entry) => entry.reason)).toEqual(['key-mismatch', 'other-ca']);
    await expect(loadServiceTls(dataDir, 'xbank', 'bank', start)).resolves.toBeDefined();

    // A host under one the CA permits (bank.xbank.example, from the services' hosts when it was created).
    const withHost: DeploymentInstitution[] = [
      { id: 'xbank', services: [{ name: 'bank', hosts: ['api.bank.xbank.example'] }] },
    ];
    const hosts = await ensureDeploymentPki(dataDir, withHost, { now: start });
    expect(hosts.services.map((entry) => entry.reason)).toEqual(['hosts']);
    // One it does not permit: refused before anything is issued (no client would accept the certificate).
    const bankSerial = await serialOf(bank.certPath);
    const outside: DeploymentInstitution[] = [
      { id: 'xbank', services: [{ name: 'bank', hosts: ['x.example'] }] },
    ];
    expect(await pkiCode(ensureDeploymentPki(dataDir, outside, { now: start }))).toMatch(
      /^PKI_INVALID .*ca\.cert\.pem: the CA exists and its name constraints \(DNS:localhost, DNS:bank\.xbank\.example, IP:127\.0\.0\.0\/8, IP:::1\/128\) do not permit DNS:x\.example; they are fixed when the CA is created$/,
    );
    expect(await serialOf(bank.certPath)).toBe(bankSerial);
  });

  it("creates the CA name-constrained to loopback, the services' hosts and the names permitted", async () => {
    await ensureDeploymentPki(dataDir, institutions, {
      now: start,
      permitted: { hosts: ['pay.example'], ipRanges: ['10.1.0.0/16'] },
    });
    const ca = await loadDeploymentCaCertificate(dataDir, start);
    expect(ca.nameConstraints?.critical).toBe(true);
    const listed = await listDeploymentPki(dataDir, start);
    expect(listed[0]?.nameConstraints).toEqual({
      permitted: [
        'DNS:localhost',
        'DNS:pay.example',
        'DNS:bank.xbank.example',
        'IP:127.0.0.0/8',
        'IP:::1/128',
        'IP:10.1.0.0/16',
      ],
      excluded: [],
    });
    expect(listed[1]?.nameConstraints).toBeUndefined();
    // Again with names within those: kept; with one outside: PKI_INVALID, the CA unchanged.
    const again = await ensureDeploymentPki(dataDir, institutions, {
      now: start,
      permitted: { hosts: ['shop.pay.example'], ipRanges: ['10.1.2.0/24'] },
    });
    expect(again.caCreated).toBe(false);
    expect(
      await pkiCode(
        ensureDeploymentPki(dataDir, institutions, { now: start, permitted: { ipRanges: ['10.0.0.0/8'] } }),
      ),
    ).toMatch(/do not permit IP:10\.0\.0\.0\/8; they are fixed when the CA is created$/);
    expect(
      await pkiCode(
        issueDeploymentCertificate(
          dataDir,
          { institution: 'ybank', service: 'bank', hosts: ['www.example.org'] },
          { now: start },
        ),
      ),
    ).toMatch(
      /^PKI_INVALID .*ca\.cert\.pem: its name constraints do not permit DNS:www\.example\.org \(it permits /,
    );
    await issueDeploymentCertificate(
      dataDir,
      { institution: 'ybank', service: 'bank', hosts: ['bank.pay.example'] },
      { now: start },
    );
  });

  it('keeps working with a CA made before name constraints (trusted for every name)', async () => {
    const legacy = await createUnconstrainedCa(start, 'legacy');
    const ca = caPathsOf(dataDir);
    await ensureDeploymentPki(dataDir, [], { now: start }); // the folder, with a CA of today
    await writeFile(ca.keyPath, legacy.keyPem);
    await writeFile(ca.certPath, legacy.certPem);
    const report = await ensureDeploymentPki(dataDir, institutions, { now: start });
    expect(report.services.map((entry) => entry.action)).toEqual(['issued', 'issued']);
    await issueDeploymentCertificate(
      dataDir,
      { institution: 'ybank', service: 'bank', hosts: ['www.example.org'] },
      { now: start },
    );
    await expect(loadServiceTls(dataDir, 'ybank', 'bank', start)).resolves.toBeDefined();
    expect((await loadDeploymentCaCertificate(dataDir, start)).nameConstraints).toBeUndefined();
    expect((await listDeploymentPki(dataDir, start))[0]?.nameConstraints).toBeNull();
    await rotateDeploymentPki(dataDir, { now: start });
  });

  it("refuses another service's certificate of the same CA in a service's folder, and one not yet valid", async () => {
    await ensureDeploymentPki(dataDir, institutions, { now: start });
    const gateway = servicePathsOf(dataDir, 'fsp.mpay', 'gateway');
    const bank = servicePathsOf(dataDir, 'xbank', 'bank');
    await writeFile(bank.keyPath, await readFile(gateway.keyPath));
    await writeFile(bank.certPath, await readFile(gateway.certPath));
    expect(await pkiCode(loadServiceTls(dataDir, 'xbank', 'bank', start))).toMatch(
      /^PKI_INVALID .*xbank\/bank\.cert\.pem: names fsp\.mpay\/gateway, not xbank\/bank$/,
    );
    await ensureDeploymentPki(dataDir, institutions, { now: start });
    const before = new Date(start.getTime() - dayMs);
    expect(await pkiCode(loadServiceTls(dataDir, 'xbank', 'bank', before))).toMatch(
      /^PKI_INVALID .*: not valid before /,
    );
  });

  it('refuses a half CA, a damaged CA and a damaged service certificate, naming the file', async () => {
    await ensureDeploymentPki(dataDir, institutions, { now: start });
    const ca = caPathsOf(dataDir);
    const bank = servicePathsOf(dataDir, 'xbank', 'bank');
    const bankCert = await readFile(bank.certPath, 'utf8');
    await writeFile(bank.certPath, 'garbage');
    expect(await pkiCode(ensureDeploymentPki(dataDir, institutions, { now: start }))).toBe(
      `PKI_INVALID ${bank.certPath}: not a PEM certificate`,
    );
    await writeFile(bank.certPath, bankCert);
    await writeFile(ca.keyPath, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    // Nothing to issue: the CA's key is not read.
    const kept = await ensureDeploymentPki(dataDir, institutions, { now: start });
    expect(kept.services.map((entry) => entry.action)).toEqual(['kept', 'kept']);
    await rm(bank.certPath); // now something must be issued
    expect(await pkiCode(ensureDeploymentPki(dataDir, institutions, { now: start }))).toBe(
      `PKI_INVALID ${ca.keyPath}: not a PEM private key`,
    );
    await rm(ca.keyPath);
    expect(await pkiCode(ensureDeploymentPki(dataDir, institutions, { now: start }))).toBe(
      `PKI_INVALID ${ca.keyPath}: missing (the CA's private key is needed to issue a certificate)`,
    );
    // A key without its certificate (neither would make a new CA).
    await writeFile(ca.keyPath, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    await rm(ca.certPath);
    expect(await pkiCode(ensureDeploymentPki(dataDir, institutions, { now: start }))).toBe(
      `PKI_INVALID ${ca.certPath}: missing`,
    );
  });
});

describe('rotate, issue and list', () => {
  it('rotate reissues every service certificate now, keeping the CA and the host names', async () => {
    await ensureDeploymentPki(dataDir, institutions, { now: start });
    const caSerial = await serialOf(caPathsOf(dataDir).certPath);
    const before = await serialOf(servicePathsOf(dataDir, 'xbank', 'bank').certPath);
    const report = await rotateDeploymentPki(dataDir, { now: later(1) });
    expect(report.services.map((entry) => `${entry.institution}/${entry.service}`)).toEqual([
      'fsp.mpay/gateway',
      'xbank/bank',
    ]);
    expect(await serialOf(servicePathsOf(dataDir, 'xbank', 'bank').certPath)).not.toBe(before);
    expect(await serialOf(caPathsOf(dataDir).certPath)).toBe(caSerial);
    const material = await loadServiceTls(dataDir, 'xbank', 'bank', later(1));
    expect(new X509Certificate(material.certPem).subjectAltName).toBe(
      'DNS:localhost, DNS:bank.xbank.example, IP Address:127.0.0.1',
    );
  });

  it('issue adds one service; list shows subject, names, expiry and days left', async () => {
    await ensureDeploymentPki(dataDir, institutions, { now: start });
    await issueDeploymentCertificate(dataDir, { institution: 'ybank', service: 'bank' }, { now: start });
    const listed = await listDeploymentPki(dataDir, later(10));
    expect(listed.map((entry) => [entry.role, entry.subject, entry.daysLeft, entry.issuedByCa])).toEqual([
      ['ca', expect.stringMatching(/^O=mpay deployment, CN=mpay deployment CA [0-9a-f]{8}$/), 3_640, true],
      ['service', 'O=fsp.mpay, OU=gateway, CN=gateway.fsp.mpay', 80, true],
      ['service', 'O=xbank, OU=bank, CN=bank.xbank', 80, true],
      ['service', 'O=ybank, OU=bank, CN=bank.ybank', 80, true],
    ]);
    expect(listed[3]?.subjectAltNames).toEqual(['DNS:localhost', 'IP Address:127.0.0.1']);
  });

  it('says the folder is missing rather than failing on a path', async () => {
    const missing = join(dataDir, 'nowhere');
    expect(await pkiCode(listDeploymentPki(missing, start))).toBe(
      `PKI_INVALID ${pkiDirOf(missing)}: missing (run \`mpay pki init\`)`,
    );
    expect(await pkiCode(rotateDeploymentPki(missing, { now: start }))).toMatch(/^PKI_INVALID .*missing/);
    expect(await pkiCode(loadServiceTls(missing, 'xbank', 'bank', start))).toMatch(/^PKI_INVALID .*missing/);
  });

  it('refuses to load an expired certificate', async () => {
    await ensureDeploymentPki(dataDir, institutions, { now: start });
    expect(await pkiCode(loadServiceTls(dataDir, 'xbank', 'bank', later(91)))).toMatch(
      /^PKI_INVALID .*bank\.cert\.pem: expired on /,
    );
  });
});

describe('a folder it cannot write', () => {
  it('is PKI_INVALID naming the path, not a bare file system error', async () => {
    await writeFile(join(dataDir, 'pki'), 'a file where the folder should be');
    expect(await pkiCode(ensureDeploymentPki(dataDir, institutions, { now: start }))).toMatch(
      new RegExp(`^PKI_INVALID ${pkiDirOf(dataDir)}/pki\\.lock: ENOTDIR`),
    );
    await rm(join(dataDir, 'pki'));
    await ensureDeploymentPki(dataDir, institutions, { now: start });
    await rm(join(pkiDirOf(dataDir), 'xbank'), { recursive: true });
    await writeFile(join(pkiDirOf(dataDir), 'xbank'), 'a file where the folder should be');
    expect(await pkiCode(ensureDeploymentPki(dataDir, institutions, { now: start }))).toMatch(
      new RegExp(`^PKI_INVALID ${pkiDirOf(dataDir)}/xbank: EEXIST`),
    );
  });
});

describe('serviceTlsOf', () => {
  it("gives a service its port's TLS from the folder: mutual on an institution port, server-only on a public one", async () => {
    await ensureDeploymentPki(dataDir, institutions);
    const institution = await serviceTlsOf(dataDir, 'xbank', 'bank', 'institution');
    expect(institution.server).toMatchObject({
      clientCertificate: 'required',
      ca: institution.material.caPem,
    });
    expect(institution.server.checkPeer).toBeTypeOf('function');
    const device = await serviceTlsOf(dataDir, 'xbank', 'bank', 'public');
    expect(device.server).toEqual({
      key: device.material.keyPem,
      cert: device.material.certPem,
      clientCertificate: 'none',
      onReload: expect.any(Function),
    });
    await institution.agent.close();
    await device.agent.close();
  });
});

describe("the CA's private key", () => {
  /** Moves ca.key.pem out of the pki folder (as an operator keeping the CA offline would); returns the way back. */
  async function hideCaKey(): Promise<() => Promise<void>> {
    const { keyPath } = caPathsOf(dataDir);
    const away = join(dataDir, 'ca.key.pem.offline');
    await rename(keyPath, away);
    return async () => {
      await rm(keyPath, { force: true });
      await rename(away, keyPath);
    };
  }

  it("is not read to load or reload a service's TLS, nor by ensure when nothing is due", async () => {
    await ensureDeploymentPki(dataDir, institutions, { now: start });
    const restore = await hideCaKey();
    const tls = await serviceTlsOf(dataDir, 'xbank', 'bank', 'institution', start);
    try {
      const ca = await loadDeploymentCaCertificate(dataDir, start);
      expect(tls.material.caPem).toBe(ca.certPem);
      expect(
        (await ensureDeploymentPki(dataDir, institutions, { now: start })).services.map((e) => e.action),
      ).toEqual(['kept', 'kept']);
      // A rotation needs the key: brought back for it, then away again before the service reloads.
      expect(await pkiCode(rotateDeploymentPki(dataDir, { now: later(1) }))).toBe(
        `PKI_INVALID ${caPathsOf(dataDir).keyPath}: missing (the CA's private key is needed to issue a certificate)`,
      );
      await restore();
      await rotateDeploymentPki(dataDir, { now: later(1) });
      const restoreAgain = await hideCaKey();
      // An unreadable file in its place too, where permissions bind (root reads it anyway: the key is away above).
      await writeFile(caPathsOf(dataDir).keyPath, 'not for services', { mode: 0o000 });
      await chmod(caPathsOf(dataDir).keyPath, 0o000);
      const next = await loadServiceTls(dataDir, 'xbank', 'bank', later(1));
      expect(next.certPem).not.toBe(tls.material.certPem);
      tls.reload(next);
      expect(tls.material.certPem).toBe(next.certPem);
      // Issuing still needs it, and says so.
      expect(
        await pkiCode(
          issueDeploymentCertificate(dataDir, { institution: 'ybank', service: 'bank' }, { now: start }),
        ),
      ).toMatch(
        new RegExp(`^PKI_INVALID ${caPathsOf(dataDir).keyPath}: (not a PEM private key|.*permission denied)`),
      );
      await rm(servicePathsOf(dataDir, 'xbank', 'bank').certPath);
      expect(await pkiCode(ensureDeploymentPki(dataDir, institutions, { now: later(1) }))).toMatch(
        new RegExp(`^PKI_INVALID ${caPathsOf(dataDir).keyPath}: `),
      );
      await restoreAgain();
    } finally {
      await tls.close();
    }
  });
});
