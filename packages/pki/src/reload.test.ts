import { X509Certificate } from 'node:crypto';
import { connect, type TLSSocket } from 'node:tls';
import { createHttpServer, type TlsMaterial } from '@mpay/http-server';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeploymentCa, issueServiceCertificate, type PemPair } from './ca.ts';
import { createReloadableTlsClient } from './client.ts';
import { institutionServerTls, sharedServerTls } from './server.ts';
import type { ServiceTlsMaterial } from './store.ts';

const now = new Date();
let ca: PemPair;

async function material(institution: string, service: string): Promise<ServiceTlsMaterial> {
  const pair = await issueServiceCertificate(ca, { institution, service }, { now });
  return { institution, service, keyPem: pair.keyPem, certPem: pair.certPem, caPem: ca.certPem };
}

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

interface Handshake {
  /** The certificate the server presented (its SHA-256 fingerprint). */
  readonly server: string | undefined;
  /** The HTTP status line of GET /peer, or the error that ended the connection. */
  readonly answer: string;
  readonly body: string;
}

/**
 * A new TLS connection (no session reused) to 127.0.0.1:`port` that trusts the
 * CA, presents `client` when given, and asks GET /peer: what the server
 * presented and what it answered (or how it refused).
 */
function handshake(port: number, client?: ServiceTlsMaterial): Promise<Handshake> {
  return new Promise((done) => {
    let server: string | undefined;
    let received = '';
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: ca.certPem,
      ...(client === undefined ? {} : { key: client.keyPem, cert: client.certPem }),
    });
    socket.once('secureConnect', () => {
      server = socket.getPeerCertificate().fingerprint256;
      socket.write('GET /peer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
    });
    socket.on('error', (error: Error & { code?: string }) => {
      done({ server, answer: `error ${error.code ?? error.message}`, body: '' });
    });
    socket.once('end', () => {
      const [head = '', body = ''] = received.split('\r\n\r\n');
      done({ server, answer: head.split('\r\n')[0] ?? '', body });
      socket.destroy();
    });
  });
}

/** A TLS server whose GET /peer answers whether node:tls authorised the client and whom its certificate names. */
function peerServer(tls: Parameters<typeof createHttpServer>[0]['tls']): FastifyInstance {
  const app = createHttpServer({ name: 'reload', tls });
  app.get('/peer', async (request) => {
    const socket = request.raw.socket as TLSSocket;
    const peer = socket.getPeerCertificate();
    return {
      authorized: socket.authorized,
      organisation: peer.subject?.O ?? null,
      fingerprint: peer.fingerprint256 ?? null,
    };
  });
  return app;
}

beforeAll(async () => {
  ca = await createDeploymentCa({ now, label: 'reload' });
});

