import { once } from 'node:events';
import { generateSigningKeyPair } from '@mpay/envelope';
import { requestAnswer, setFetchSource, signRequest } from '@mpay/http-client';
import { createHttpServer } from '@mpay/http-server';
import { isMpayError } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeploymentCa, issueServiceCertificate, type PemPair } from './ca.ts';
import { createTlsAgent, tlsClientScope, tlsFetch } from './client.ts';
import { dayMs } from './limits.ts';
import { institutionServerTls, publicServerTls } from './server.ts';
import type { ServiceTlsMaterial } from './store.ts';

const now = new Date();
let ca: PemPair;
let institutionPort: FastifyInstance;
let publicPort: FastifyInstance;
let institutionUrl: string;
let publicUrl: string;

async function material(
  issuer: PemPair,
  institution: string,
  service: string,
  issuedAt: Date = now,
): Promise<ServiceTlsMaterial> {
  const pair = await issueServiceCertificate(issuer, { institution, service }, { now: issuedAt });
  return { institution, service, keyPem: pair.keyPem, certPem: pair.certPem, caPem: ca.certPem };
}

/** Every message and code along an error's cause chain, to see why a connection failed. */
function causesOf(error: unknown): string {
  const parts: string[] = [];
  for (let current = error; current instanceof Error; current = current.cause) {
    parts.push(current.message, String((current as { code?: unknown }).code ?? ''));
  }
  return parts.join(' | ');
}

/**
 * Why the institution port's TLS server refused the next handshake: the
 * verification error node:tls recorded on the socket it destroyed, else the
 * handshake's own error ('tlsClientError' gives both).
 */
function nextHandshakeRefusal(): Promise<string> {
  return once(institutionPort.server, 'tlsClientError').then((event) => {
    const [error, socket] = event as [Error, { authorizationError?: Error | string }];
    return String(socket.authorizationError ?? causesOf(error));
  });
}

/** POST /echo signed as `issuer`, through `fetchWith`; the answer, or the failure's cause chain. */
async function call(
  fetchWith: ReturnType<typeof tlsFetch> | undefined,
  issuer: string,
  url = institutionUrl,
) {
  const key = await generateSigningKeyPair();
  const body = '{"hello":"bank"}';
  const authorization = await signRequest(
    { method: 'POST', path: '/echo', body },
    { issuer, audience: 'xbank', key: key.privateJwk },
  );
  try {
    const answer = await requestAnswer(`${url}/echo`, {
      body,
      contentType: 'application/json',
      headers: { authorization },
      ...(fetchWith === undefined ? {} : { fetch: fetchWith }),
      timeoutMs: 30_000,
    });
    return { status: answer.status, body: answer.body as Record<string, unknown> };
  } catch (error) {
    if (!isMpayError(error)) throw error;
    return { status: 0, code: error.code, causes: causesOf(error) };
  }
}

beforeAll(async () => {
  ca = await createDeploymentCa({ now, label: 'mtls' });
  const server = await material(ca, 'xbank', 'bank');
  institutionPort = createHttpServer({ name: 'xbank', tls: institutionServerTls(server) });
  institutionPort.post('/echo', async () => ({ echoed: true }));
  institutionUrl = await institutionPort.listen({ port: 0, host: '127.0.0.1' });
  publicPort = createHttpServer({ name: 'xbank public', tls: publicServerTls(server) });
  publicPort.post('/echo', async () => ({ echoed: true }));
  publicUrl = await publicPort.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await institutionPort.close();
  await publicPort.close();
});

