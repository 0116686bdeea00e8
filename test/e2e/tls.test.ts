import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GeneratedKeyPair, generateSigningKeyPair } from '@mpay/envelope';
import { type FetchFunction, requestAnswer, signRequest } from '@mpay/http-client';
import { createLogService, type LogService, migrateLog } from '@mpay/log-service';
import { generateNoteKey } from '@mpay/merkle';
import {
  caPathsOf,
  createDeploymentCa,
  createTlsAgent,
  ensureDeploymentPki,
  issueServiceCertificate,
  loadDeploymentCa,
  loadServiceTls,
  type ServiceTlsMaterial,
  servicePathsOf,
  serviceTlsOf,
  tlsFetch,
} from '@mpay/pki';
import { isMpayError } from '@mpay/protocol';
import { type Database, openTestDatabase } from '@mpay/storage';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, serviceStartDeadlineMs, within } from '../support/deadlines.ts';
import { plainHttpAnswerOf } from '../support/plain-http.ts';

/**
 * The transaction log as an institution port of a deployment whose CA and
 * certificates `ensureDeploymentPki` made in a data folder: the submitters
 * (banks, the FSP) reach it over mutual TLS, each with its own certificate,
 * and a certificate of one institution cannot carry a request signed as
 * another. Real service, real database, real sockets on a free port.
 */

const origin = 'log.mpay.example/transactions';
const institutions = [
  { id: 'log.mpay', services: ['log'] },
  { id: 'xbank', services: ['bank'] },
  { id: 'ybank', services: ['bank'] },
];

let dataDir: string;
let database: Database;
let log: LogService;
let logUrl: string;
const keys: Record<string, GeneratedKeyPair> = {};
const clients: Record<string, FetchFunction> = {};

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-e2e-tls-'));
  await ensureDeploymentPki(dataDir, institutions);
  for (const bank of ['xbank', 'ybank']) {
    keys[bank] = await generateSigningKeyPair();
    clients[bank] = tlsFetch(createTlsAgent(await loadServiceTls(dataDir, bank, 'bank')));
  }
  database = await openTestDatabase('tls_log');
  await migrateLog(database);
  log = await within(
    createLogService({
      database,
      signerKey: (await generateNoteKey(origin)).signerKey,
      submitters: ['xbank', 'ybank'].map((id) => ({
        id,
        signingJwk: (keys[id] as GeneratedKeyPair).publicJwk,
      })),
      tls: (await serviceTlsOf(dataDir, 'log.mpay', 'log', 'institution')).server,
    }),
    { deadlineMs: serviceStartDeadlineMs, what: 'the log service to start' },
  );
  logUrl = await log.listen(0);
});

afterAll(async () => {
  await log?.close();
  await database?.close();
  await rm(dataDir, { recursive: true, force: true });
});

let entryCount = 0;

/** POST /entries signed by `signer` (with its own key unless another is given), sent through `fetchWith`. */
async function submit(fetchWith: FetchFunction | undefined, signer: string, key = keys[signer]) {
  entryCount += 1;
  const digest = Buffer.from(await crypto.subtle.digest('SHA-256', Buffer.from(`message ${entryCount}`)));
  const body = JSON.stringify({
    hash: digest.toString('base64'),
    kind: 'payment.completed',
    transactionId: `txn-${entryCount}`,
    metadata: { amount: '1250', currency: 'EUR' },
  });
  const authorization = await signRequest(
    { method: 'POST', path: '/entries', body },
    { issuer: signer, audience: origin, key: (key as GeneratedKeyPair).privateJwk },
  );
  try {
    const answer = await requestAnswer(`${logUrl}/entries`, {
      body,
      contentType: 'application/json',
      headers: { authorization },
      timeoutMs: requestDeadlineMs,
      ...(fetchWith === undefined ? {} : { fetch: fetchWith }),
    });
    return {
      status: answer.status,
      code: (answer.body as { error?: { code?: string } } | null)?.error?.code,
    };
  } catch (error) {
    if (!isMpayError(error)) throw error;
    return { status: 0, code: error.code };
  }
}

