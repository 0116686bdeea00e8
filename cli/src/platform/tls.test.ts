import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createHttpServer } from '@mpay/http-server';
import {
  beginCaRotation,
  createDeploymentCa,
  issueServiceCertificate,
  loadServiceTls,
  publicServerTls,
  retireCa,
  revokeServiceCertificate,
  rotateDeploymentPki,
  switchCa,
  tlsClientScope,
} from '@mpay/pki';
import { isMpayError } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { presentedAt } from '../../../test/support/tls-presented.ts';
import { ensurePlatformPki } from '../commands/pki-platform.ts';
import { describeTlsReload, loadPlatformTls, type PlatformTls, tlsWanted, trustDeploymentCa } from './tls.ts';

describe('whether mpay up runs TLS', () => {
  it('does by default', () => {
    expect(tlsWanted(new Map(), {})).toBe(true);
    expect(tlsWanted(new Map(), { MPAY_TLS: '1' })).toBe(true);
  });

  it('does not with --no-tls or MPAY_TLS=0 (false, off, no)', () => {
    expect(tlsWanted(new Map([['no-tls', 'true']]), {})).toBe(false);
    for (const value of ['0', 'false', 'OFF', ' no '])
      expect(tlsWanted(new Map(), { MPAY_TLS: value })).toBe(false);
  });
});

