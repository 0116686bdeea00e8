import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as http2Connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createGunzip } from 'node:zlib';
import { demoParties, ensurePlatformPki, type Platform, platformSchemas, startPlatform } from '@mpay/cli';
import { type FetchFunction, fetchFor, requestAnswer, signRequest } from '@mpay/http-client';
import { createMailer } from '@mpay/mail';
import { verifyReceipt } from '@mpay/merkle';
import {
  caPathsOf,
  createCaTrustAgent,
  createTlsAgent,
  loadServiceTls,
  servicePathsOf,
  tlsClientScope,
  tlsFetch,
} from '@mpay/pki';
import { isMpayError } from '@mpay/protocol';
import {
  type FspTrust,
  fetchBankTrust,
  fetchFspTrust,
  MerchantClient,
  unlockKeystore,
  Wallet,
} from '@mpay/sdk';
import { dropPostgresSchema } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  paymentSettledDeadlineMs,
  platformStartDeadlineMs,
  requestDeadlineMs,
  waitFor,
  within,
} from '../support/deadlines.ts';
import { plainHttpAnswerOf } from '../support/plain-http.ts';
import { suitePolicy } from './harness.ts';

/**
 * The whole platform as `mpay up` starts it: the deployment's PKI made in a
 * fresh data folder on first start, every port HTTPS with its service's
 * certificate, every call between the services over TLS with the caller's
 * certificate. An iMS payment end to end through the SDK (which trusts the
 * deployment's CA and nothing else), its evidence from the log, then what a
 * wrong certificate, no certificate and plain HTTP get. The web pages (a
 * stand-in build: no Vite here), the embedded mail server (implicit TLS) and
 * SMS gateway (HTTPS) are on TLS too, each with its certificate.
 */

const databaseUrl = process.env.DATABASE_URL;
const schemaPrefix = `e2e_tls_${randomBytes(4).toString('hex')}_`;
let dataDir: string;
let platform: Platform;
let fsp: FspTrust;
const homePage = '<!doctype html><title>mpay over TLS</title>';

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-e2e-tls-platform-'));
  await ensurePlatformPki(dataDir);
  // The pages the web server serves: a stand-in for the Vite build, which this suite does not test.
  const distDir = join(dataDir, 'web-dist');
  await mkdir(distDir, { recursive: true });
  await writeFile(join(distDir, 'index.html'), homePage);
  // startPlatform resolves once every service listens and the demo is seeded (over TLS): its readiness.
  platform = await within(
    // Databases and keys in memory as in the other suites; only the PKI is in the folder.
    startPlatform({
      databaseUrl,
      schemaPrefix,
      tls: { dataDir },
      web: true,
      webDistDir: distDir,
      backgroundIntervalMs: 100,
      securityPolicy: suitePolicy,
    }),
    { deadlineMs: platformStartDeadlineMs, what: 'the platform with TLS to start' },
  );
  fsp = await fetchFspTrust(platform.urls.gateway);
});

afterAll(async () => {
  await platform?.close();
  if (databaseUrl) {
    for (const schema of platformSchemas) await dropPostgresSchema(databaseUrl, `${schemaPrefix}${schema}`);
  }
  await rm(dataDir, { recursive: true, force: true });
});

/** The TLS client of one service of the deployment: its certificate, the CA as its only anchor. */
async function clientOf(institution: string, service: string): Promise<FetchFunction> {
  return tlsFetch(createTlsAgent(await loadServiceTls(dataDir, institution, service)));
}

