import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBoundedBytes, withRequestDeadline } from '@mpay/http-client';

/**
 * A recording pass-through between the demo's phone and the bank, on
 * loopback: every HTTP exchange of the device-facing routes, exactly as
 * sent and answered, so that the demo prints the size in bytes of what
 * travelled and opens it to say who signed or sealed each member. It
 * changes nothing: the bytes go on as they came.
 */

export interface WireExchange {
  readonly method: string;
  readonly path: string;
  readonly requestBody: string;
  readonly status: number;
  readonly responseBody: string;
}

export interface WireRecorder {
  /** Where the phone talks to instead of the bank. */
  readonly url: string;
  readonly exchanges: readonly WireExchange[];
  close(): Promise<void>;
}

/** Largest body passed through (a statement page with its receipts is well under it). */
const bodyBytesMax = 4 * 1024 * 1024;
/** Each forwarded request's deadline. */
const forwardTimeoutMs = 60_000;
/** Request headers the bank reads; the rest stay here. */
const forwardedHeaders = ['content-type', 'accept', 'authorization', 'idempotency-key'];

function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > bodyBytesMax) {
        request.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

export async function startWireRecorder(targetUrl: string): Promise<WireRecorder> {
  const exchanges: WireExchange[] = [];
  const target = targetUrl.replace(/\/+$/, '');
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const body = await readBody(request);
    if (body === undefined) {
      response.writeHead(413).end();
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of forwardedHeaders) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const method = request.method ?? 'GET';
    const path = request.url ?? '/';
    // One deadline for the bank's head and body; the body read no further than bodyBytesMax.
    const { answer, bytes } = await withRequestDeadline(forwardTimeoutMs, async (signal) => {
      const response = await fetch(`${target}${path}`, {
        method,
        headers,
        ...(method === 'GET' || method === 'HEAD' ? {} : { body: new Uint8Array(body) }),
        signal,
      });
      return { answer: response, bytes: await readBoundedBytes(response, bodyBytesMax) };
    });
    if (bytes === undefined) {
      response.writeHead(502).end();
      return;
    }
    const answerBody = Buffer.from(bytes);
    exchanges.push({
      method,
      path,
      requestBody: body.toString('utf8'),
      status: answer.status,
      responseBody: answerBody.toString('utf8'),
    });
    const contentType = answer.headers.get('content-type');
    response.writeHead(answer.status, contentType === null ? {} : { 'content-type': contentType });
    response.end(answerBody);
  };
  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(502);
      response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