describe('an institution port (mutual TLS)', () => {
  it('listens on https', () => {
    expect(institutionUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('accepts the peer whose certificate names the institution that signed the request', async () => {
    const fsp = tlsFetch(createTlsAgent(await material(ca, 'fsp.mpay', 'gateway')));
    expect(await call(fsp, 'fsp.mpay')).toEqual({ status: 200, body: { echoed: true } });
  });

  it('refuses a client without a certificate', async () => {
    const anonymous = tlsFetch(new Agent({ connect: { ca: ca.certPem } }));
    const refusal = nextHandshakeRefusal();
    const answer = await call(anonymous, 'fsp.mpay');
    expect(answer.code).toBe('SERVICE_UNAVAILABLE');
    expect(await refusal).toMatch(/peer did not return a certificate/);
  });

  it('refuses a client certificate from another CA (even one of the same name)', async () => {
    const otherCa = await createDeploymentCa({ now, label: 'mtls' });
    const impostor = await material(otherCa, 'fsp.mpay', 'gateway');
    const refusal = nextHandshakeRefusal();
    const answer = await call(tlsFetch(createTlsAgent(impostor)), 'fsp.mpay');
    expect(answer.code).toBe('SERVICE_UNAVAILABLE');
    expect(await refusal).toMatch(
      /^(CERT_SIGNATURE_FAILURE|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/,
    );
  });

  it('refuses an expired client certificate of the right CA', async () => {
    const expired = await material(ca, 'fsp.mpay', 'gateway', new Date(now.getTime() - 200 * dayMs));
    const refusal = nextHandshakeRefusal();
    const answer = await call(tlsFetch(createTlsAgent(expired)), 'fsp.mpay');
    expect(answer.code).toBe('SERVICE_UNAVAILABLE');
    expect(await refusal).toBe('CERT_HAS_EXPIRED');
  });

  it("refuses another institution's certificate carrying a request signed as the FSP", async () => {
    const ybank = tlsFetch(createTlsAgent(await material(ca, 'ybank', 'bank')));
    const answer = await call(ybank, 'fsp.mpay');
    expect(answer.status).toBe(403);
    expect((answer.body?.error as { code?: unknown } | undefined)?.code).toBe('TLS_PEER_REFUSED');
    expect(await call(ybank, 'ybank')).toMatchObject({ status: 200 });
  });

  it('gives plain HTTP no HTTP answer', async () => {
    const answer = await call(undefined, 'fsp.mpay', institutionUrl.replace('https:', 'http:'));
    expect(answer.code).toBe('SERVICE_UNAVAILABLE');
  });

  it("refuses a server that is not the deployment's (the client trusts the deployment's CA only)", async () => {
    const fsp = tlsFetch(createTlsAgent(await material(ca, 'fsp.mpay', 'gateway')));
    const otherCa = await createDeploymentCa({ now, label: 'mtls' });
    const rogue = await material(otherCa, 'xbank', 'bank');
    const rogueServer = createHttpServer({ name: 'rogue', tls: publicServerTls(rogue) });
    rogueServer.post('/echo', async () => ({ echoed: true }));
    const rogueUrl = await rogueServer.listen({ port: 0, host: '127.0.0.1' });
    try {
      const answer = await call(fsp, 'fsp.mpay', rogueUrl);
      expect(answer.code).toBe('SERVICE_UNAVAILABLE');
      expect(answer.causes).toMatch(/signature|verify|issuer/i);
    } finally {
      await rogueServer.close();
    }
  });
});

describe('a device- or merchant-facing port (server TLS only)', () => {
  it('serves a client without a certificate that trusts the CA', async () => {
    const device = tlsFetch(new Agent({ connect: { ca: ca.certPem } }));
    expect(await call(device, 'john.bernard@person.xbank', publicUrl)).toEqual({
      status: 200,
      body: { echoed: true },
    });
  });
});

describe('tlsClientScope', () => {
  it("makes a service's outgoing calls present its certificate without passing a fetch to each", async () => {
    setFetchSource(tlsClientScope.source);
    const fsp = tlsFetch(createTlsAgent(await material(ca, 'fsp.mpay', 'gateway')));
    // A plain-HTTP service started inside the FSP's scope: its handler calls the bank with no fetch given.
    const gateway = tlsClientScope.run(fsp, () => {
      const app = createHttpServer({ name: 'gateway' });
      app.get('/relay', async () => (await call(undefined, 'fsp.mpay')).status);
      return app;
    });
    const gatewayUrl = await tlsClientScope.run(fsp, () => gateway.listen({ port: 0, host: '127.0.0.1' }));
    try {
      const relayed = await fetch(`${gatewayUrl}/relay`);
      expect(await relayed.json()).toBe(200);
      // Outside the scope, the same call has no certificate to present.
      expect((await call(undefined, 'fsp.mpay')).code).toBe('SERVICE_UNAVAILABLE');
    } finally {
      setFetchSource(undefined);
      await gateway.close();
    }
  });
});
