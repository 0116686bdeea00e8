import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeploymentCa, issueServiceCertificate, type PemPair } from './ca.ts';
import { isIssuedBy, summarizeCertificate } from './inspect.ts';

const run = promisify(execFile);
const now = new Date('2026-12-03T12:00:00Z');

let ca: PemPair;
let otherCa: PemPair;
let leaf: PemPair;

beforeAll(async () => {
  ca = await createDeploymentCa({ now, label: 'test', permitted: { hosts: ['xbank.example'] } });
  // Same subject as `ca`: only the signature tells them apart.
  otherCa = await createDeploymentCa({ now, label: 'test', permitted: { hosts: ['xbank.example'] } });
  leaf = await issueServiceCertificate(
    ca,
    { institution: 'xbank', service: 'bank', hosts: ['bank.xbank.example'] },
    { now },
  );
});

describe('the deployment CA', () => {
  it('is a self-signed P-256 root limited to signing service certificates', () => {
    const certificate = new X509Certificate(ca.certPem);
    expect(certificate.ca).toBe(true);
    expect(certificate.checkIssued(certificate)).toBe(true);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(certificate.subject).toBe('O=mpay deployment\nCN=mpay deployment CA test');
    const validDays = (Date.parse(certificate.validTo) - now.getTime()) / 86_400_000;
    expect(Math.round(validDays)).toBe(3_650);
  });

  it('issues a service certificate named by institution and service, for loopback, valid 90 days', () => {
    const certificate = new X509Certificate(leaf.certPem);
    expect(certificate.ca).toBe(false);
    expect(certificate.subject).toBe('O=xbank\nOU=bank\nCN=bank.xbank');
    expect(certificate.subjectAltName).toBe('DNS:localhost, DNS:bank.xbank.example, IP Address:127.0.0.1');
    expect(certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(isIssuedBy(certificate, new X509Certificate(ca.certPem))).toBe(true);
    expect(isIssuedBy(certificate, new X509Certificate(otherCa.certPem))).toBe(false);
    const summary = summarizeCertificate(certificate, now);
    expect(summary).toMatchObject({ institution: 'xbank', service: 'bank', daysLeft: 90 });
  });

  it('gives every certificate a fresh random serial', async () => {
    const again = await issueServiceCertificate(ca, { institution: 'xbank', service: 'bank' }, { now });
    const serials = [ca, otherCa, leaf, again].map((pair) => new X509Certificate(pair.certPem).serialNumber);
    expect(new Set(serials).size).toBe(4);
    for (const serial of serials) expect(serial).toMatch(/^[0-9A-F]{32}$/);
  });

  it('refuses names outside the scheme', async () => {
    for (const request of [
      { institution: 'XBank', service: 'bank' },
      { institution: 'x bank', service: 'bank' },
      { institution: 'xbank', service: 'bank.api' },
      { institution: 'xbank', service: 'bank', hosts: ['evil, CN=fsp.mpay'] },
      { institution: 'xbank', service: 'bank', ipAddresses: ['::1'] },
    ]) {
      await expect(issueServiceCertificate(ca, request, { now })).rejects.toThrow(RangeError);
    }
  });
});

describe('node:tls and openssl accept what it issues', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'mpay-pki-ca-'));
    await writeFile(join(folder, 'ca.pem'), ca.certPem);
    await writeFile(join(folder, 'other-ca.pem'), otherCa.certPem);
    await writeFile(join(folder, 'leaf.pem'), leaf.certPem);
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('completes a TLS handshake that verifies the server against the CA and the host name', async () => {
    const server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (socket) => socket.end('hello'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const handshake = (trust: string, servername: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, ca: trust, servername }, () => {
          socket.setEncoding('utf8');
          let text = '';
          socket.on('data', (chunk: string) => {
            text += chunk;
          });
          socket.on('end', () => resolve(text));
        });
        socket.on('error', reject);
      });
    try {
      await expect(handshake(ca.certPem, 'localhost')).resolves.toBe('hello');
      await expect(handshake(otherCa.certPem, 'localhost')).rejects.toThrow(/signature|verify/i);
      await expect(handshake(ca.certPem, 'fsp.mpay.example')).rejects.toThrow(/altnames|host/i);
    } finally {
      server.close();
    }
  });

  it('passes `openssl verify` against the CA, and not against another CA of the same name', async () => {
    const ok = await run('openssl', ['verify', '-CAfile', join(folder, 'ca.pem'), join(folder, 'leaf.pem')]);
    expect(ok.stdout.trim()).toBe(`${join(folder, 'leaf.pem')}: OK`);
    await expect(
      run('openssl', ['verify', '-CAfile', join(folder, 'other-ca.pem'), join(folder, 'leaf.pem')]),
    ).rejects.toThrow(/verification failed/);
  });

  it('shows operators the names, usages and constraints with `openssl x509 -noout -text`', async () => {
    const { stdout: leafText } = await run('openssl', [
      'x509',
      '-in',
      join(folder, 'leaf.pem'),
      '-noout',
      '-text',
    ]);
    expect(leafText).toContain('Subject: O = xbank, OU = bank, CN = bank.xbank');
    expect(leafText).toContain('DNS:localhost, DNS:bank.xbank.example, IP Address:127.0.0.1');
    expect(leafText).toContain('TLS Web Server Authentication, TLS Web Client Authentication');
    expect(leafText).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(leafText).toContain('ecdsa-with-SHA256');
    const { stdout: caText } = await run('openssl', [
      'x509',
      '-in',
      join(folder, 'ca.pem'),
      '-noout',
      '-text',
    ]);
    expect(caText).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(caText).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(caText).toMatch(
      /Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/,
    );
    expect(caText).toMatch(
      /Name Constraints: critical\s+Permitted:\s+DNS:localhost\s+DNS:xbank\.example\s+IP:127\.0\.0\.0\/255\.0\.0\.0\s+IP:0:0:0:0:0:0:0:1\/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF\s+X509v3/,
    );
  });
});