async function material(
  issuer: Parameters<typeof issueServiceCertificate>[0],
  institution: string,
  issuedAt: Date,
): Promise<ServiceTlsMaterial> {
  const pair = await issueServiceCertificate(issuer, { institution, service: 'bank' }, { now: issuedAt });
  const caPem = (await loadDeploymentCa(dataDir)).pem.certPem;
  return { institution, service: 'bank', keyPem: pair.keyPem, certPem: pair.certPem, caPem };
}

describe('the log over mutual TLS', () => {
  it('takes an entry from a bank whose certificate names the bank that signed it', async () => {
    expect(logUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await submit(clients.xbank, 'xbank')).toEqual({ status: 202, code: undefined });
    expect(await submit(clients.ybank, 'ybank')).toEqual({ status: 202, code: undefined });
  });

  it('refuses a client without a certificate', async () => {
    const anonymous = tlsFetch(new Agent({ connect: { ca: (await loadDeploymentCa(dataDir)).pem.certPem } }));
    expect(await submit(anonymous, 'xbank')).toEqual({ status: 0, code: 'SERVICE_UNAVAILABLE' });
  });

  it('refuses a certificate from another CA, even one naming the right bank', async () => {
    const otherCa = await createDeploymentCa({ now: new Date(), label: 'other' });
    const impostor = await material(otherCa, 'xbank', new Date());
    expect(await submit(tlsFetch(createTlsAgent(impostor)), 'xbank')).toEqual({
      status: 0,
      code: 'SERVICE_UNAVAILABLE',
    });
  });

  it("refuses an expired certificate of the deployment's CA", async () => {
    const ca = (await loadDeploymentCa(dataDir)).pem;
    const expired = await material(ca, 'xbank', new Date(Date.now() - 200 * 86_400_000));
    expect(await submit(tlsFetch(createTlsAgent(expired)), 'xbank')).toEqual({
      status: 0,
      code: 'SERVICE_UNAVAILABLE',
    });
    // The same bank, the same CA, a current certificate: accepted (what made the difference is the date).
    const current = await material(ca, 'xbank', new Date());
    expect(await submit(tlsFetch(createTlsAgent(current)), 'xbank')).toMatchObject({ status: 202 });
  });

  it("refuses ybank's certificate carrying a request signed as xbank, even with xbank's key", async () => {
    expect(await submit(clients.ybank, 'xbank', keys.xbank)).toEqual({
      status: 403,
      code: 'TLS_PEER_REFUSED',
    });
  });

  it('gives plain HTTP no HTTP answer', async () => {
    expect(await submit(undefined, 'xbank')).toEqual({ status: 0, code: 'SERVICE_UNAVAILABLE' });
    expect(await plainHttpAnswerOf(Number(new URL(logUrl).port))).not.toMatch(/HTTP\/1\.[01] /);
  });

  it('answers `openssl s_client` with a chain that verifies, and refuses it without a client certificate', async () => {
    const port = new URL(logUrl).port;
    const bank = servicePathsOf(dataDir, 'xbank', 'bank');
    const common = [
      's_client',
      '-ign_eof',
      '-connect',
      `127.0.0.1:${port}`,
      '-CAfile',
      caPathsOf(dataDir).certPath,
    ];
    const withCertificate = await openssl(
      [...common, '-cert', bank.certPath, '-key', bank.keyPath],
      'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    expect(withCertificate).toContain('Verify return code: 0 (ok)');
    expect(withCertificate).toContain('CN = log.log.mpay');
    expect(withCertificate).toMatch(/HTTP\/1\.1 200/);
    const withoutCertificate = await openssl(
      common,
      'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    expect(withoutCertificate).not.toMatch(/HTTP\/1\.1 200/);
    expect(withoutCertificate).toMatch(/certificate required|alert/i);
  });
});

/** Runs openssl with `input` on stdin; its stdout and stderr together, whatever its exit status. */
async function openssl(args: string[], input: string): Promise<string> {
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stdin.end(input);
  await within(once(child, 'close'), { deadlineMs: requestDeadlineMs, what: `openssl ${args[0]} to finish` });
  return output;
}
