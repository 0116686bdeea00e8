import { createPrivateKey, X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpServer } from '@mpay/http-server';
import { isMpayError } from '@mpay/protocol';
import { fetch as undiciFetch } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDeploymentCa, issueServiceCertificate } from './ca.ts';
import { signCaProof } from './ca-proof.ts';
import { beginCaRotation, caRotationState, retireCa, switchCa } from './ca-rotation.ts';
import { createTlsAgent } from './client.ts';
import { createUnconstrainedCa } from './forge.test-helper.ts';
import { isIssuedBy } from './inspect.ts';
import { describeSubtree, nameConstraintsOf } from './name-constraints.ts';
import { institutionServerTls } from './server.ts';
import {
  caPathsOf,
  caRotationPathsOf,
  type DeploymentInstitution,
  ensureDeploymentPki,
  fileStepsForTests,
  issueDeploymentCertificate,
  listDeploymentPki,
  loadDeploymentTrust,
  loadServiceTls,
  rotateDeploymentPki,
  type ServiceTlsMaterial,
  servicePathsOf,
} from './store.ts';

const institutions: DeploymentInstitution[] = [
  { id: 'xbank', services: [{ name: 'bank', hosts: ['bank.xbank.example'] }] },
  { id: 'ybank', services: ['bank'] },
];

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-ca-rotation-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/**
 * What switchCa writes first: the next CA's proof of the current one as
 * `previous`, signed with the next key (a test writes the switch's files one
 * by one to stop where a crash would).
 */
async function provePrevious(oldCaPem: string): Promise<void> {
  const rotation = caRotationPathsOf(dataDir);
  const nextKeyPem = await readFile(rotation.next.keyPath, 'utf8');
  await writeFile(
    rotation.previousProofPath,
    signCaProof({
      signerKeyPem: nextKeyPem,
      signer: new X509Certificate(await readFile(rotation.next.certPath, 'utf8')),
      subject: new X509Certificate(oldCaPem),
      role: 'previous',
      now: new Date(),
      validityDays: 365,
      backdateSeconds: 300,
    }),
  );
}

/** The error `work` fails with (the test fails when it does not). */
async function failureOf(work: () => Promise<unknown>): Promise<{ code: string; detail: string }> {
  const error: unknown = await work().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isMpayError(error)) throw new Error(`expected an MpayError, got ${String(error)}`);
  return { code: error.code, detail: error.detail ?? '' };
}

const certificatesIn = (bundle: string) =>
  (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (pem) => new X509Certificate(pem),
  );

/**
 * One mutual-TLS call (the institution port's rules, as every service has
 * them): a server with `server`'s certificate and trust bundle, a client
 * with `client`'s. The institution the server saw, or why the call failed.
 */