describe('PlatformTls.reload', () => {
  let dataDir: string;
  let tls: PlatformTls | undefined;
  const servers: FastifyInstance[] = [];

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mpay-tls-reload-'));
    await ensurePlatformPki(dataDir);
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    await tls?.close();
    tls = undefined;
    await rm(dataDir, { recursive: true, force: true });
  });

  /**
   * A server of `service` with the platform's TLS; GET /peer answers the
   * fingerprint of the client's certificate and whether node:tls authorised it
   * under the port's trust bundle (a bank's port only requests one: phones
   * call it without).
   */
  async function serve(platform: PlatformTls, service: 'gateway' | 'xbank' | 'web'): Promise<number> {
    const app = createHttpServer({ name: service, tls: platform.server(service) });
    app.get('/peer', async (request) => ({
      fingerprint: (request.raw.socket as TLSSocket).getPeerCertificate().fingerprint256 ?? null,
      authorized: (request.raw.socket as TLSSocket).authorized,
    }));
    servers.push(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return (app.server.address() as { port: number }).port;
  }

  /**
   * A mutual-TLS call to `port`'s GET /peer from a client elsewhere (its own
   * key and certificate, trusting `caPem`): the fingerprint the server saw
   * and authorised, or 'refused' when either side refused the other.
   */
  function peerSeenWith(
    port: number,
    client: { readonly keyPem: string; readonly certPem: string },
    caPem: string,
  ): Promise<string> {
    return new Promise((done) => {
      const request = get(
        // A new connection each time (no keep-alive, no session to resume): the handshake decides.
        {
          host: '127.0.0.1',
          port,
          path: '/peer',
          key: client.keyPem,
          cert: client.certPem,
          ca: caPem,
          agent: false,
        },
        (answer) => {
          let body = '';
          answer.setEncoding('utf8');
          answer.on('data', (chunk: string) => {
            body += chunk;
          });
          answer.on('end', () => {
            const seen =
              answer.statusCode === 200
                ? (JSON.parse(body) as { fingerprint: string; authorized: boolean })
                : undefined;
            done(seen?.authorized === true ? seen.fingerprint : 'refused');
          });
        },
      );
      request.on('error', () => done('refused'));
    });
  }

  it('switches every server and client to the rotated certificates and says which', async () => {
    tls = await loadPlatformTls(dataDir, ['gateway', 'xbank', 'web']);
    const platform = tls;
    const gatewayPort = await serve(platform, 'gateway');
    const xbankPort = await serve(platform, 'xbank');
    const webPort = await serve(platform, 'web');
    // The gateway's client, as its requests and timers get it (its tlsClientScope).
    const gatewayFetch = platform.scope('gateway', () => tlsClientScope.source());
    if (gatewayFetch === undefined) throw new Error('no fetch in the gateway scope');
    const clientSeenByXbank = async () =>
      (
        (await (await gatewayFetch(`https://127.0.0.1:${xbankPort}/peer`, {})).json()) as {
          fingerprint: string;
        }
      ).fingerprint;
    const before = {
      gateway: await presentedAt(gatewayPort, platform.caPem),
      client: await clientSeenByXbank(),
    };
    expect(before.client).toBe(before.gateway);

    // Nothing rotated yet: a reload keeps every certificate and says so.
    for (const line of describeTlsReload(await platform.reload()))
      expect(line).toMatch(/^TLS reloaded: \S+ \(\S+\) certificate [0-9A-F]+ unchanged, valid until /);
    expect(await presentedAt(gatewayPort, platform.caPem)).toBe(before.gateway);

    await rotateDeploymentPki(dataDir);
    const changes = await platform.reload();
    expect(changes.map((change) => [change.service, change.institution])).toEqual([
      ['gateway', 'fsp.mpay'],
      ['xbank', 'xbank'],
      ['web', 'web.mpay'],
    ]);
    for (const change of changes) {
      expect(change.current.serialNumber).not.toBe(change.previous.serialNumber);
      expect(change.current.notAfter.getTime()).toBeGreaterThan(Date.now());
    }
    const [gateway, xbank, web] = changes;
    expect(gateway?.previous.fingerprint256).toBe(before.gateway);
    expect(await presentedAt(gatewayPort, platform.caPem)).toBe(gateway?.current.fingerprint256);
    expect(await presentedAt(xbankPort, platform.caPem)).toBe(xbank?.current.fingerprint256);
    expect(await presentedAt(webPort, platform.caPem)).toBe(web?.current.fingerprint256);
    // The same fetch function, now with the gateway's new certificate.
    expect(await clientSeenByXbank()).toBe(gateway?.current.fingerprint256);
    expect(describeTlsReload(changes)[0]).toMatch(
      /^TLS reloaded: gateway \(fsp\.mpay\) certificate [0-9A-F]+ → [0-9A-F]+, valid until \d{4}-\d\d-\d\dT/,
    );

    // A damaged file refuses the whole reload: every service keeps what it serves, the others' new files included.
    await rotateDeploymentPki(dataDir);
    const broken = join(dataDir, 'pki', 'web.mpay', 'web.cert.pem');
    await writeFile(broken, 'not a certificate\n');
    const refusal: unknown = await platform.reload().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isMpayError(refusal, 'PKI_INVALID')).toBe(true);
    expect((refusal as { detail?: string }).detail).toContain(broken);
    expect(await presentedAt(gatewayPort, platform.caPem)).toBe(gateway?.current.fingerprint256);
    expect(await presentedAt(webPort, platform.caPem)).toBe(web?.current.fingerprint256);
    expect(await clientSeenByXbank()).toBe(gateway?.current.fingerprint256);
  });

  it('takes a revocation to every service at the reload: the revoked certificate is refused where an institution is asked for', async () => {
    tls = await loadPlatformTls(dataDir, ['gateway', 'xbank']);
    const platform = tls;
    const gatewayPort = await serve(platform, 'gateway');
    const oldXbank = await loadServiceTls(dataDir, 'xbank', 'bank');
    // A request that claims xbank as its signer (an MPay header's iss, read unverified by the port's
    // check): the gateway's port asks for xbank's certificate; its answer, or how it refused.
    const claimAsXbank = (client: { readonly keyPem: string; readonly certPem: string }) =>
      new Promise<string>((done) => {
        const claim = Buffer.from(JSON.stringify({ iss: 'xbank' })).toString('base64url');
        const request = get(
          {
            host: '127.0.0.1',
            port: gatewayPort,
            path: '/peer',
            key: client.keyPem,
            cert: client.certPem,
            ca: platform.caPem,
            agent: false,
            headers: { authorization: `MPay e30.${claim}.sig` },
          },
          (answer) => {
            let body = '';
            answer.setEncoding('utf8');
            answer.on('data', (chunk: string) => {
              body += chunk;
            });
            answer.on('end', () =>
              done(
                answer.statusCode === 200
                  ? 'answered'
                  : (JSON.parse(body) as { error: { code: string } }).error.code,
              ),
            );
          },
        );
        request.on('error', (error) => done(`error ${error.message}`));
      });
    expect(await claimAsXbank(oldXbank)).toBe('answered');

    await revokeServiceCertificate(
      dataDir,
      { institution: 'xbank', service: 'bank' },
      { onNote: () => undefined },
    );
    const changes = await platform.reload();
    // The gateway's files did not change, its revocation lists did: it switched all the same, and says so.
    const lines = describeTlsReload(changes);
    expect(lines[0]).toMatch(
      /^TLS reloaded: gateway \(fsp\.mpay\) certificate [0-9A-F]+ unchanged, .*, refusing 1 revoked$/,
    );
    expect(lines[1]).toMatch(
      /^TLS reloaded: xbank \(xbank\) certificate [0-9A-F]+ → [0-9A-F]+, .*, refusing 1 revoked$/,
    );
    expect(await claimAsXbank(oldXbank)).toBe('TLS_PEER_REFUSED');
    expect(await claimAsXbank(await loadServiceTls(dataDir, 'xbank', 'bank'))).toBe('answered');
  });

  it('refuses a server presenting a revoked certificate from every client of the process, the CLI’s too; a list removed keeps it refused', async () => {
    const warnings: string[] = [];
    tls = await loadPlatformTls(dataDir, ['gateway'], new Date(), (line) => warnings.push(line));
    const platform = tls;
    // A bank's port elsewhere still presenting the certificate about to be revoked (its key leaked).
    const leaked = await loadServiceTls(dataDir, 'xbank', 'bank');
    const impostor = createHttpServer({ name: 'impostor', tls: publicServerTls(leaked) });
    impostor.get('/peer', async () => ({ ok: true }));
    servers.push(impostor);
    await impostor.listen({ port: 0, host: '127.0.0.1' });
    const url = `https://localhost:${(impostor.server.address() as { port: number }).port}/peer`;
    const gatewayFetch = platform.scope('gateway', () => tlsClientScope.source());
    if (gatewayFetch === undefined) throw new Error('no fetch in the gateway scope');
    const outcome = (call: () => Promise<Response>) =>
      call().then(
        (answer) => `HTTP ${answer.status}`,
        (error: unknown) => {
          const parts: string[] = [];
          for (let current = error; current instanceof Error; current = current.cause)
            parts.push(String((current as { code?: unknown }).code ?? current.message));
          return parts.join(' | ');
        },
      );
    expect(await outcome(() => platform.fetch(url, {}))).toBe('HTTP 200');

    await revokeServiceCertificate(
      dataDir,
      { institution: 'xbank', service: 'bank' },
      { onNote: () => undefined },
    );
    await platform.reload();
    expect(platform.revokedSerials.size).toBe(1);
    // The process's client without a certificate (the seed, the web proxy), and a service's own client.
    expect(await outcome(() => platform.fetch(url, {}))).toContain('ERR_TLS_CERT_REVOKED');
    expect(await outcome(() => gatewayFetch(url, {}))).toContain('ERR_TLS_CERT_REVOKED');
    // The CLI's client (mpay demo, audit, …) reads the lists beside the CA.
    const globalFetch = globalThis.fetch;
    try {
      await trustDeploymentCa(platform.caPath);
      expect(await outcome(() => globalThis.fetch(url))).toContain('ERR_TLS_CERT_REVOKED');
    } finally {
      globalThis.fetch = globalFetch;
    }

    // The list deleted (or an older copy restored): a running platform does not un-revoke, and says so.
    await rm(join(dataDir, 'pki', 'crl'), { recursive: true });
    await platform.reload();
    expect(
      warnings.some((line) => line.includes('fewer than before') && line.includes('until a restart')),
    ).toBe(true);
    expect(platform.revokedSerials.size).toBe(1);
    expect(await outcome(() => platform.fetch(url, {}))).toContain('ERR_TLS_CERT_REVOKED');
    expect(await outcome(() => gatewayFetch(url, {}))).toContain('ERR_TLS_CERT_REVOKED');
  });

  it('follows a CA rotation: both CAs trusted after begin, the new certificates after switch, one CA after retire', async () => {
    tls = await loadPlatformTls(dataDir, ['gateway', 'xbank']);
    const platform = tls;
    const gatewayPort = await serve(platform, 'gateway');
    const xbankPort = await serve(platform, 'xbank');
    // An institution on another machine that keeps its certificate of the old CA (a client of xbank's port).
    const oldClient = await loadServiceTls(dataDir, 'ybank', 'bank');
    const oldClientFingerprint = new X509Certificate(oldClient.certPem).fingerprint256;
    expect(await peerSeenWith(xbankPort, oldClient, platform.caPem)).toBe(oldClientFingerprint);
    const count = (pem: string) => pem.split('-----BEGIN CERTIFICATE-----').length - 1;
    expect(count(platform.caPem)).toBe(1);
    const before = await presentedAt(gatewayPort, platform.caPem);
    // A server of the old CA that the rotation does not reach (an institution on another machine, not yet switched).
    const elsewhere = createHttpServer({
      name: 'elsewhere',
      tls: publicServerTls(await loadServiceTls(dataDir, 'xbank', 'bank')),
    });
    elsewhere.get('/ok', async () => ({ ok: true }));
    servers.push(elsewhere);
    await elsewhere.listen({ port: 0, host: '127.0.0.1' });
    const elsewhereUrl = `https://localhost:${(elsewhere.server.address() as { port: number }).port}/ok`;
    const statusWith = (fetchWith: (url: string) => Promise<Response>) =>
      fetchWith(elsewhereUrl).then(
        (answer) => answer.status,
        () => 'refused',
      );

    await beginCaRotation(dataDir);
    const afterBegin = await platform.reload();
    expect(
      afterBegin.every((change) => change.previous.fingerprint256 === change.current.fingerprint256),
    ).toBe(true);
    expect(count(platform.caPem)).toBe(2);
    expect(describeTlsReload(afterBegin)[0]).toMatch(
      /^TLS reloaded: gateway \(fsp\.mpay\) certificate [0-9A-F]+ unchanged, valid until \S+, trusting 2 CAs \(a CA rotation\)$/,
    );
    const bundleOfBegin = platform.caPem;

    await switchCa(dataDir);
    const afterSwitch = await platform.reload();
    const gateway = afterSwitch.find((change) => change.service === 'gateway');
    expect(gateway?.current.fingerprint256).not.toBe(before);
    // New connections get the certificate of the new CA; the bundle of the begin step (old + new) verifies it.
    expect(await presentedAt(gatewayPort, bundleOfBegin)).toBe(gateway?.current.fingerprint256);
    // Mutual TLS through the trust period, after the reload: the old CA's client still gets in …
    expect(await peerSeenWith(xbankPort, oldClient, bundleOfBegin)).toBe(oldClientFingerprint);
    // … and the gateway's client, now of the new CA, too.
    const gatewayFetch = platform.scope('gateway', () => tlsClientScope.source());
    if (gatewayFetch === undefined) throw new Error('no fetch in the gateway scope');
    const answer = await gatewayFetch(`https://127.0.0.1:${xbankPort}/peer`, {});
    expect(((await answer.json()) as { fingerprint: string }).fingerprint).toBe(
      gateway?.current.fingerprint256,
    );
    expect(count(platform.caPem)).toBe(2);
    // The process's CA-only client and a CLI command (trustDeploymentCa) trust the previous CA still.
    expect(await statusWith((url) => platform.fetch(url, {}))).toBe(200);
    const globalFetch = globalThis.fetch;
    try {
      await trustDeploymentCa(platform.caPath);
      expect(await statusWith((url) => globalThis.fetch(url))).toBe(200);
    } finally {
      globalThis.fetch = globalFetch;
    }

    await retireCa(dataDir);
    await platform.reload();
    expect(count(platform.caPem)).toBe(1);
    // After the retirement the old CA's client certificate is refused, the server's trust bundle reloaded.
    expect(await peerSeenWith(xbankPort, oldClient, bundleOfBegin)).toBe('refused');
    expect(await statusWith((url) => platform.fetch(url, {}))).toBe('refused');
    expect(await presentedAt(gatewayPort, platform.caPem)).toBe(gateway?.current.fingerprint256);
  });

  it('does not trust a CA dropped into the folder as the next CA after a reload (no proof), and warns once naming it', async () => {
    const warnings: string[] = [];
    tls = await loadPlatformTls(dataDir, ['xbank'], new Date(), (line) => warnings.push(line));
    const platform = tls;
    const xbankPort = await serve(platform, 'xbank');
    const pki = join(dataDir, 'pki');
    // Someone with write access to the folder (or to what is copied to another machine) drops a CA and holds a leaf of it.
    const foreign = await createDeploymentCa({ now: new Date(), label: 'intruder' });
    await writeFile(join(pki, 'ca.next.cert.pem'), foreign.certPem);
    const intruder = await issueServiceCertificate(
      foreign,
      { institution: 'ybank', service: 'bank' },
      { now: new Date() },
    );
    const changes = await platform.reload();
    expect(changes.map((change) => change.trustedCas)).toEqual([1]);
    expect(warnings).toEqual([
      expect.stringMatching(
        /^\S+\/pki\/ca\.next\.cert\.pem: not trusted \(no proof in \S+ca\.next\.proof\.json\): run `mpay pki ca begin` again/,
      ),
    ]);
    expect(await peerSeenWith(xbankPort, intruder, foreign.certPem)).toBe('refused');
    // The same handshake with a leaf of a next CA the current one proved (begin) is accepted after the reload.
    await beginCaRotation(dataDir);
    await platform.reload();
    expect(warnings).toHaveLength(1);
    const next = {
      keyPem: await readFile(join(pki, 'ca.next.key.pem'), 'utf8'),
      certPem: await readFile(join(pki, 'ca.next.cert.pem'), 'utf8'),
    };
    const proven = await issueServiceCertificate(
      next,
      { institution: 'ybank', service: 'bank' },
      { now: new Date() },
    );
    expect(await peerSeenWith(xbankPort, proven, platform.caPem)).toBe(
      new X509Certificate(proven.certPem).fingerprint256,
    );
  });

  it('refuses certificates of another CA outside a rotation (a new CA needs a restart)', async () => {
    tls = await loadPlatformTls(dataDir, ['gateway']);
    const port = await serve(tls, 'gateway');
    const before = await presentedAt(port, tls.caPem);
    await rm(join(dataDir, 'pki'), { recursive: true });
    await ensurePlatformPki(dataDir);
    const refusal: unknown = await tls.reload().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isMpayError(refusal, 'PKI_INVALID')).toBe(true);
    expect((refusal as { detail?: string }).detail).toMatch(
      /ca\.cert\.pem: none of the CAs the platform trusts now/,
    );
    expect(await presentedAt(port, tls.caPem)).toBe(before);
  });
});

