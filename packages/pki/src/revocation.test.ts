import { execFile } from 'node:child_process';
import { webcrypto, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHttpServer } from '@mpay/http-server';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeploymentCa, signRevocationList } from './ca.ts';
import { createReloadableTlsClient, type ReloadableTlsClient } from './client.ts';
import { crlPathOf, readRevocationList, revocationListLengthMax, serialKey } from './revocation.ts';
import { serviceTlsOf } from './service-tls.ts';
import {
  caPathsOf,
  ensureDeploymentPki,
  fileStepsForTests,
  issueDeploymentCertificate,
  loadDeploymentCaCertificate,
  loadServiceTls,
  pkiDirOf,
  revokeServiceCertificate,
  type ServiceTlsMaterial,
} from './store.ts';
import { x509 } from './x509.ts';

const institutions = [
  { id: 'xbank', services: ['bank'] },
  { id: 'fsp.mpay', services: ['gateway'] },
];
const silent = { onNote: () => undefined };
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-revoke-'));
  await ensureDeploymentPki(dataDir, institutions, silent);
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const serialOf = (material: ServiceTlsMaterial) =>
  serialKey(new X509Certificate(material.certPem).serialNumber);

/** Every message and code along an error's cause chain. */
function causesOf(error: unknown): string {
  const parts: string[] = [];
  for (let current = error; current instanceof Error; current = current.cause)
    parts.push(current.message, String((current as { code?: unknown }).code ?? ''));
  return parts.join(' | ');
}

