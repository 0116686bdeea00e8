import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMpayError, type MpayError } from '@mpay/protocol';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requestDeadlineMs, within } from '../../../../test/support/deadlines.ts';
import { createSmsSender, smsErrorOfAnswer } from './create.ts';

const token = 'sender-test-token-0123456789';

/** What the scripted gateway saw of one request. */
interface Seen {
  method: string | undefined;
  url: string | undefined;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

let server: Server;
let baseUrl: string;
let seen: Seen[] = [];
/** How the scripted gateway answers the next requests. */
let answer: (response: ServerResponse) => void = () => undefined;

beforeAll(async () => {
  server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      seen.push({
        method: request.method,
        url: request.url,
        authorization: request.headers.authorization,
        contentType: request.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      });
      // No keep-alive: a test that cuts connections leaves no dead one in the client's pool.
      response.setHeader('connection', 'close');
      answer(response);
    });
  });
  await within(new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening)), {
    deadlineMs: requestDeadlineMs,
    what: 'the scripted gateway to listen',
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

beforeEach(() => {
  seen = [];
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((closed) => server.close(closed));
});

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return (response: ServerResponse) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };
}

function sender(limits = {}, url = `${baseUrl}/v1/`) {
  return createSmsSender({ url, token, from: 'mpay', limits });
}

async function failureOf(promise: Promise<unknown>): Promise<MpayError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!isMpayError(error)) throw new Error(`expected an MpayError, got ${String(error)}`);
  return error;
}

const sms = { to: '+38970123456', text: 'mpay code: 482913' };

