import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { type ClientHttp2Stream, connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { createGzip, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, within } from '../../../test/support/deadlines.ts';
import { socketClosed } from '../../../test/support/socket-closed.ts';
import { gunzipRequests } from './compression.ts';
import { createHttpServer, http2StreamsPerConnectionMax } from './server.ts';

/** A self-signed P-256 certificate for 127.0.0.1, made by openssl (Debian's, as the e2e TLS tests use). */
let material: { key: string; cert: string };
let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mpay-http2-'));
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    join(folder, 'key.pem'),
    '-out',
    join(folder, 'cert.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  material = {
    key: await readFile(join(folder, 'key.pem'), 'utf8'),
    cert: await readFile(join(folder, 'cert.pem'), 'utf8'),
  };
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** The server with a never-ending stream (as a device's event stream) and a plain answer. */
async function serverWithStream(closeGraceMs: number) {
  const app = createHttpServer({
    name: 'test',
    tls: { ...material, clientCertificate: 'none' },
    http2: true,
    closeGraceMs,
  });
  app.get('/stream', (_request, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
    reply.raw.write(': connected\n\n');
  });
  app.get('/version', async (request) => ({ version: request.raw.httpVersion }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { app, url: `https://127.0.0.1:${port}` };
}

/** An HTTP/2 port whose POST /echo answers the body's length, with this request timeout. */
async function echoServerTimingOutAfter(requestTimeoutMs: number) {
  const app = createHttpServer({
    name: 'test',
    tls: { ...material, clientCertificate: 'none' },
    http2: true,
    requestTimeoutMs,
  });
  app.post('/echo', async (request) => ({ length: String(request.body).length }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, port: (app.server.address() as { port: number }).port };
}

/** An HTTP/2 client session trusting the test certificate; its connection errors (the server cutting it) are expected. */
function h2Session(url: string) {
  const session = http2Connect(url, { ca: material.cert });
  session.on('error', () => undefined);
  return session;
}

/** The body limit of `gunzipEchoOverHttp2`'s /echo. */
const gunzipEchoBodyLimitBytes = 4_096;

/**
 * An HTTP/2 server whose POST /echo takes gzipped bodies (`gunzipRequests`) up to 4 KiB, a session to it,
 * and a gzipped POST opened on that session (its errors left to the test).
 */
async function gunzipEchoOverHttp2(requestTimeoutMs?: number) {
  const app = createHttpServer({
    name: 'test',
    tls: { ...material, clientCertificate: 'none' },
    http2: true,
    bodyLimitBytes: gunzipEchoBodyLimitBytes,
    ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
  });
  app.post('/echo', { preParsing: gunzipRequests() }, async (request) => ({
    length: String(request.body).length,
  }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const session = h2Session(`https://127.0.0.1:${(app.server.address() as { port: number }).port}`);
  const postGzipped = () => {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/echo',
      'content-type': 'application/jose',
      'content-encoding': 'gzip',
    });
    stream.on('error', () => undefined);
    return stream;
  };
  return { app, session, postGzipped };
}

/** A stream's answer: its status, and its text once the stream has closed (`closing` names what closes it). */
async function answerOf(
  stream: ClientHttp2Stream,
  closing: string,
): Promise<{ status: unknown; text: string }> {
  const [head] = (await within(once(stream, 'response'), {
    deadlineMs: requestDeadlineMs,
    what: 'the answer',
  })) as [Record<string, unknown>];
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text += chunk;
  });
  await within(once(stream, 'close'), { deadlineMs: requestDeadlineMs, what: closing });
  return { status: head[':status'], text };
}

describe('HTTP/2 on a TLS port', () => {
  it('is refused without TLS (HTTP/2 is offered by ALPN)', () => {
    expect(() => createHttpServer({ name: 'test', http2: true })).toThrow(/http2 needs tls/);
  });

  it('answers HTTP/2 and HTTP/1.1 on one port, a stream open beside other requests on one connection', async () => {
    const { app, url } = await serverWithStream(5_000);
    const session = http2Connect(url, { ca: material.cert });
    try {
      await within(once(session, 'connect'), { deadlineMs: requestDeadlineMs, what: 'the h2 connection' });
      expect(session.alpnProtocol).toBe('h2');
      const stream = session.request({ ':path': '/stream' });
      const [head] = (await once(stream, 'response')) as [Record<string, unknown>];
      expect(head[':status']).toBe(200);
      // Streams per connection are bounded (node:http2's default is 2^32 - 1): the server's SETTINGS, its
      // first frame, came before this answer.
      expect(session.remoteSettings.maxConcurrentStreams).toBe(http2StreamsPerConnectionMax);
      for (let index = 0; index < 3; index += 1) {
        const beside = session.request({ ':path': '/version' });
        const [answerHead] = (await once(beside, 'response')) as [Record<string, unknown>];
        // Every answer carries the security headers and the request id, in HTTP/2 too.
        expect(answerHead['x-content-type-options']).toBe('nosniff');
        expect(typeof answerHead['x-request-id']).toBe('string');
        beside.setEncoding('utf8');
        let text = '';
        beside.on('data', (chunk: string) => {
          text += chunk;
        });
        await within(once(beside, 'end'), {
          deadlineMs: requestDeadlineMs,
          what: 'an answer beside the stream',
        });
        expect(JSON.parse(text)).toEqual({ version: '2.0' });
      }
      stream.close();
      // A client that offers only HTTP/1.1 (institutions, older wallets) is answered in HTTP/1.1.
      const answer = await within(
        new Promise<string>((resolve, reject) => {
          const call = httpsRequest(`${url}/version`, { ca: material.cert }, (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => {
              text += chunk;
            });
            response.on('end', () => resolve(text));
          });
          call.on('error', reject);
          call.end();
        }),
        { deadlineMs: requestDeadlineMs, what: 'the HTTP/1.1 answer' },
      );
      expect(JSON.parse(answer)).toEqual({ version: '1.1' });
    } finally {
      session.close();
      await app.close();
    }
  });

  it('cuts an HTTP/2 connection still open once closeGraceMs is over, so that the close ends', async () => {
    const { app, url } = await serverWithStream(100);
    const session = h2Session(url);
    const stream = session.request({ ':path': '/stream' });
    stream.on('error', () => undefined);
    await within(once(stream, 'response'), { deadlineMs: requestDeadlineMs, what: 'the stream to open' });
    const sessionClosed = once(session, 'close');
    await within(app.close(), { deadlineMs: requestDeadlineMs, what: 'the close to end' });
    await within(sessionClosed, {
      deadlineMs: requestDeadlineMs,
      what: 'the client to see its connection cut',
    });
    expect(session.destroyed).toBe(true);
  });

  it('gives the per-request peer check the client certificate of an HTTP/2 connection, as of an HTTP/1.1 one', async () => {
    const seen: { authorized: boolean; subject: unknown; route: string }[] = [];
    // A port that asks for a certificate without demanding one: the gateway's, the banks'.
    const app = createHttpServer({
      name: 'test',
      tls: {
        ...material,
        ca: material.cert,
        clientCertificate: 'requested',
        checkPeer: (peer) => {
          seen.push({
            authorized: peer.authorized,
            subject: peer.certificate.subject?.CN,
            route: peer.route,
          });
        },
      },
      http2: true,
    });
    app.get('/version', async (request) => ({ version: request.raw.httpVersion }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const askOnce = async (options: { key?: string; cert?: string }) => {
      const session = http2Connect(`https://127.0.0.1:${port}`, { ca: material.cert, ...options });
      try {
        const stream = session.request({ ':path': '/version' });
        const [head] = (await within(once(stream, 'response'), {
          deadlineMs: requestDeadlineMs,
          what: 'the answer',
        })) as [Record<string, unknown>];
        stream.resume();
        await once(stream, 'end');
        return head[':status'];
      } finally {
        session.close();
      }
    };
    try {
      // The certificate (self-signed, the port's CA here) authorised; none: not authorised, nothing named.
      expect(await askOnce({ key: material.key, cert: material.cert })).toBe(200);
      expect(await askOnce({})).toBe(200);
      expect(seen).toEqual([
        { authorized: true, subject: '127.0.0.1', route: '/version' },
        { authorized: false, subject: undefined, route: '/version' },
      ]);
    } finally {
      await app.close();
    }
  });

  it('ends the close at once with an idle HTTP/2 connection (GOAWAY), whatever the grace', async () => {
    const { app, url } = await serverWithStream(600_000);
    const session = h2Session(url);
    const stream = session.request({ ':path': '/version' });
    stream.resume();
    await within(once(stream, 'end'), { deadlineMs: requestDeadlineMs, what: 'an answer' });
    const goaway = once(session, 'goaway');
    // Ten minutes of grace: only the GOAWAY lets this end within the deadline.
    await within(app.close(), { deadlineMs: requestDeadlineMs, what: 'the close to end' });
    await within(goaway, { deadlineMs: requestDeadlineMs, what: 'the client to be told' });
  });

  it('cancels an HTTP/2 request whose body has not all come within requestTimeoutMs', async () => {
    const { app, port } = await echoServerTimingOutAfter(300);
    const session = h2Session(`https://127.0.0.1:${port}`);
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/echo',
        'content-type': 'application/jose',
      });
      stream.on('error', () => undefined);
      stream.write('a body that never ends');
      await within(once(stream, 'close'), { deadlineMs: requestDeadlineMs, what: 'the server to cancel it' });
      expect(stream.rstCode).toBe(8); // NGHTTP2_CANCEL
    } finally {
      session.destroy();
      await app.close();
    }
  });

  it('closes an HTTP/1.1 connection of an HTTP/2 port whose request body has not all come within requestTimeoutMs', async () => {
    const { app, port } = await echoServerTimingOutAfter(300);
    try {
      const outcome = new Promise<string>((resolve) => {
        const call = httpsRequest(
          {
            host: '127.0.0.1',
            port,
            path: '/echo',
            method: 'POST',
            ca: material.cert,
            headers: { 'content-type': 'application/jose', 'content-length': '100' },
          },
          (response) => resolve(`answered ${response.statusCode}`),
        );
        call.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        call.write('seven bytes of a hundred');
      });
      expect(await within(outcome, { deadlineMs: requestDeadlineMs, what: 'the server to give up' })).toBe(
        'ECONNRESET',
      );
    } finally {
      await app.close();
    }
  });

  it('answers a whole small gzip bomb on an HTTP/2 stream 413 once it inflated past the limit', async () => {
    const { app, session, postGzipped } = await gunzipEchoOverHttp2();
    try {
      // About a kilobyte that inflates to 1 MiB: under the limit as sent, far past it inflated.
      const bomb = gzipSync(Buffer.alloc(1 << 20, 0x41));
      expect(bomb.length).toBeLessThan(gunzipEchoBodyLimitBytes);
      const stream = postGzipped();
      stream.end(bomb);
      const answer = await answerOf(stream, 'the stream to close');
      expect([answer.status, JSON.parse(answer.text).error.code]).toEqual([413, 'REQUEST_TOO_LARGE']);
    } finally {
      session.destroy();
      await app.close();
    }
  });

  it('answers a gzip bomb on an HTTP/2 stream 413, then tells the client to stop sending; the answer has no connection header to drop', async () => {
    // Ten minutes: only the cancel after the answer can end the stream within the deadline.
    const { app, session, postGzipped } = await gunzipEchoOverHttp2(600_000);
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const stream = postGzipped();
      // A body that never ends: zeros gzipped as they are written (about a thousand to one), at most 256 MiB
      // of them; the stream is never ended by this side, so only the server can close it.
      const gzip = createGzip();
      gzip.pipe(stream, { end: false });
      const zeros = Buffer.alloc(64 * 1024);
      void (async () => {
        for (let written = 0; written < 4_096 && !stream.closed; written += 1)
          if (!gzip.write(zeros)) await once(gzip, 'drain');
      })();
      // The complete answer, then RST_STREAM NO_ERROR: stop sending (RFC 9113 §8.1). This side never ended
      // its body, so only the server's reset closes the stream.
      const answer = await answerOf(stream, 'the server to reset the stream');
      expect(answer.status).toBe(413);
      expect(stream.rstCode).toBe(0); // NGHTTP2_NO_ERROR
      expect(JSON.parse(answer.text).error.code).toBe('REQUEST_TOO_LARGE');
      gzip.destroy();
      // Fastify asks for Connection: close after a refused body; HTTP/2 has no such header (RFC 9113 §8.2.2).
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      session.destroy();
      await app.close();
    }
  });

  it('closes an HTTP/1.1 connection of an HTTP/2 port whose request headers have not all come within requestTimeoutMs', async () => {
    const { app, port } = await echoServerTimingOutAfter(300);
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: material.cert, ALPNProtocols: ['http/1.1'] });
    socket.on('error', () => undefined);
    try {
      await within(once(socket, 'secureConnect'), {
        deadlineMs: requestDeadlineMs,
        what: 'the TLS connection',
      });
      expect(socket.alpnProtocol).toBe('http/1.1');
      socket.write('POST /echo HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ');
      // A byte every 50 ms, at most for the deadline: the connection is never idle, its headers never end.
      const dribble = setInterval(() => socket.write('a'), 50);
      try {
        // The server may end it with a reset (the dribbled bytes it has not read): a close all the same.
        await socketClosed(socket, 'the server to close it');
      } finally {
        clearInterval(dribble);
      }
    } finally {
      socket.destroy();
      await app.close();
    }
  });
});
