import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpServer, serverOnlyTls } from '@mpay/http-server';
import { createDeploymentCa, issueServiceCertificate, type PemPair } from '@mpay/pki';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presentedAt } from '../../../test/support/tls-presented.ts';
import {
  describeWebTlsReload,
  describeWebTlsReloadRefusal,
  operatorWebTlsFromEnv,
  reloadableOperatorWebTls,
} from './web-tls.ts';

/** An operator's certificate for the pages, as files: issued by a CA of its own (any issuer will do here). */
describe("the web pages' operator certificate (MPAY_WEB_TLS_CERT/KEY)", () => {
  const now = new Date();
  let dir: string;
  let pair: PemPair;
  let other: PemPair;
  const path = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mpay-web-tls-'));
    const ca = await createDeploymentCa({ now, label: 'operator' });
    pair = await issueServiceCertificate(ca, { institution: 'shop.example', service: 'web' }, { now });
    other = await issueServiceCertificate(ca, { institution: 'shop.example', service: 'web' }, { now });
    // The chain after the server's certificate, as public CAs hand it out.
    await writeFile(path('cert.pem'), `${pair.certPem.trim()}\n${ca.certPem.trim()}\n`);
    await writeFile(path('key.pem'), pair.keyPem);
    await writeFile(path('other-key.pem'), other.keyPem);
    await writeFile(path('garbage.pem'), 'not a certificate\n');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const env = (cert: string, key: string) => ({ MPAY_WEB_TLS_CERT: path(cert), MPAY_WEB_TLS_KEY: path(key) });

  it('is absent when neither variable is set', async () => {
    expect(await operatorWebTlsFromEnv({})).toBeUndefined();
    expect(await operatorWebTlsFromEnv({ MPAY_WEB_TLS_CERT: ' ', MPAY_WEB_TLS_KEY: '' })).toBeUndefined();
  });

  it('loads a certificate (with its chain) and its key', async () => {
    const loaded = await operatorWebTlsFromEnv(env('cert.pem', 'key.pem'), now);
    expect(loaded?.cert).toContain(pair.certPem.trim());
    expect(loaded?.key).toBe(pair.keyPem);
    expect(loaded?.certPath).toBe(path('cert.pem'));
    expect(loaded?.subject).toContain('CN=web.shop.example');
    expect(new Date(loaded?.validTo ?? 0).getTime()).toBeGreaterThan(now.getTime());
  });

  it('refuses one variable without the other', async () => {
    await expect(operatorWebTlsFromEnv({ MPAY_WEB_TLS_CERT: path('cert.pem') })).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
      detail: expect.stringMatching(/go together/),
    });
  });

  it('refuses a key that is not the certificate’s, naming the key file', async () => {
    await expect(operatorWebTlsFromEnv(env('cert.pem', 'other-key.pem'), now)).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
      detail: expect.stringContaining(
        `MPAY_WEB_TLS_KEY ${path('other-key.pem')}: not the key of the certificate`,
      ),
    });
  });

  it('refuses an expired certificate, and one not valid yet', async () => {
    const later = new Date(now.getTime() + 20 * 365 * 86_400_000);
    await expect(operatorWebTlsFromEnv(env('cert.pem', 'key.pem'), later)).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
      detail: expect.stringContaining(`MPAY_WEB_TLS_CERT ${path('cert.pem')}: the certificate expired on`),
    });
    const earlier = new Date(now.getTime() - 86_400_000);
    await expect(operatorWebTlsFromEnv(env('cert.pem', 'key.pem'), earlier)).rejects.toMatchObject({
      detail: expect.stringContaining('not valid before'),
    });
  });

  it('refuses a missing file and one that is not PEM, naming the file', async () => {
    await expect(operatorWebTlsFromEnv(env('missing.pem', 'key.pem'), now)).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
      detail: expect.stringContaining(`MPAY_WEB_TLS_CERT ${path('missing.pem')}: no such file`),
    });
    await expect(operatorWebTlsFromEnv(env('cert.pem', 'missing.pem'), now)).rejects.toMatchObject({
      detail: expect.stringContaining(`MPAY_WEB_TLS_KEY ${path('missing.pem')}: no such file`),
    });
    await expect(operatorWebTlsFromEnv(env('garbage.pem', 'key.pem'), now)).rejects.toMatchObject({
      detail: expect.stringContaining(`MPAY_WEB_TLS_CERT ${path('garbage.pem')}: not a PEM certificate`),
    });
    await expect(operatorWebTlsFromEnv(env('cert.pem', 'garbage.pem'), now)).rejects.toMatchObject({
      detail: expect.stringContaining(`MPAY_WEB_TLS_KEY ${path('garbage.pem')}: not a PEM private key`),
    });
  });
});