describe('mpay pki revoke: the CA lists the certificate, the service gets a new key', () => {
  it('writes a list that OpenSSL verifies under the CA, naming the serial for key compromise', async () => {
    const before = await loadServiceTls(dataDir, 'xbank', 'bank');
    const report = await revokeServiceCertificate(dataDir, { institution: 'xbank', service: 'bank' }, silent);
    expect(report.revokedSerial).toBe(serialOf(before));
    expect(report.revokedCount).toBe(1);
    const after = await loadServiceTls(dataDir, 'xbank', 'bank');
    expect(serialOf(after)).toBe(report.issuedSerial);
    expect(after.keyPem).not.toBe(before.keyPem);
    expect([...(after.revokedSerials ?? [])]).toEqual([report.revokedSerial]);
    // OpenSSL, not this package, checks the list's signature and reads its entry.
    const { stdout, stderr } = await promisify(execFile)('openssl', [
      'crl',
      '-in',
      report.crlPath,
      '-CAfile',
      caPathsOf(dataDir).certPath,
      '-noout',
      '-text',
    ]);
    expect(`${stdout}${stderr}`).toMatch(/verify OK/);
    expect(stdout.replace(/\s/g, '').toUpperCase()).toContain(`SERIALNUMBER:${report.revokedSerial}`);
    expect(stdout).toMatch(/Key Compromise/);
    // Another service's material refuses the revoked serial too; a second revocation adds to the same list.
    expect(
      (await loadServiceTls(dataDir, 'fsp.mpay', 'gateway')).revokedSerials?.has(report.revokedSerial),
    ).toBe(true);
    const again = await revokeServiceCertificate(dataDir, { institution: 'xbank', service: 'bank' }, silent);
    expect(again.crlPath).toBe(report.crlPath);
    expect(again.revokedCount).toBe(2);
    // Each list replaces the one before with the next number (RFC 5280 §5.2.3).
    const ca = await loadDeploymentCaCertificate(dataDir);
    expect((await readRevocationList(pkiDirOf(dataDir), ca)).number).toBe(2n);
  });

  it('revokes with --serial a certificate the service had before, keeping its current one', async () => {
    const superseded = await loadServiceTls(dataDir, 'xbank', 'bank');
    // `mpay pki issue` replaces the certificate; the one it replaces stays valid until it is revoked.
    await issueDeploymentCertificate(dataDir, { institution: 'xbank', service: 'bank' }, silent);
    const current = await loadServiceTls(dataDir, 'xbank', 'bank');
    expect(current.revokedSerials?.has(serialOf(superseded))).toBe(false);
    const report = await revokeServiceCertificate(
      dataDir,
      { institution: 'xbank', service: 'bank', serialNumber: serialOf(superseded).toLowerCase() },
      silent,
    );
    expect(report).toMatchObject({ revokedSerial: serialOf(superseded) });
    expect(report.issuedSerial).toBeUndefined();
    const after = await loadServiceTls(dataDir, 'xbank', 'bank');
    expect(after.certPem).toBe(current.certPem);
    expect(after.revokedSerials?.has(serialOf(superseded))).toBe(true);
    await expect(
      revokeServiceCertificate(
        dataDir,
        { institution: 'xbank', service: 'bank', serialNumber: 'zz' },
        silent,
      ),
    ).rejects.toThrow(/not 1 to 20 bytes of hex/);
  });

  it('refuses a list that is not the CA’s, or damaged, rather than read it as "nothing revoked"', async () => {
    const ca = await loadDeploymentCaCertificate(dataDir);
    const path = crlPathOf(pkiDirOf(dataDir), ca.certificate);
    const good = await readFile(path, 'utf8');
    try {
      // Signed by another CA's key under this CA's name: its signature does not verify.
      const stranger = await createDeploymentCa({ now: new Date(), label: 'stranger' });
      await writeFile(
        path,
        await signRevocationList({ keyPem: stranger.keyPem, certPem: ca.certPem }, [], 1n, new Date()),
      );
      await expect(loadServiceTls(dataDir, 'xbank', 'bank')).rejects.toMatchObject({
        code: 'PKI_INVALID',
        detail: expect.stringContaining(path),
      });
      // Signed with the CA's own key, but naming another issuer: not this CA's list.
      const caKey = await webcrypto.subtle.importKey(
        'pkcs8',
        x509.PemConverter.decodeFirst(await readFile(caPathsOf(dataDir).keyPath, 'utf8')),
        { name: 'ECDSA', namedCurve: 'P-256' },
        false,
        ['sign'],
      );
      const renamed = await x509.X509CrlGenerator.create({
        issuer: 'CN=another issuer',
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        signingKey: caKey,
        entries: [],
      });
      await writeFile(path, x509.PemConverter.encode(renamed.rawData, 'X509 CRL'));
      await expect(loadServiceTls(dataDir, 'xbank', 'bank')).rejects.toMatchObject({
        code: 'PKI_INVALID',
        detail: expect.stringContaining('not signed by the CA it is named after'),
      });
      await writeFile(path, 'not a list');
      await expect(loadServiceTls(dataDir, 'xbank', 'bank')).rejects.toMatchObject({ code: 'PKI_INVALID' });
      // Longer than any list of ours: refused before it is read whole.
      await writeFile(path, Buffer.alloc(revocationListLengthMax + 1, 0x41));
      await expect(loadServiceTls(dataDir, 'xbank', 'bank')).rejects.toMatchObject({
        code: 'PKI_INVALID',
        detail: expect.stringContaining('longer than'),
      });
    } finally {
      await writeFile(path, good);
    }
  });

  it('leaves a service whose revocation stopped before its reissue listed; the next start reissues it', async () => {
    const ca = await loadDeploymentCaCertificate(dataDir);
    const current = await loadServiceTls(dataDir, 'fsp.mpay', 'gateway');
    const path = crlPathOf(pkiDir(), ca.certificate);
    const listed = [...(current.revokedSerials ?? [])].map((serialNumber) => ({
      serialNumber,
      revokedAt: new Date(),
    }));
    const caKey = await readFile(caPathsOf(dataDir).keyPath, 'utf8');
    // What a `revoke` killed between writing the list and issuing the new certificate leaves.
    await writeFile(
      path,
      await signRevocationList(
        { keyPem: caKey, certPem: ca.certPem },
        [...listed, { serialNumber: serialOf(current), revokedAt: new Date() }],
        100n,
        new Date(),
      ),
    );
    // Loaded all the same (its peers' lists must still apply; the platform warns of it), and named revoked.
    const stranded = await loadServiceTls(dataDir, 'fsp.mpay', 'gateway');
    expect(stranded.revokedSerials?.has(serialOf(stranded))).toBe(true);
    const report = await ensureDeploymentPki(dataDir, institutions, silent);
    expect(report.services).toContainEqual({
      institution: 'fsp.mpay',
      service: 'gateway',
      action: 'reissued',
      reason: 'revoked',
    });
    expect(serialOf(await loadServiceTls(dataDir, 'fsp.mpay', 'gateway'))).not.toBe(serialOf(current));
  });
});

