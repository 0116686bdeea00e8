import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMpayError } from '@mpay/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDeploymentCa, issueServiceCertificate } from './ca.ts';
import { dayMs } from './limits.ts';
import { serviceTlsOf } from './service-tls.ts';
import {
  caPathsOf,
  type DeploymentInstitution,
  ensureDeploymentPki,
  issueDeploymentCertificate,
  listDeploymentPki,
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

    const withHost: DeploymentInstitution[] = [
      { id: 'xbank', services: [{ name: 'bank', hosts: ['x.example'] }] },
    ];
    const hosts = await ensureDeploymentPki(dataDir, withHost, { now: start });
    expect(hosts.services.map((entry) => entry.reason)).toEqual(['hosts']);
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
    expect(await pkiCode(ensureDeploymentPki(dataDir, institutions, { now: start }))).toBe(
      `PKI_INVALID ${ca.keyPath}: not a PEM private key`,
    );
    await rm(ca.keyPath);
    expect(await pkiCode(ensureDeploymentPki(dataDir, institutions, { now: start }))).toBe(
      `PKI_INVALID ${ca.keyPath}: missing`,
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
      new RegExp(`^PKI_INVALID ${pkiDirOf(dataDir)}/ca\\.key\\.pem: ENOTDIR`),
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