describe("the web pages' operator certificate, reloaded on the reload signal", () => {
  const now = new Date();
  let dir: string;
  let caPem: string;
  let first: PemPair;
  let second: PemPair;
  const path = (name: string) => join(dir, name);
  const fingerprintOf = (pair: PemPair) => new X509Certificate(pair.certPem).fingerprint256;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mpay-web-tls-reload-'));
    const ca = await createDeploymentCa({ now, label: 'operator' });
    caPem = ca.certPem;
    first = await issueServiceCertificate(ca, { institution: 'shop.example', service: 'web' }, { now });
    second = await issueServiceCertificate(ca, { institution: 'shop.example', service: 'web' }, { now });
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('switches the web server to the new files, and keeps the old certificate when they fail a check', async () => {
    await writeFile(path('cert.pem'), first.certPem);
    await writeFile(path('key.pem'), first.keyPem);
    const env = { MPAY_WEB_TLS_CERT: path('cert.pem'), MPAY_WEB_TLS_KEY: path('key.pem') };
    const initial = await operatorWebTlsFromEnv(env, now);
    if (initial === undefined) throw new Error('the operator certificate did not load');
    const web = reloadableOperatorWebTls(initial);
    // As startWebServer builds its port: server TLS with the pair and its reload hook.
    const app = createHttpServer({ name: 'web', ...serverOnlyTls(web.pair) });
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const port = (app.server.address() as { port: number }).port;
      expect(await presentedAt(port, caPem)).toBe(fingerprintOf(first));

      // Files not rewritten: the same certificate, said so.
      expect(describeWebTlsReload(await web.reload(now))).toMatch(
        /^TLS reloaded: web pages \(\S+cert\.pem: .*CN=web\.shop\.example.*\) certificate [0-9A-F]+ unchanged, valid until /,
      );

      // The operator renewed the certificate in place: new connections see the new one.
      await writeFile(path('cert.pem'), second.certPem);
      await writeFile(path('key.pem'), second.keyPem);
      const change = await web.reload(now);
      expect(change.previous.fingerprint256).toBe(fingerprintOf(first));
      expect(change.current.fingerprint256).toBe(fingerprintOf(second));
      expect(describeWebTlsReload(change)).toContain(
        `certificate ${change.previous.serialNumber} → ${change.current.serialNumber}`,
      );
      expect(await presentedAt(port, caPem)).toBe(fingerprintOf(second));
      expect(web.current().fingerprint256).toBe(fingerprintOf(second));

      // A key that is not the certificate's (half a renewal): refused, naming the file; the server keeps its own.
      await writeFile(path('key.pem'), first.keyPem);
      const mismatch: unknown = await web.reload(now).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(mismatch).toMatchObject({
        code: 'CONFIGURATION_INVALID',
        detail: expect.stringContaining(
          `MPAY_WEB_TLS_KEY ${path('key.pem')}: not the key of the certificate`,
        ),
      });
      expect(describeWebTlsReloadRefusal(mismatch)).toMatch(
        /^TLS reload of the web pages refused, their old certificate stays in use: CONFIGURATION_INVALID MPAY_WEB_TLS_KEY /,
      );
      expect(await presentedAt(port, caPem)).toBe(fingerprintOf(second));

      // A damaged certificate file, and an expired certificate: refused alike.
      await writeFile(path('cert.pem'), 'not a certificate\n');
      await expect(web.reload(now)).rejects.toMatchObject({
        detail: expect.stringContaining(`MPAY_WEB_TLS_CERT ${path('cert.pem')}: not a PEM certificate`),
      });
      await writeFile(path('cert.pem'), first.certPem);
      const later = new Date(now.getTime() + 20 * 365 * 86_400_000);
      await expect(web.reload(later)).rejects.toMatchObject({
        detail: expect.stringContaining('the certificate expired on'),
      });
      expect(await presentedAt(port, caPem)).toBe(fingerprintOf(second));
      expect(web.current().fingerprint256).toBe(fingerprintOf(second));

      // Put right: the next reload takes it.
      expect((await web.reload(now)).current.fingerprint256).toBe(fingerprintOf(first));
      expect(await presentedAt(port, caPem)).toBe(fingerprintOf(first));
    } finally {
      await app.close();
    }
  });
});
