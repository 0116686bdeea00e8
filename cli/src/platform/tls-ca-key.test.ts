import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpServer } from '@mpay/http-server';
import { caPathsOf, rotateDeploymentPki } from '@mpay/pki';
import { isMpayError } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { presentedAt } from '../../../test/support/tls-presented.ts';
import { ensurePlatformPki } from '../commands/pki-platform.ts';
import { loadPlatformTls, type PlatformTls } from './tls.ts';

describe("the platform's TLS without the CA's private key", () => {
  let dataDir: string;
  let tls: PlatformTls | undefined;
  let server: FastifyInstance | undefined;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mpay-tls-ca-key-'));
    await ensurePlatformPki(dataDir);
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await tls?.close();
    tls = undefined;
    await rm(dataDir, { recursive: true, force: true });
  });

  /** ca.key.pem out of <data>/pki (as an operator keeping it offline would); returns the way back. */
  async function takeCaKeyAway(): Promise<() => Promise<void>> {
    const { keyPath } = caPathsOf(dataDir);
    const away = join(dataDir, 'ca.key.pem.offline');
    await rename(keyPath, away);
    return () => rename(away, keyPath);
  }

  it('starts and reloads every service with ca.key.pem absent; only issuing asks for it', async () => {
    let putBack = await takeCaKeyAway();
    tls = await loadPlatformTls(dataDir, ['gateway', 'xbank']);
    server = createHttpServer({ name: 'gateway', tls: tls.server('gateway') });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const port = (server.server.address() as { port: number }).port;
    const before = await presentedAt(port, tls.caPem);

    // `mpay up` on the next start: everything current, nothing issued, so the key is not needed either.
    const report = await ensurePlatformPki(dataDir);
    expect(report.services.every((entry) => entry.action === 'kept')).toBe(true);
    // Rotating issues: it needs the key and says so.
    const refusal: unknown = await rotateDeploymentPki(dataDir).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isMpayError(refusal, 'PKI_INVALID')).toBe(true);
    expect((refusal as { detail?: string }).detail).toBe(
      `${caPathsOf(dataDir).keyPath}: missing (the CA's private key is needed to issue a certificate)`,
    );

    // The operator brings the key for the rotation and takes it away again; then the platform reloads.
    await putBack();
    await rotateDeploymentPki(dataDir);
    putBack = await takeCaKeyAway();
    const changes = await tls.reload();
    expect(changes.map((change) => change.service)).toEqual(['gateway', 'xbank']);
    for (const change of changes) expect(change.current.serialNumber).not.toBe(change.previous.serialNumber);
    const after = await presentedAt(port, tls.caPem);
    expect(after).not.toBe(before);
    expect(after).toBe(changes[0]?.current.fingerprint256);
    await putBack();
  });
});