describe('createSmsSender', () => {
  it('posts {from, to, text} as JSON with the bearer token to {url}/messages, and answers the id', async () => {
    answer = json(202, { id: 'SM0123456789abcdef' });
    expect(await sender().send(sms)).toEqual({ id: 'SM0123456789abcdef' });
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/v1/messages',
        authorization: `Bearer ${token}`,
        contentType: 'application/json',
        body: JSON.stringify({ from: 'mpay', to: sms.to, text: sms.text }),
      },
    ]);
  });

  it('refuses, before any request, a message it will not send', async () => {
    answer = json(202, { id: 'never' });
    expect((await failureOf(sender().send({ ...sms, to: '038970123456' }))).detail).toBe('sms: to');
    expect((await failureOf(sender().send({ ...sms, text: 'x'.repeat(919) }))).detail).toBe('sms: text');
    expect(
      (await failureOf(sender({ textCharactersMax: 10 }).send({ ...sms, text: 'x'.repeat(11) }))).code,
    ).toBe('REQUEST_INVALID');
    expect((await failureOf(sender().send({ ...sms, text: 'a\tb' }))).detail).toBe('sms: text');
    expect(seen).toEqual([]);
  });

  it.each([
    [
      503,
      { error: { code: 'SERVICE_UNAVAILABLE' } },
      'SERVICE_UNAVAILABLE',
      'sms gateway: HTTP 503 SERVICE_UNAVAILABLE',
    ],
    [500, 'not json', 'SERVICE_UNAVAILABLE', 'sms gateway: HTTP 500'],
    [408, {}, 'SERVICE_UNAVAILABLE', 'sms gateway: HTTP 408'],
    [
      401,
      { error: { code: 'AUTHENTICATION_FAILED' } },
      'REQUEST_INVALID',
      'sms gateway: HTTP 401 AUTHENTICATION_FAILED',
    ],
    [400, { error: { code: 'bad code \u001b[31m' } }, 'REQUEST_INVALID', 'sms gateway: HTTP 400'],
    [
      413,
      { error: { code: 'REQUEST_TOO_LARGE' } },
      'REQUEST_INVALID',
      'sms gateway: HTTP 413 REQUEST_TOO_LARGE',
    ],
    // A redirect is not followed: the token goes to the configured gateway only.
    [302, {}, 'REQUEST_INVALID', 'sms gateway: HTTP 302'],
  ])('turns HTTP %s %j into %s', async (status, body, code, detail) => {
    answer = json(status, body, status === 302 ? { location: 'http://127.0.0.1:9/elsewhere' } : {});
    const error = await failureOf(sender().send(sms));
    expect([error.code, error.detail]).toEqual([code, detail]);
    expect(error.retryAfterSeconds).toBeUndefined();
    expect(seen).toHaveLength(1);
  });

  it('passes on a 429’s Retry-After, at most retryAfterSecondsMax', async () => {
    answer = json(429, { error: { code: 'REQUEST_RATE_LIMITED' } }, { 'retry-after': '7' });
    const error = await failureOf(sender().send(sms));
    expect([error.code, error.category, error.retryAfterSeconds]).toEqual([
      'SERVICE_UNAVAILABLE',
      'retryable',
      7,
    ]);
    answer = json(429, {}, { 'retry-after': '999999' });
    expect((await failureOf(sender({ retryAfterSecondsMax: 60 }).send(sms))).retryAfterSeconds).toBe(60);
    answer = json(429, {}, { 'retry-after': 'Wed, 02 Dec 2026 10:00:00 GMT' });
    expect((await failureOf(sender().send(sms))).retryAfterSeconds).toBeUndefined();
  });

  it('takes no answer without a valid id as an acceptance', async () => {
    for (const body of [{}, { id: '' }, { id: 7 }, { id: 'a b' }, { id: 'x'.repeat(129) }, 'text']) {
      answer = json(202, body);
      const error = await failureOf(sender().send(sms));
      expect([error.code, error.detail], JSON.stringify(body)).toEqual([
        'SERVICE_UNAVAILABLE',
        'sms gateway: HTTP 202 without a message id',
      ]);
    }
  });

  it('stops reading an answer over responseBytesMax', async () => {
    answer = json(202, { id: 'SM1', padding: 'x'.repeat(2_000) });
    const error = await failureOf(sender({ responseBytesMax: 1_024 }).send(sms));
    expect(error.detail).toBe('sms gateway: HTTP 202 without a message id');
    expect(await sender({ responseBytesMax: 4_096 }).send(sms)).toEqual({ id: 'SM1' });
  });

  it('gives up on a gateway that does not answer within requestTimeoutMs', async () => {
    // Never answers: the sender's own timeout is what ends the wait.
    answer = () => undefined;
    const error = await failureOf(sender({ requestTimeoutMs: 200 }).send(sms));
    expect([error.code, error.detail]).toEqual(['SERVICE_UNAVAILABLE', 'sms gateway: timed out']);
    server.closeAllConnections();
  });

  it('gives up on a gateway that starts an answer and never ends it', async () => {
    answer = (response) => {
      response.writeHead(202, { 'content-type': 'application/json' });
      response.write('{"id":');
    };
    const error = await failureOf(sender({ requestTimeoutMs: 200 }).send(sms));
    expect([error.code, error.detail]).toEqual(['SERVICE_UNAVAILABLE', 'sms gateway: timed out']);
    server.closeAllConnections();
  });

  it('says when nothing listens', async () => {
    // A port that was just free: nothing listens on it.
    const probe = createServer();
    await new Promise<void>((listening) => probe.listen(0, '127.0.0.1', listening));
    const { port } = probe.address() as AddressInfo;
    await new Promise((closed) => probe.close(closed));
    const error = await failureOf(sender({}, `http://127.0.0.1:${port}`).send(sms));
    expect([error.code, error.detail]).toEqual([
      'SERVICE_UNAVAILABLE',
      'sms gateway: unreachable (ECONNREFUSED)',
    ]);
  });

  it('validates its options', () => {
    const valid = { url: baseUrl, token, from: 'mpay' };
    expect(() => createSmsSender({ ...valid, url: 'http://sms.example' })).toThrow(/url must be https/);
    expect(() => createSmsSender({ ...valid, url: 'ftp://127.0.0.1' })).toThrow(
      /url must be an http\(s\) URL/,
    );
    expect(() => createSmsSender({ ...valid, token: 'short' })).toThrow(/token/);
    expect(() => createSmsSender({ ...valid, token: `${token}\r\nx: y` })).toThrow(/token/);
    expect(() => createSmsSender({ ...valid, from: 'much too long' })).toThrow(/from/);
    expect(() => createSmsSender({ ...valid, limits: { requestTimeoutMs: 0 } })).toThrow(/requestTimeoutMs/);
    expect(() => createSmsSender({ ...valid, url: 'https://sms.example/v1' })).not.toThrow();
  });
});

describe('smsErrorOfAnswer', () => {
  it('makes 408, 429 and 5xx retryable and every other status final', () => {
    for (const status of [408, 429, 500, 502, 503, 599]) {
      expect(smsErrorOfAnswer(status, undefined, undefined).category, String(status)).toBe('retryable');
    }
    for (const status of [100, 204, 301, 400, 401, 403, 404, 409, 413, 422, 600]) {
      expect(smsErrorOfAnswer(status, undefined, undefined).code, String(status)).toBe('REQUEST_INVALID');
    }
    expect(smsErrorOfAnswer(503, null, 5).retryAfterSeconds).toBe(5);
  });
});