describe('trustDeploymentCa (the CLI commands that call a TLS deployment)', () => {
  let dataDir: string;
  const globalFetch = globalThis.fetch;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mpay-tls-trust-'));
    await ensurePlatformPki(dataDir);
  });
  afterEach(async () => {
    globalThis.fetch = globalFetch;
    await rm(dataDir, { recursive: true, force: true });
  });

  it("applies the services' checks: a sibling that is not a CA, expired or unreadable is left out with a warning", async () => {
    const pki = join(dataDir, 'pki');
    const caPath = join(pki, 'ca.cert.pem');
    // A service certificate copied as the previous CA: not a CA.
    await copyFile(join(pki, 'xbank', 'bank.cert.pem'), join(pki, 'ca.previous.cert.pem'));
    // A CA that expired, as the next one.
    const past = new Date('2020-01-01T00:00:00Z');
    const expired = await createDeploymentCa({
      now: past,
      label: 'expired',
      limits: { caValidityDays: 2, leafValidityDays: 1, leafRenewBeforeDays: 0, caProofValidityDays: 1 },
    });
    await writeFile(join(pki, 'ca.next.cert.pem'), expired.certPem);
    let warnings: string[] = [];
    await trustDeploymentCa(caPath, new Date(), (line) => warnings.push(line));
    expect(warnings).toEqual([
      expect.stringMatching(
        /ca\.next\.cert\.pem: not trusted \(the CA expired on 2020-01-03T00:00:00\.000Z\)/,
      ),
      expect.stringMatching(/ca\.previous\.cert\.pem: not trusted \(not a CA certificate\)/),
    ]);
    // Unreadable (a folder where the file should be): said, not skipped silently.
    await rm(join(pki, 'ca.next.cert.pem'));
    await mkdir(join(pki, 'ca.next.cert.pem'));
    warnings = [];
    await trustDeploymentCa(caPath, new Date(), (line) => warnings.push(line));
    expect(warnings[0]).toMatch(/ca\.next\.cert\.pem: not trusted \(unreadable: not a regular file\)/);
  });

  it('is PKI_INVALID naming the file for a current CA that is missing', async () => {
    const missing = join(dataDir, 'elsewhere', 'ca.cert.pem');
    const refusal: unknown = await trustDeploymentCa(missing).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isMpayError(refusal, 'PKI_INVALID')).toBe(true);
    expect((refusal as { detail?: string }).detail).toBe(`${missing}: missing`);
  });
});
