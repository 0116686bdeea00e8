import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDeploymentCa, issueServiceCertificate, type PemPair } from '@mpay/pki';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorWebTlsFromEnv } from './web-tls.ts';

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