async function call(server: ServiceTlsMaterial, client: ServiceTlsMaterial): Promise<string> {
  const app = createHttpServer({ name: 'rotation', tls: institutionServerTls(server) });
  app.get('/peer', async (request) => ({
    institution: (request.raw.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.O,
  }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const agent = createTlsAgent(client);
  try {
    const answer = await undiciFetch(`${url.replace('127.0.0.1', 'localhost')}/peer`, { dispatcher: agent });
    const body = (await answer.json()) as { institution?: string };
    return answer.status === 200 ? `ok ${body.institution}` : `status ${answer.status}`;
  } catch (error) {
    const causes: string[] = [];
    for (let current = error; current instanceof Error; current = current.cause)
      causes.push(String((current as { code?: unknown }).code ?? current.message));
    return `refused ${causes.join(' | ')}`;
  } finally {
    await agent.close();
    await app.close();
  }
}

describe('a CA rotation in three steps', () => {
  it('trusts both CAs from begin to retire, so old and new certificates meet either way, and the old one is refused after retire', async () => {
    await ensureDeploymentPki(dataDir, institutions);
    const oldCaPem = await readFile(caPathsOf(dataDir).certPath, 'utf8');
    const oldCa = new X509Certificate(oldCaPem);
    const beforeBegin = await loadServiceTls(dataDir, 'xbank', 'bank');
    expect(certificatesIn(beforeBegin.caPem)).toHaveLength(1);

    // 1. begin: a next CA with the same name constraints, trusted beside the current one; no leaf changes.
    const begun = await beginCaRotation(dataDir);
    expect(begun.paths).toEqual([
      caRotationPathsOf(dataDir).next.keyPath,
      caRotationPathsOf(dataDir).next.certPath,
      caRotationPathsOf(dataDir).next.proofPath,
    ]);
    expect(await caRotationState(dataDir)).toBe('begun');
    const nextPem = await readFile(caRotationPathsOf(dataDir).next.certPath, 'utf8');
    const next = new X509Certificate(nextPem);
    expect(next.ca).toBe(true);
    expect(next.fingerprint256).not.toBe(oldCa.fingerprint256);
    expect(next.subject).toMatch(/^O=mpay deployment\nCN=mpay deployment CA [0-9a-f]{8}$/);
    expect(nameConstraintsOf(nextPem)?.permitted.map(describeSubtree)).toEqual(
      nameConstraintsOf(oldCaPem)?.permitted.map(describeSubtree),
    );
    expect((await stat(caRotationPathsOf(dataDir).next.keyPath)).mode & 0o777).toBe(0o600);
    // Machine A (xbank) has only had the begin step: its old certificate, both CAs trusted.
    const xbankAfterBegin = await loadServiceTls(dataDir, 'xbank', 'bank');
    expect(xbankAfterBegin.certPem).toBe(beforeBegin.certPem);
    expect(certificatesIn(xbankAfterBegin.caPem).map((ca) => ca.fingerprint256)).toEqual([
      oldCa.fingerprint256,
      next.fingerprint256,
    ]);

    // 2. switch: the next CA issues, every leaf reissued by it; the old CA trusted as previous.
    const switched = await switchCa(dataDir);
    expect(
      switched.services?.map((entry) => `${entry.institution}/${entry.service} ${entry.action}`),
    ).toEqual(['xbank/bank reissued', 'ybank/bank reissued']);
    expect(await caRotationState(dataDir)).toBe('switched');
    expect(await readFile(caPathsOf(dataDir).certPath, 'utf8')).toBe(nextPem);
    expect(await readFile(caRotationPathsOf(dataDir).previousCertPath, 'utf8')).toBe(oldCaPem);
    const files = await readdir(join(dataDir, 'pki'));
    expect(files.filter((file) => file.startsWith('ca.')).sort()).toEqual([
      'ca.cert.pem',
      'ca.key.pem',
      'ca.previous.cert.pem',
      'ca.previous.proof.json',
    ]);
    expect(next.checkPrivateKey(createPrivateKey(await readFile(caPathsOf(dataDir).keyPath, 'utf8')))).toBe(
      true,
    );
    // Machine B (ybank) switched: its new certificate, the new CA and the previous one trusted.
    const ybankAfterSwitch = await loadServiceTls(dataDir, 'ybank', 'bank');
    const xbankAfterSwitch = await loadServiceTls(dataDir, 'xbank', 'bank');
    for (const material of [ybankAfterSwitch, xbankAfterSwitch]) {
      expect(isIssuedBy(new X509Certificate(material.certPem), next)).toBe(true);
      expect(certificatesIn(material.caPem).map((ca) => ca.fingerprint256)).toEqual([
        next.fingerprint256,
        oldCa.fingerprint256,
      ]);
    }
    // The reissued leaf keeps its host.
    expect(new X509Certificate(xbankAfterSwitch.certPem).subjectAltName).toContain('DNS:bank.xbank.example');

    // The trust period: an old-CA server accepts a new-CA client, and a new-CA server an old-CA client.
    expect(await call(xbankAfterBegin, ybankAfterSwitch)).toBe('ok ybank');
    expect(await call(ybankAfterSwitch, xbankAfterBegin)).toBe('ok xbank');
    expect(await call(ybankAfterSwitch, xbankAfterSwitch)).toBe('ok xbank');

    // 3. retire: only the new CA trusted; an old-CA certificate is refused either way.
    await retireCa(dataDir);
    expect(await caRotationState(dataDir)).toBe('none');
    const ybankAfterRetire = await loadServiceTls(dataDir, 'ybank', 'bank');
    expect(certificatesIn(ybankAfterRetire.caPem).map((ca) => ca.fingerprint256)).toEqual([
      next.fingerprint256,
    ]);
    expect(await call(ybankAfterRetire, xbankAfterSwitch)).toBe('ok xbank');
    expect(await call(ybankAfterRetire, xbankAfterBegin)).toMatch(/^refused /);
    // The client trusts the new CA only: the old server's chain ends in a CA it does not know.
    expect(await call(xbankAfterBegin, ybankAfterRetire)).toMatch(
      /^refused .*(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/,
    );
  });

  it('refuses steps out of order, and retire while a certificate of the previous CA remains', async () => {
    await ensureDeploymentPki(dataDir, institutions);
    for (const [step, pattern] of [
      [switchCa, /ca\.next\.cert\.pem: missing: no next CA to switch to \(`mpay pki ca begin` first\)/],
      [retireCa, /ca\.previous\.cert\.pem: missing: no previous CA to retire/],
    ] as const) {
      const refused = await failureOf(() => step(dataDir));
      expect(refused.code).toBe('PKI_INVALID');
      expect(refused.detail).toMatch(pattern);
    }
    const oldLeaf = servicePathsOf(dataDir, 'xbank', 'bank');
    const saved = { key: `${oldLeaf.keyPath}.saved`, cert: `${oldLeaf.certPath}.saved` };
    await copyFile(oldLeaf.keyPath, saved.key);
    await copyFile(oldLeaf.certPath, saved.cert);

    await beginCaRotation(dataDir);
    expect((await failureOf(() => beginCaRotation(dataDir))).detail).toMatch(/a rotation has begun already/);
    expect((await failureOf(() => retireCa(dataDir))).detail).toMatch(
      /has not switched yet \(`mpay pki ca switch` first\)/,
    );

    await switchCa(dataDir);
    expect((await failureOf(() => switchCa(dataDir))).detail).toMatch(/the switch is done/);
    expect((await failureOf(() => beginCaRotation(dataDir))).detail).toMatch(
      /the previous CA is still trusted: `mpay pki ca retire` it before a new rotation/,
    );
    // An old-CA certificate put back (a machine not yet switched, copied here): retire refuses, naming it.
    await copyFile(saved.key, oldLeaf.keyPath);
    await copyFile(saved.cert, oldLeaf.certPath);
    const refused = await failureOf(() => retireCa(dataDir));
    expect(refused.code).toBe('PKI_INVALID');
    expect(refused.detail).toContain(`still the issuer of ${oldLeaf.certPath}`);
    expect(await caRotationState(dataDir)).toBe('switched');
    // The list says which CA issued what.
    const listed = await listDeploymentPki(dataDir);
    expect(listed.filter((entry) => entry.role === 'ca').map((entry) => entry.caRole)).toEqual([
      'current',
      'previous',
    ]);
    expect(listed.find((entry) => entry.institution === 'xbank')?.issuedBy).toBe('previous');
    expect(listed.find((entry) => entry.institution === 'ybank')?.issuedBy).toBe('current');
    await rotateDeploymentPki(dataDir);
    await retireCa(dataDir);
    await expect(stat(caRotationPathsOf(dataDir).previousCertPath)).rejects.toThrow(/ENOENT/);
  });

  it('goes on after a switch interrupted between its renames; the trust bundle holds both CAs meanwhile', async () => {
    await ensureDeploymentPki(dataDir, institutions);
    const oldCaPem = await readFile(caPathsOf(dataDir).certPath, 'utf8');
    await beginCaRotation(dataDir);
    const rotation = caRotationPathsOf(dataDir);
    const nextPem = await readFile(rotation.next.certPath, 'utf8');
    // A crash after step 2: previous proven and written, ca.cert.pem the next CA's, ca.key.pem still the old one's.
    await provePrevious(oldCaPem);
    await writeFile(rotation.previousCertPath, oldCaPem);
    await writeFile(caPathsOf(dataDir).certPath, nextPem);
    expect(await caRotationState(dataDir)).toBe('switching');
    const trust = await loadDeploymentTrust(dataDir);
    expect(trust.anchors.map((anchor) => anchor.role)).toEqual(['current', 'previous']);
    // Services still load (their old certificates, the old CA in the bundle as previous) …
    expect((await loadServiceTls(dataDir, 'xbank', 'bank')).institution).toBe('xbank');
    // … issuing names the interrupted switch; begin and retire refuse.
    expect(
      (await failureOf(() => issueDeploymentCertificate(dataDir, { institution: 'xbank', service: 'bank' })))
        .detail,
    ).toMatch(
      /ca\.key\.pem: not the key of .*ca\.cert\.pem \(a `mpay pki ca switch` was interrupted: run it again\)/,
    );
    expect((await failureOf(() => beginCaRotation(dataDir))).detail).toMatch(/was interrupted: run it again/);
    expect((await failureOf(() => retireCa(dataDir))).detail).toMatch(/was interrupted: run it again first/);
    const done = await switchCa(dataDir);
    expect(done.services).toHaveLength(2);
    expect(await caRotationState(dataDir)).toBe('switched');
    const next = new X509Certificate(nextPem);
    for (const institution of ['xbank', 'ybank']) {
      const leaf = new X509Certificate(
        await readFile(servicePathsOf(dataDir, institution, 'bank').certPath, 'utf8'),
      );
      expect(isIssuedBy(leaf, next)).toBe(true);
    }
    await retireCa(dataDir);
    expect(await caRotationState(dataDir)).toBe('none');
  });

  /**
   * The switch stopped after each of its file steps in turn, as a crash would:
   * the steps are counted where the code takes them (fileStepsForTests), so
   * the walk follows switchCa's own order, the reissue of every service
   * certificate included (a key and a certificate each).
   */
  it('starts (mpay up) after a switch stopped at any of its file steps, and a switch run again finishes', async () => {
    const crash = new Error('crash (test)');
    const stoppedBy = (error: unknown) => {
      for (let current = error; current instanceof Error; current = current.cause)
        if (current === crash) return true;
      return false;
    };
    const walked: string[] = [];
    let finished = false;
    for (let stopAfter = 1; stopAfter <= 64 && !finished; stopAfter += 1) {
      const folder = await mkdtemp(join(tmpdir(), 'mpay-ca-switch-walk-'));
      try {
        await ensureDeploymentPki(folder, institutions, { onNote: () => undefined });
        const oldCa = new X509Certificate(await readFile(caPathsOf(folder).certPath, 'utf8'));
        await beginCaRotation(folder);
        const nextCa = new X509Certificate(await readFile(caRotationPathsOf(folder).next.certPath, 'utf8'));
        let steps = 0;
        let stoppedAfter: string | undefined;
        fileStepsForTests.after = (path) => {
          // Only this walk's folder: a walk cut short by a timeout must not stop another test's writes.
          if (!path.startsWith(folder)) return;
          steps += 1;
          if (steps === stopAfter) {
            stoppedAfter = path;
            throw crash;
          }
        };
        const outcome = await switchCa(folder).then(
          () => 'finished',
          (error: unknown) => {
            if (stoppedBy(error)) return 'stopped';
            throw error;
          },
        );
        fileStepsForTests.after = undefined;
        if (outcome === 'finished') {
          finished = true;
          break;
        }
        walked.push(stoppedAfter?.slice(folder.length) ?? '?');
        // The trust bundle (what every service loads, here or on a copy) holds both CAs, with no warning.
        const trust = await loadDeploymentTrust(folder);
        expect(trust.warnings, `after ${stoppedAfter}`).toEqual([]);
        expect(trust.anchors.map((anchor) => anchor.certificate.fingerprint256).sort()).toEqual(
          [oldCa.fingerprint256, nextCa.fingerprint256].sort(),
        );
        // mpay up: it starts, and every service loads its certificate, issued by a CA it trusts.
        const report = await ensureDeploymentPki(folder, institutions, { onNote: () => undefined });
        const keyIsOld = oldCa.checkPrivateKey(
          createPrivateKey(await readFile(caPathsOf(folder).keyPath, 'utf8')),
        );
        const certificateIsNext =
          new X509Certificate(await readFile(caPathsOf(folder).certPath, 'utf8')).fingerprint256 ===
          nextCa.fingerprint256;
        // Only between the certificate's rename and the key's can nothing be issued: the start says so.
        expect(report.warnings ?? [], `after ${stoppedAfter}`).toEqual(
          certificateIsNext && keyIsOld
            ? [expect.stringMatching(/a `mpay pki ca switch` was interrupted; run it again/)]
            : [],
        );
        for (const institution of ['xbank', 'ybank']) {
          const material = await loadServiceTls(folder, institution, 'bank');
          const leaf = new X509Certificate(material.certPem);
          expect(isIssuedBy(leaf, oldCa) || isIssuedBy(leaf, nextCa), `after ${stoppedAfter}`).toBe(true);
        }
        // The switch run again finishes it, or says it is done (the next files gone: the start reissued the rest).
        const again = await switchCa(folder).then(
          () => undefined,
          (error: unknown) => error,
        );
        if (again !== undefined) expect((again as { detail?: string }).detail).toMatch(/the switch is done/);
        expect(await caRotationState(folder)).toBe('switched');
        await ensureDeploymentPki(folder, institutions, { onNote: () => undefined });
        for (const institution of ['xbank', 'ybank']) {
          const leaf = await readFile(servicePathsOf(folder, institution, 'bank').certPath, 'utf8');
          expect(isIssuedBy(new X509Certificate(leaf), nextCa), `after ${stoppedAfter}`).toBe(true);
        }
        await retireCa(folder);
        expect(await caRotationState(folder)).toBe('none');
      } finally {
        fileStepsForTests.after = undefined;
        await rm(folder, { recursive: true, force: true });
      }
    }
    expect(finished).toBe(true);
    // Every step of the switch was a stop: its proof, the previous CA, the CA's certificate and key, the
    // next files, then each service's key and certificate (two banks).
    expect(walked).toEqual([
      '/pki/ca.previous.proof.json',
      '/pki/ca.previous.cert.pem',
      '/pki/ca.cert.pem',
      '/pki/ca.key.pem',
      '/pki/ca.next.key.pem',
      '/pki/ca.next.cert.pem',
      '/pki/ca.next.proof.json',
      '/pki/xbank/bank.key.pem',
      '/pki/xbank/bank.cert.pem',
      '/pki/ybank/bank.key.pem',
      '/pki/ybank/bank.cert.pem',
    ]);
  });

  it('warns of a CA without name constraints, and replaces it by a constrained one', async () => {
    await ensureDeploymentPki(dataDir, institutions);
    const legacy = await createUnconstrainedCa(new Date(), 'legacy');
    await writeFile(caPathsOf(dataDir).keyPath, legacy.keyPem);
    await writeFile(caPathsOf(dataDir).certPath, legacy.certPem);
    const report = await ensureDeploymentPki(dataDir, institutions);
    expect(report.warnings).toEqual([
      `${caPathsOf(dataDir).certPath}: this CA has no name constraints (made by an older mpay): whoever trusts it trusts it for every site; \`mpay pki ca begin\` then \`mpay pki ca switch\` replace it by a name-constrained CA`,
    ]);
    await beginCaRotation(dataDir);
    await switchCa(dataDir);
    await retireCa(dataDir);
    const constraints = nameConstraintsOf(await readFile(caPathsOf(dataDir).certPath, 'utf8'));
    expect(constraints?.permitted.map(describeSubtree)).toEqual([
      'DNS:localhost',
      'DNS:bank.xbank.example',
      'IP:127.0.0.0/8',
      'IP:::1/128',
    ]);
    expect((await ensureDeploymentPki(dataDir, institutions)).warnings).toEqual([]);
  });
});

describe('a CA in the folder that is not the current one', () => {
  /** A CA from elsewhere, a leaf of it for ybank/bank, and its files dropped into the folder as the next CA. */
  async function dropForeignNextCa(proofSignedBy?: 'itself'): Promise<ServiceTlsMaterial> {
    const foreign = await createDeploymentCa({ now: new Date(), label: 'foreign' });
    const rotation = caRotationPathsOf(dataDir);
    await writeFile(rotation.next.certPath, foreign.certPem);
    if (proofSignedBy === 'itself') {
      // A proof of the right form, for this certificate and role, but signed with the dropped CA's own key.
      const certificate = new X509Certificate(foreign.certPem);
      await writeFile(
        rotation.next.proofPath,
        signCaProof({
          signerKeyPem: foreign.keyPem,
          signer: certificate,
          subject: certificate,
          role: 'next',
          now: new Date(),
          validityDays: 365,
          backdateSeconds: 300,
        }),
      );
    }
    const leaf = await issueServiceCertificate(
      foreign,
      { institution: 'ybank', service: 'bank' },
      { now: new Date() },
    );
    return { institution: 'ybank', service: 'bank', ...leaf, caPem: foreign.certPem };
  }

  it.each([
    [
      'without a proof',
      undefined,
      /ca\.next\.cert\.pem: not trusted \(no proof in \S+ca\.next\.proof\.json\)/,
    ],
    [
      "with a proof made by the dropped CA's own key",
      'itself',
      /ca\.next\.cert\.pem: not trusted \(a proof not signed by the current CA's key in \S+ca\.next\.proof\.json\)/,
    ],
  ] as const)(
    'dropped as the next CA %s is left out of the bundle with a warning; its leaf is refused',
    async (_, signer, warning) => {
      await ensureDeploymentPki(dataDir, institutions);
      const xbank = await loadServiceTls(dataDir, 'xbank', 'bank');
      const intruder = await dropForeignNextCa(signer);
      const trust = await loadDeploymentTrust(dataDir);
      expect(trust.anchors.map((anchor) => anchor.role)).toEqual(['current']);
      expect(trust.warnings).toEqual([expect.stringMatching(warning)]);
      expect(trust.warnings[0]).toContain('run `mpay pki ca begin` again');
      // What a reload loads: xbank's server trusts the current CA only, so the intruder's leaf is refused.
      const reloaded = await loadServiceTls(dataDir, 'xbank', 'bank');
      expect(reloaded.caPem).toBe(xbank.caPem);
      expect(await call(reloaded, intruder)).toMatch(/^refused /);
      // No rotation: switch refuses to make it the CA, begin replaces it by a proven next CA.
      expect(await caRotationState(dataDir)).toBe('none');
      expect((await failureOf(() => switchCa(dataDir))).detail).toMatch(
        /ca\.next\.cert\.pem: not proven by the current CA .*run `mpay pki ca begin` again/,
      );
      await beginCaRotation(dataDir);
      expect(await caRotationState(dataDir)).toBe('begun');
      expect((await loadDeploymentTrust(dataDir)).warnings).toEqual([]);
    },
  );

  it('is not trusted by a proof of another role (a next proof copied as the previous one)', async () => {
    await ensureDeploymentPki(dataDir, institutions);
    await beginCaRotation(dataDir);
    const rotation = caRotationPathsOf(dataDir);
    await copyFile(rotation.next.certPath, rotation.previousCertPath);
    await copyFile(rotation.next.proofPath, rotation.previousProofPath);
    await rm(rotation.next.certPath);
    const trust = await loadDeploymentTrust(dataDir);
    expect(trust.anchors).toHaveLength(1);
    expect(trust.warnings).toEqual([
      expect.stringMatching(
        /ca\.previous\.cert\.pem: not trusted \(a proof for the next CA, not the previous one in /,
      ),
    ]);
  });

  it('a previous CA that expired is left out with a warning naming the file and its notAfter, and listed as expired and not trusted', async () => {
    const start = new Date('2026-01-01T00:00:00Z');
    const limits = {
      caValidityDays: 120,
      leafValidityDays: 30,
      leafRenewBeforeDays: 10,
      caProofValidityDays: 60,
    };
    await ensureDeploymentPki(dataDir, institutions, { now: start, limits });
    const oldCa = new X509Certificate(await readFile(caPathsOf(dataDir).certPath, 'utf8'));
    await beginCaRotation(dataDir, { now: new Date('2026-03-01T00:00:00Z'), limits });
    await switchCa(dataDir, { now: new Date('2026-03-02T00:00:00Z'), limits });
    const before = await loadDeploymentTrust(dataDir, new Date('2026-04-01T00:00:00Z'));
    expect(before.anchors.map((anchor) => anchor.role)).toEqual(['current', 'previous']);
    const later = new Date(new Date(oldCa.validTo).getTime() + 1000);
    const trust = await loadDeploymentTrust(dataDir, later);
    expect(trust.anchors.map((anchor) => anchor.role)).toEqual(['current']);
    expect(trust.warnings).toEqual([
      `${caRotationPathsOf(dataDir).previousCertPath}: not trusted (the CA expired on ${new Date(oldCa.validTo).toISOString()}): \`mpay pki ca retire\` removes it (after \`mpay pki rotate\` if a certificate is still its)`,
    ]);
    const listed = (await listDeploymentPki(dataDir, later)).find((entry) => entry.caRole === 'previous');
    expect(listed).toMatchObject({
      trusted: false,
      notTrustedBecause: expect.stringMatching(/^the CA expired on /),
    });
    expect(listed?.daysLeft).toBeLessThan(0);
  });

  it('begin after a CA without name constraints refuses to carry a single-label leaf host into the new constraints', async () => {
    await ensureDeploymentPki(dataDir, institutions);
    const legacy = await createUnconstrainedCa(new Date(), 'legacy');
    await writeFile(caPathsOf(dataDir).keyPath, legacy.keyPem);
    await writeFile(caPathsOf(dataDir).certPath, legacy.certPem);
    await rotateDeploymentPki(dataDir);
    // The unconstrained CA issued a certificate for the bare name `internal`: as a constraint it would permit a whole domain.
    await issueDeploymentCertificate(dataDir, { institution: 'ybank', service: 'bank', hosts: ['internal'] });
    const refused = await failureOf(() => beginCaRotation(dataDir));
    expect(refused.code).toBe('PKI_INVALID');
    expect(refused.detail).toMatch(
      /ybank\/bank\.cert\.pem: its host "internal" cannot be permitted by the next CA \(is a single label: it would permit a whole domain\)/,
    );
    await expect(stat(caRotationPathsOf(dataDir).next.certPath)).rejects.toThrow(/ENOENT/);
    await issueDeploymentCertificate(dataDir, {
      institution: 'ybank',
      service: 'bank',
      hosts: ['bank.ybank.example'],
    });
    await beginCaRotation(dataDir);
  });
});