describe('a revoke stopped after any of its file steps, as a crash would', () => {
  it('leaves the certificate refused, and a start (or the revoke run again) gives the service a valid one', async () => {
    const crash = new Error('crash (test)');
    const walked: string[] = [];
    for (let stopAfter = 1; stopAfter <= 8; stopAfter += 1) {
      const folder = await mkdtemp(join(tmpdir(), 'mpay-revoke-walk-'));
      try {
        await ensureDeploymentPki(folder, institutions, silent);
        const leaked = serialOf(await loadServiceTls(folder, 'xbank', 'bank'));
        let steps = 0;
        let stoppedAfter = '';
        fileStepsForTests.after = (path) => {
          // Only this walk's folder: a walk cut short by a timeout must not stop another test's writes.
          if (!path.startsWith(folder)) return;
          steps += 1;
          if (steps === stopAfter) {
            stoppedAfter = path.slice(folder.length);
            throw crash;
          }
        };
        const finished = await revokeServiceCertificate(
          folder,
          { institution: 'xbank', service: 'bank' },
          silent,
        ).then(
          () => true,
          (error: unknown) => {
            if ((error as Error).cause === crash) return false;
            throw error;
          },
        );
        fileStepsForTests.after = undefined;
        if (finished) break;
        walked.push(stoppedAfter.replace(/[0-9a-f]{64}/, '<ca>'));
        // The list is written first: from then on every service refuses the leaked certificate.
        expect((await loadServiceTls(folder, 'fsp.mpay', 'gateway')).revokedSerials?.has(leaked)).toBe(true);
        // mpay up: the service gets a certificate nobody refuses (reissued if the crash left it listed or torn).
        await ensureDeploymentPki(folder, institutions, silent);
        const started = await loadServiceTls(folder, 'xbank', 'bank');
        expect(started.revokedSerials?.has(serialOf(started)), `after ${stoppedAfter}`).toBe(false);
        // The revoke run again lists nothing twice.
        const again = await revokeServiceCertificate(
          folder,
          { institution: 'xbank', service: 'bank' },
          silent,
        );
        expect(again.revokedCount).toBe(2);
      } finally {
        fileStepsForTests.after = undefined;
        await rm(folder, { recursive: true, force: true });
      }
    }
    expect(walked).toEqual(['/pki/crl/<ca>.crl.pem', '/pki/xbank/bank.key.pem', '/pki/xbank/bank.cert.pem']);
  });
});

function pkiDir(): string {
  return pkiDirOf(dataDir);
}

describe('a revoked certificate on the wire', () => {
  let server: FastifyInstance;
  let url: string;
  let bank: Awaited<ReturnType<typeof serviceTlsOf>>;
  const clients: ReloadableTlsClient[] = [];

  beforeAll(async () => {
    bank = await serviceTlsOf(dataDir, 'xbank', 'bank', 'institution');
    server = createHttpServer({ name: 'bank', tls: bank.server });
    server.get('/peer', async () => ({ ok: true }));
    await server.listen({ port: 0, host: '127.0.0.1' });
    url = `https://localhost:${(server.server.address() as { port: number }).port}/peer`;
  });
  afterAll(async () => {
    await server?.close();
    await bank?.close();
    await Promise.all(clients.map((client) => client.close()));
  });

  async function ask(material: ServiceTlsMaterial): Promise<{ status: number; code?: string } | string> {
    const client = createReloadableTlsClient(material);
    clients.push(client);
    try {
      const answer = await client.fetch(url, { method: 'GET' });
      const body = (await answer.json()) as { error?: { code?: string } };
      return { status: answer.status, ...(body.error?.code === undefined ? {} : { code: body.error.code }) };
    } catch (error) {
      return causesOf(error);
    }
  }

  it('is refused by an institution port once its lists are reloaded (TLS_PEER_REFUSED); the new one passes', async () => {
    const old = await loadServiceTls(dataDir, 'fsp.mpay', 'gateway');
    expect(await ask(old)).toEqual({ status: 200 });
    await revokeServiceCertificate(dataDir, { institution: 'fsp.mpay', service: 'gateway' }, silent);
    // The port still has the lists of its last load: a running platform learns of it at its reload.
    expect(await ask(old)).toEqual({ status: 200 });
    bank.reload(await loadServiceTls(dataDir, 'xbank', 'bank'));
    expect(await ask(old)).toMatchObject({ code: 'TLS_PEER_REFUSED' });
    expect(await ask(await loadServiceTls(dataDir, 'fsp.mpay', 'gateway'))).toEqual({ status: 200 });
  });

  it('makes a client refuse a server that presents it', async () => {
    // The bank's port keeps presenting the certificate revoked here (it has not reloaded).
    await revokeServiceCertificate(dataDir, { institution: 'xbank', service: 'bank' }, silent);
    const gateway = await loadServiceTls(dataDir, 'fsp.mpay', 'gateway');
    expect(await ask(gateway)).toMatch(/ERR_TLS_CERT_REVOKED/);
    bank.reload(await loadServiceTls(dataDir, 'xbank', 'bank'));
    expect(await ask(gateway)).toEqual({ status: 200 });
  });
});