/** A request signed as `issuer` with `key`, sent with `fetchWith`: its status and stable code, 0 when no HTTP answer. */
async function signedCall(
  fetchWith: FetchFunction | undefined,
  url: string,
  request: { method: 'GET' | 'POST'; path: string; body?: string },
  signer: { issuer: string; audience: string; key: Parameters<typeof signRequest>[1]['key'] },
) {
  const body = request.body ?? '';
  const authorization = await signRequest({ method: request.method, path: request.path, body }, signer);
  try {
    const answer = await requestAnswer(`${url}${request.path}`, {
      method: request.method,
      ...(request.method === 'POST' ? { body, contentType: 'application/json' } : {}),
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

/**
 * One iMS payment through the SDK, with the process's fetch (the deployment's
 * CA trusted) or the one of the scope it runs in: the merchant asks, the
 * wallet gets the request on its stream and confirms; the view and the receipt.
 */
async function payThroughSdk(amountMinor: bigint) {
  const merchant = new MerchantClient({
    gatewayUrl: platform.urls.gateway,
    merchantId: demoParties.merchant.id,
    signingKey: platform.credentials.merchantKeys.signing.privateJwk,
    fsp,
    banks: await Promise.all(platform.banks.map((bank) => fetchBankTrust(bank.url))),
  });
  const wallet = new Wallet({
    gatewayUrl: platform.urls.gateway,
    keystore: structuredClone(platform.credentials.customerKeystore),
    fsp,
  });
  const abort = new AbortController();
  const requests = wallet.paymentRequests(demoParties.customer.pin, abort.signal);
  const first = requests.next();
  const accepted = await merchant.requestPayment({
    customer: demoParties.customer.msisdn,
    amount: { currency: 'EUR', minor: amountMinor },
  });
  let view = (await first).value!;
  while (view.paymentId !== accepted.paymentId) view = (await requests.next()).value!;
  abort.abort();
  return { view, receipt: await wallet.confirm(view, demoParties.customer.pin) };
}

describe('the platform over TLS', () => {
  it('serves every port over HTTPS and pays end to end through the SDK, the evidence proved by the log', async () => {
    for (const url of [
      platform.urls.gateway,
      platform.urls.xbank,
      platform.urls.ybank,
      platform.urls.custody,
      platform.urls.log,
      platform.urls.witness,
      platform.urls.merchantShop,
      platform.urls.web,
      platform.sms.gateway?.url,
    ]) {
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    }
    expect(platform.mail.server?.secure).toBe(true);
    expect(platform.tls?.caPath).toBe(caPathsOf(dataDir).certPath);
    const { view, receipt } = await payThroughSdk(4_20n);
    // The gateway → banks → log → witness chain ran over mutual TLS: the evidence is logged and cosigned.
    const path = `/payments/${view.paymentId}/evidence`;
    const evidence = await waitFor(
      async () => {
        const authorization = await signRequest(
          { method: 'GET', path, body: '' },
          {
            issuer: demoParties.merchant.id,
            audience: fsp.id,
            key: platform.credentials.merchantKeys.signing.privateJwk,
          },
        );
        const response = await fetchFor(undefined)(`${platform.urls.gateway}${path}`, {
          headers: { authorization },
        });
        const text = await response.text();
        if (response.status !== 200 && response.status !== 202) throw new Error(`HTTP ${response.status}`);
        return response.status === 200 ? text : undefined;
      },
      { deadlineMs: paymentSettledDeadlineMs, what: `the evidence of payment ${view.paymentId}` },
    );
    const verified = await verifyReceipt(evidence, {
      logVerifierKey: platform.log.logVerifierKey,
      witnessVerifierKeys: [platform.log.witnessVerifierKey],
      witnessesRequired: 1,
    });
    expect(verified.receipt.transactionId).toBe(view.paymentId);
    expect(verified.receipt.messages.at(-1)).toBe(receipt.jws);
  });

  it('offers HTTP/2 on the gateway: a wallet pays over it, its event stream one stream among others', async () => {
    const caPem = platform.tls!.caPem;
    // Custody's port too, for the phones whose key it holds.
    const custody = http2Connect(platform.urls.custody, { ca: caPem });
    try {
      await once(custody, 'connect');
      expect(custody.alpnProtocol).toBe('h2');
    } finally {
      custody.close();
    }
    // ALPN: the gateway takes h2 (a client that offers only HTTP/1.1 still gets it: institutions, older wallets).
    const session = http2Connect(platform.urls.gateway, { ca: caPem });
    const answerOf = async (headers: Record<string, string>) => {
      const stream = session.request(headers);
      const [head] = (await once(stream, 'response')) as [Record<string, string | number>];
      return { stream, head };
    };
    try {
      await once(session, 'connect');
      expect(session.alpnProtocol).toBe('h2');
      // The device's stream (gzipped, signed with the session's device key) and, beside it on the same
      // connection, other requests: the stream's head has no connection header (RFC 9113 §8.2.2).
      const keys = await unlockKeystore(
        structuredClone(platform.credentials.customerKeystore),
        demoParties.customer.pin,
      );
      const path = '/devices/events?push=v2';
      const authorization = await signRequest(
        { method: 'GET', path, body: '' },
        { issuer: demoParties.customer.id, audience: fsp.id, key: keys.signing },
      );
      const events = await answerOf({ ':path': path, authorization, 'accept-encoding': 'gzip' });
      expect(events.head[':status']).toBe(200);
      expect(events.head['content-type']).toBe('text/event-stream');
      expect(events.head['content-encoding']).toBe('gzip');
      expect(events.head.connection).toBeUndefined();
      const gunzip = createGunzip();
      events.stream.pipe(gunzip);
      const [first] = (await once(gunzip, 'data')) as [Buffer];
      expect(first.toString()).toBe(': connected\n\n');
      for (let request = 0; request < 3; request += 1) {
        const health = await answerOf({ ':path': '/health' });
        expect(health.head[':status']).toBe(200);
        health.stream.resume();
        await once(health.stream, 'end');
      }
      // Closed mid-stream: the gzip is cut short on purpose.
      events.stream.unpipe(gunzip);
      gunzip.destroy();
      events.stream.close();
    } finally {
      session.close();
    }
    // The SDK's wallet and merchant with a fetch that offers h2: a payment end to end.
    const agent = createCaTrustAgent(caPem, {}, { http2: true });
    let http2Connections = 0;
    const count = (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'h2') http2Connections += 1;
    };
    platform.gateway.app.server.on('secureConnection', count);
    try {
      const { view, receipt } = await tlsClientScope.run(tlsFetch(agent), () => payThroughSdk(1_05n));
      expect(receipt.payload.txn).toBe(view.paymentId);
    } finally {
      platform.gateway.app.server.off('secureConnection', count);
      await agent.close();
    }
    expect(http2Connections).toBeGreaterThan(0);
  });

  it("refuses a bank route called with another institution's certificate, or with none", async () => {
    const xbank = platform.urls.xbank;
    const request = { method: 'POST' as const, path: '/payment-orders', body: '{}' };
    const asFsp = { issuer: platform.fsp.id, audience: 'xbank', key: platform.fsp.signing.privateJwk };
    // ybank's certificate carrying a request signed as the FSP, with the FSP's own key.
    expect(await signedCall(await clientOf('ybank', 'bank'), xbank, request, asFsp)).toEqual({
      status: 403,
      code: 'TLS_PEER_REFUSED',
    });
    // The CA trusted, no certificate presented: an institution's request is refused ...
    const anonymous = tlsFetch(createCaTrustAgent(platform.tls!.caPem));
    expect(await signedCall(anonymous, xbank, request, asFsp)).toEqual({
      status: 403,
      code: 'TLS_PEER_REFUSED',
    });
    // ... and so is an interbank message, whose signer is inside its body.
    const interbank = await requestAnswer(`${xbank}/interbank/funds-transfers`, {
      body: JSON.stringify({ message: 'x.y.z' }),
      contentType: 'application/json',
      timeoutMs: requestDeadlineMs,
      fetch: anonymous,
    });
    expect(interbank.status).toBe(403);
    // The same route reached by a percent-encoded path: the router decodes it, and so the check goes by the
    // route it matched, not the raw url.
    const encoded = await requestAnswer(`${xbank}/%69nterbank/funds-transfers`, {
      body: JSON.stringify({ message: 'x.y.z' }),
      contentType: 'application/json',
      timeoutMs: requestDeadlineMs,
      fetch: anonymous,
    });
    expect(encoded.status).toBe(403);
    expect((encoded.body as { error?: { code?: string } } | null)?.error?.code).toBe('TLS_PEER_REFUSED');
    // An institution that is not a bank (custody's certificate) is no peer of the interbank routes.
    const fromCustody = await requestAnswer(`${xbank}/interbank/funds-transfers`, {
      body: JSON.stringify({ message: 'x.y.z' }),
      contentType: 'application/json',
      timeoutMs: requestDeadlineMs,
      fetch: await clientOf('custody.mpay', 'custody'),
    });
    expect((fromCustody.body as { error?: { code?: string } } | null)?.error?.code).toBe('TLS_PEER_REFUSED');
    // An interbank message claiming xbank as its signer, carried by ybank's certificate: refused before it is verified;
    // claiming ybank, the route verifies it (and refuses its made-up signature for what it is).
    const unsigned = (issuer: string) =>
      [
        { alg: 'ES256', typ: 'JWT' },
        { iss: issuer, aud: 'xbank' },
      ]
        .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
        .concat('AAAA')
        .join('.');
    const fromYbank = await clientOf('ybank', 'bank');
    const deliver = async (message: string) => {
      const answer = await requestAnswer(`${xbank}/interbank/funds-transfers`, {
        body: JSON.stringify({ message }),
        contentType: 'application/json',
        timeoutMs: requestDeadlineMs,
        fetch: fromYbank,
      });
      return (answer.body as { error?: { code?: string } } | null)?.error?.code;
    };
    expect(await deliver(unsigned('xbank'))).toBe('TLS_PEER_REFUSED');
    const verifiedNext = await deliver(unsigned('ybank'));
    expect(verifiedNext).toBeDefined();
    expect(verifiedNext).not.toBe('TLS_PEER_REFUSED');
    // The FSP's own certificate passes the TLS check: the route itself answers (the empty order is invalid).
    const own = await signedCall(await clientOf('fsp.mpay', 'gateway'), xbank, request, asFsp);
    expect(own.status).toBe(400);
    expect(own.code).not.toBe('TLS_PEER_REFUSED');
    // The mail and SMS stand-ins are institutions of the deployment that sign nothing: a request claiming
    // one as signer needs its certificate, and with it the route still finds no such signer.
    const asMail = { issuer: 'mail.mpay', audience: 'xbank', key: platform.fsp.signing.privateJwk };
    expect(await signedCall(anonymous, xbank, request, asMail)).toEqual({
      status: 403,
      code: 'TLS_PEER_REFUSED',
    });
    const withMailCertificate = await signedCall(await clientOf('mail.mpay', 'smtp'), xbank, request, asMail);
    expect(withMailCertificate).toEqual({ status: 401, code: 'AUTHENTICATION_FAILED' });
  });

  it('gives plain HTTP to a TLS port no HTTP answer', async () => {
    for (const url of [platform.urls.gateway, platform.urls.xbank, platform.urls.log]) {
      expect(await plainHttpAnswerOf(Number(new URL(url).port))).not.toMatch(/HTTP\/1\.[01] /);
    }
  });

  it('sends the mail and the SMS, and serves the pages and their API proxy, over TLS', async () => {
    const caPem = platform.tls!.caPem;
    // The gateway's mailer (implicit TLS, the deployment's CA its only anchor) to the embedded server.
    const to = 'tls.check@person.xbank';
    await platform.mail.mailer.send({ to, subject: 'over TLS', text: 'implicit TLS from the first byte' });
    expect((await platform.mail.server!.mailbox.list(to)).map((mail) => mail.subject)).toEqual(['over TLS']);
    // A mailer with the system's roots only: the deployment's certificate is not trusted, nothing is sent.
    const server = platform.mail.server!;
    const untrusting = createMailer({
      smtp: { host: server.host, port: server.port, secure: true },
      from: 'MPASP <mpasp@fsp.mpay>',
    });
    await expect(untrusting.send({ to, subject: 'untrusted', text: 'x' })).rejects.toMatchObject({
      code: 'MAIL_DELIVERY_FAILED',
    });
    // The banks' sender (its fetch trusts the deployment's CA) to the embedded gateway, over HTTPS.
    const msisdn = '+38970999001';
    const { id } = await platform.sms.sender.send({ to: msisdn, text: 'mpay code: 123456' });
    expect((await platform.sms.gateway!.inbox.list(msisdn)).map((sms) => sms.id)).toEqual([id]);
    // The pages and the proxy (which calls the gateway over TLS), trusting the deployment's CA.
    const agent = createCaTrustAgent(caPem);
    try {
      const trusting = tlsFetch(agent);
      const page = await trusting(`${platform.urls.web}/`, {
        signal: AbortSignal.timeout(requestDeadlineMs),
      });
      expect(page.status).toBe(200);
      expect(await page.text()).toBe(homePage);
      const proxied = await trusting(`${platform.urls.web}/api/gateway/health`, {
        signal: AbortSignal.timeout(requestDeadlineMs),
      });
      expect(proxied.status).toBe(200);
    } finally {
      await agent.close();
    }
    // A browser speaks HTTP/2 to the pages (ALPN): the page, the proxy and the gateway's answer on one connection.
    const session = http2Connect(platform.urls.web!, { ca: caPem });
    try {
      await once(session, 'connect');
      expect(session.alpnProtocol).toBe('h2');
      for (const [path, expected] of [
        ['/', homePage],
        ['/api/gateway/health', '{"status":"ok","service":"gateway"}'],
      ] as const) {
        const stream = session.request({ ':path': path });
        const [head] = (await once(stream, 'response')) as [Record<string, string | number>];
        expect(head[':status'], path).toBe(200);
        stream.setEncoding('utf8');
        let text = '';
        stream.on('data', (chunk: string) => {
          text += chunk;
        });
        await once(stream, 'end');
        expect(text, path).toBe(expected);
      }
    } finally {
      session.close();
    }
    // Node's own fetch (the system's roots) does not trust the deployment's certificate on the web port.
    await expect(
      fetch(`${platform.urls.web}/`, { signal: AbortSignal.timeout(requestDeadlineMs) }),
    ).rejects.toThrow();
  });

  it("answers `openssl s_client` on every port with a chain that verifies under the deployment's CA", async () => {
    const ports = {
      gateway: 'gateway.fsp.mpay',
      xbank: 'bank.xbank',
      ybank: 'bank.ybank',
      custody: 'custody.custody.mpay',
      log: 'log.log.mpay',
      witness: 'witness.witness.mpay',
      merchantShop: 'shop.merkur.trade',
      web: 'web.web.mpay',
    } as const;
    const httpPorts = [
      ...Object.entries(ports).map(([service, commonName]) => ({
        service,
        commonName,
        port: new URL(platform.urls[service as keyof typeof ports] ?? '').port,
      })),
      { service: 'sms', commonName: 'sms.sms.mpay', port: String(platform.sms.gateway?.port) },
    ];
    const client = servicePathsOf(dataDir, 'fsp.mpay', 'gateway');
    const sClient = (port: string, input: string, after?: RegExp) =>
      openssl(
        [
          's_client',
          '-ign_eof',
          '-connect',
          `127.0.0.1:${port}`,
          '-CAfile',
          caPathsOf(dataDir).certPath,
          '-cert',
          client.certPath,
          '-key',
          client.keyPath,
        ],
        input,
        after,
      );
    await Promise.all([
      ...httpPorts.map(async ({ service, commonName, port }) => {
        const output = await sClient(
          port,
          'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
        );
        expect(output, service).toContain('Verify return code: 0 (ok)');
        expect(output, service).toContain(`CN = ${commonName}`);
        expect(output, service).toMatch(/HTTP\/1\.1 200/);
      }),
      // The embedded SMTP server: TLS from the first byte, then its greeting and its goodbye.
      (async () => {
        // QUIT once greeted: an SMTP client that talks before the greeting is cut off.
        const output = await sClient(String(platform.mail.server?.port), 'QUIT\r\n', /^220 /m);
        expect(output, 'smtp').toContain('Verify return code: 0 (ok)');
        expect(output, 'smtp').toContain('CN = smtp.mail.mpay');
        expect(output, 'smtp').toMatch(/^220 /m);
        expect(output, 'smtp').toMatch(/^221 /m);
      })(),
    ]);
  });
});

/**
 * Runs openssl with `input` on stdin (at once, or once its stdout matches
 * `after`); its stdout and stderr together, whatever its exit status.
 */
async function openssl(args: string[], input: string, after?: RegExp): Promise<string> {
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let stdout = '';
  let sent = false;
  const send = () => {
    if (sent) return;
    sent = true;
    child.stdin.end(input);
  };
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    stdout += chunk.toString('utf8');
    if (after?.test(stdout)) send();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  if (after === undefined) send();
  const closed = once(child, 'close');
  try {
    await within(closed, { deadlineMs: requestDeadlineMs, what: `openssl ${args[0]} to finish` });
  } finally {
    // One that did not finish in time (no greeting came) is stopped here, not left behind.
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }
  return output;
}