describe("a TLS server's certificate reloaded in place", () => {
  let app: FastifyInstance;
  let port = 0;
  let apply: ((material: TlsMaterial) => void) | undefined;
  let a: ServiceTlsMaterial;
  let b: ServiceTlsMaterial;
  let caller: ServiceTlsMaterial;

  beforeAll(async () => {
    a = await material('xbank', 'bank');
    b = await material('xbank', 'bank');
    caller = await material('fsp.mpay', 'gateway');
    app = peerServer({
      ...institutionServerTls(a),
      onReload: (given) => {
        apply = given;
      },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(() => app.close());

  it('presents B to new connections after the reload, and still demands a client certificate', async () => {
    expect(apply).toBeTypeOf('function');
    const before = await handshake(port, caller);
    expect(before.server).toBe(fingerprintOf(a.certPem));
    expect(before.answer).toBe('HTTP/1.1 200 OK');

    apply?.({ key: b.keyPem, cert: b.certPem, ca: b.caPem });
    const after = await handshake(port, caller);
    expect(after.server).toBe(fingerprintOf(b.certPem));
    expect(after.answer).toBe('HTTP/1.1 200 OK');
    expect(JSON.parse(after.body)).toEqual({
      authorized: true,
      organisation: 'fsp.mpay',
      fingerprint: fingerprintOf(caller.certPem),
    });
    // 'required' as before: no certificate, no answer.
    const anonymous = await handshake(port);
    expect(anonymous.answer).not.toMatch(/^HTTP/);
  });

  it('refuses a key that is not the certificate’s and keeps serving the one it had', async () => {
    const current = (await handshake(port, caller)).server;
    expect(() => apply?.({ key: a.keyPem, cert: b.certPem })).toThrow();
    expect((await handshake(port, caller)).server).toBe(current);
  });
});

describe('a shared port (client certificate requested) after a reload', () => {
  it('still asks for a client certificate and still serves a client without one', async () => {
    const a = await material('xbank', 'bank');
    const b = await material('xbank', 'bank');
    const caller = await material('fsp.mpay', 'gateway');
    let apply: ((material: TlsMaterial) => void) | undefined;
    const app = peerServer({
      ...sharedServerTls(a, { institutions: ['fsp.mpay', 'xbank'] }),
      onReload: (given) => {
        apply = given;
      },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.server.address() as { port: number }).port;
      apply?.({ key: b.keyPem, cert: b.certPem, ca: b.caPem });
      const withCertificate = await handshake(port, caller);
      expect(withCertificate.server).toBe(fingerprintOf(b.certPem));
      expect(JSON.parse(withCertificate.body)).toMatchObject({ authorized: true, organisation: 'fsp.mpay' });
      const anonymous = await handshake(port);
      expect(anonymous.server).toBe(fingerprintOf(b.certPem));
      expect(anonymous.answer).toBe('HTTP/1.1 200 OK');
      expect(JSON.parse(anonymous.body)).toMatchObject({ authorized: false, organisation: null });
    } finally {
      await app.close();
    }
  });
});

describe('a reloadable TLS client', () => {
  it('presents the new certificate after a reload; a call in flight finishes on the old agent', async () => {
    const server = await material('xbank', 'bank');
    const first = await material('fsp.mpay', 'gateway');
    const second = await material('fsp.mpay', 'gateway');
    const app = peerServer(institutionServerTls(server));
    // A call answered only when the test says so: it is in flight across the reload.
    let arrive: () => void = () => undefined;
    const arrived = new Promise<void>((done) => {
      arrive = done;
    });
    let release: () => void = () => undefined;
    const released = new Promise<void>((done) => {
      release = done;
    });
    app.get('/slow', async (request) => {
      arrive();
      await released;
      return { fingerprint: (request.raw.socket as TLSSocket).getPeerCertificate().fingerprint256 };
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const client = createReloadableTlsClient(first);
    try {
      const seen = async (path: string) =>
        ((await (await client.fetch(`${url}${path}`, {})).json()) as { fingerprint: string }).fingerprint;
      expect(await seen('/peer')).toBe(fingerprintOf(first.certPem));
      const firstAgent = client.agent;
      const slow = seen('/slow');
      await arrived;
      client.reload(second);
      expect(client.agent).not.toBe(firstAgent);
      expect(await seen('/peer')).toBe(fingerprintOf(second.certPem));
      release();
      expect(await slow).toBe(fingerprintOf(first.certPem));
    } finally {
      release();
      await client.close();
      await app.close();
    }
  });

  it('sends its exchanges (calls between services) through the same agent, before and after a reload', async () => {
    const server = await material('xbank', 'bank');
    const first = await material('fsp.mpay', 'gateway');
    const second = await material('fsp.mpay', 'gateway');
    const app = peerServer(institutionServerTls(server));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const client = createReloadableTlsClient(first);
    try {
      const seen = async () => {
        const answer = await client.fetch.exchange(`${url}/peer`, {
          method: 'GET',
          headers: {},
          signal: AbortSignal.timeout(10_000),
        });
        expect(answer.status).toBe(200);
        expect(answer.contentType).toMatch(/^application\/json/);
        return (JSON.parse((await answer.read(4096)) ?? '') as { fingerprint: string }).fingerprint;
      };
      expect(await seen()).toBe(fingerprintOf(first.certPem));
      client.reload(second);
      expect(await seen()).toBe(fingerprintOf(second.certPem));
    } finally {
      await client.close();
      await app.close();
    }
  });
});
