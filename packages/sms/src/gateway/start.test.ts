import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMpayError, type MpayError } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, within } from '../../../../test/support/deadlines.ts';
import { inboxFolderOf } from '../inbox/names.ts';
import { openSmsInbox } from '../inbox/open.ts';
import { createSmsSender } from '../sender/create.ts';
import { type SmsGateway, type SmsGatewayOptions, startSmsGateway } from './start.ts';

const token = 'gateway-test-token-0123456789abcdef';
const limits = { messagesPerInboxMax: 3, inboxesMax: 100, storageFullRetryAfterSeconds: 120 };
let root: string;
let dataDir: string;
let gateway: SmsGateway;
// Each message one second after the previous: "newest first" is decided by the clock, not by chance.
let now = Date.parse('2026-12-02T10:00:00.000Z');
const clock = () => {
  now += 1_000;
  return new Date(now);
};

async function start(options: Omit<SmsGatewayOptions, 'token'> & { token?: string }): Promise<SmsGateway> {
  return within(startSmsGateway({ token, ...options }), {
    deadlineMs: requestDeadlineMs,
    what: 'the sms gateway to listen',
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mpay-sms-gateway-'));
  dataDir = join(root, 'data', 'sms');
  gateway = await start({ dataDir, limits, clock });
});

afterAll(async () => {
  await gateway?.close();
  await rm(root, { recursive: true, force: true });
});

function sender(url = gateway.url, bearer = token) {
  return createSmsSender({ url, token: bearer, from: 'mpay' });
}

/** The error a promise rejects with, which must be an MpayError. */
async function failureOf(promise: Promise<unknown>): Promise<MpayError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!isMpayError(error)) throw new Error(`expected an MpayError, got ${String(error)}`);
  return error;
}

/** A raw POST /messages, as any client could send it. */
async function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gateway.url}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(requestDeadlineMs),
  });
}

describe('the embedded sms gateway on loopback', () => {
  it('listens on a port chosen by the system, on loopback, and answers /health', async () => {
    expect(gateway.port).toBeGreaterThan(0);
    expect(gateway.host).toBe('127.0.0.1');
    expect(gateway.url).toBe(`http://127.0.0.1:${gateway.port}`);
    const health = await fetch(`${gateway.url}/health`, { signal: AbortSignal.timeout(requestDeadlineMs) });
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', service: 'sms-gateway' });
  });

  it('stores what the sender sends, text intact, readable by a fresh reader', async () => {
    const text = 'mpay: Ihr Anmeldecode 482913\nGültig 5 Minuten — Ђорђе ✓🙂';
    const { id } = await sender().send({ to: '+38970123456', text });
    expect(id).toMatch(/^[0-9]{13}-[0-9a-f]{16}$/);
    const messages = await openSmsInbox(dataDir).list('+38970123456');
    expect(messages).toEqual([
      { id, from: 'mpay', to: '+38970123456', text, receivedAt: new Date(now).toISOString() },
    ]);
    expect(await gateway.inbox.read(id)).toEqual(messages[0]);
    // One file in the number's folder, readable by its owner only (it holds a one-time code).
    const folder = join(dataDir, inboxFolderOf('+38970123456'));
    expect(await readdir(folder)).toEqual([`${id}.json`]);
    expect((await stat(join(folder, `${id}.json`))).mode & 0o777).toBe(0o600);
    expect((await stat(folder)).mode & 0o777).toBe(0o700);
  });

  it('lists newest first', async () => {
    await sender().send({ to: '+38970000001', text: 'one' });
    await sender().send({ to: '+38970000002', text: 'two' });
    await sender().send({ to: '+38970000001', text: 'three' });
    expect((await gateway.inbox.list('+38970000001')).map((sms) => sms.text)).toEqual(['three', 'one']);
    const all = (await gateway.inbox.list()).map((sms) => sms.text);
    expect(all.slice(0, 3)).toEqual(['three', 'two', 'one']);
  });

  it('refuses a wrong or missing token with 401, before reading the body, and stores nothing', async () => {
    const error = await failureOf(sender(gateway.url, `${token}x`).send({ to: '+38970000401', text: 'x' }));
    expect(error.code).toBe('REQUEST_INVALID');
    expect(error.detail).toBe('sms gateway: HTTP 401 AUTHENTICATION_FAILED');
    for (const authorization of ['', `Basic ${token}`, `Bearer ${token.slice(1)}`, `Bearer  ${token} x`]) {
      const answer = await post({ from: 'mpay', to: '+38970000401', text: 'x' }, { authorization });
      expect(answer.status, authorization).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('AUTHENTICATION_FAILED');
    }
    // Not even a body that would be refused for its size is read without the token.
    const big = await post('x'.repeat(64 * 1024), { authorization: 'Bearer nope-nope-nope-nope' });
    expect(big.status).toBe(401);
    expect(await gateway.inbox.list('+38970000401')).toEqual([]);
    // The scheme is case-insensitive (RFC 9110 §11.1).
    expect(
      (await post({ from: 'mpay', to: '+38970000401', text: 'x' }, { authorization: `bearer ${token}` }))
        .status,
    ).toBe(202);
  });

  it('refuses a number that is not E.164, at the sender and at the gateway', async () => {
    for (const to of ['0038970123456', '38970123456', '+0038970', '+38970123456\n', '../../x']) {
      const error = await failureOf(sender().send({ to, text: 'code' }));
      expect([error.code, error.detail], to).toEqual(['REQUEST_INVALID', 'sms: to']);
      const answer = await post({ from: 'mpay', to, text: 'code' });
      expect(answer.status, to).toBe(400);
      expect(await answer.json()).toMatchObject({ error: { code: 'REQUEST_INVALID', detail: 'to' } });
    }
    expect((await readdir(dataDir)).every((name) => /^[1-9][0-9]{6,14}$/.test(name))).toBe(true);
  });

  it('refuses a text over 918 characters or with a control character, and takes one of exactly 918', async () => {
    const to = '+38970000918';
    for (const text of ['x'.repeat(919), '🙂'.repeat(919), '', 'a\u001b[31mb', 'a\rb']) {
      const error = await failureOf(sender().send({ to, text }));
      expect([error.code, error.detail]).toEqual(['REQUEST_INVALID', 'sms: text']);
      const answer = await post({ from: 'mpay', to, text });
      expect(answer.status).toBe(400);
      expect(await answer.json()).toMatchObject({ error: { code: 'REQUEST_INVALID', detail: 'text' } });
    }
    await sender().send({ to, text: '🙂'.repeat(918) });
    expect((await gateway.inbox.list(to)).map((sms) => [...sms.text].length)).toEqual([918]);
  });

  it('refuses a body of another shape, another sender id, or over the size limit', async () => {
    const valid = { from: 'mpay', to: '+38970000400', text: 'x' };
    expect((await post({ ...valid, extra: 1 })).status).toBe(400);
    expect((await post({ to: valid.to, text: valid.text })).status).toBe(400);
    expect((await post({ ...valid, text: 7 })).status).toBe(400);
    expect((await post('{"from":')).status).toBe(400);
    expect((await post({ ...valid, from: 'much too long id' })).status).toBe(400);
    expect((await post(valid, { 'content-type': 'text/plain' })).status).toBe(400);
    const large = await post({ ...valid, text: 'x'.repeat(16 * 1024) });
    expect(large.status).toBe(413);
    expect(await gateway.inbox.list(valid.to)).toEqual([]);
  });

  it('refuses a message to a full inbox with 429 and Retry-After, retryable for the sender, other inboxes unaffected', async () => {
    const to = '+38970000429';
    for (let index = 0; index < limits.messagesPerInboxMax; index += 1) {
      await sender().send({ to, text: `fills ${index}` });
    }
    const error = await failureOf(sender().send({ to, text: 'over' }));
    expect(error.code).toBe('SERVICE_UNAVAILABLE');
    expect(error.category).toBe('retryable');
    expect(error.detail).toBe('sms gateway: HTTP 429 REQUEST_RATE_LIMITED');
    expect(error.retryAfterSeconds).toBe(limits.storageFullRetryAfterSeconds);
    const answer = await post({ from: 'mpay', to, text: 'over' });
    expect(answer.status).toBe(429);
    expect(answer.headers.get('retry-after')).toBe('120');
    expect(await answer.json()).toMatchObject({
      error: { code: 'REQUEST_RATE_LIMITED', detail: 'inbox full (at most 3)' },
    });
    expect((await gateway.inbox.list(to)).map((sms) => sms.text)).toEqual(['fills 2', 'fills 1', 'fills 0']);
    await sender().send({ to: '+38970000430', text: 'another number' });
  });

  it('refuses one inbox too many with 429, and still takes messages to the inboxes it has', async () => {
    const small = await start({ dataDir: join(root, 'two-inboxes'), limits: { inboxesMax: 2 } });
    try {
      const send = (to: string) => sender(small.url).send({ to, text: 'hi' });
      await send('+38970000001');
      await send('+38970000002');
      const error = await failureOf(send('+38970000003'));
      expect(error.detail).toBe('sms gateway: HTTP 429 REQUEST_RATE_LIMITED');
      await send('+38970000001');
      expect((await small.inbox.list()).map((sms) => sms.to).sort()).toEqual([
        '+38970000001',
        '+38970000001',
        '+38970000002',
      ]);
    } finally {
      await small.close();
    }
  });

  it('keeps every one of many concurrent messages to one number', async () => {
    const busy = await start({ dataDir: join(root, 'concurrent'), limits: { requestsInFlightMax: 64 } });
    try {
      const texts = Array.from({ length: 40 }, (_, index) => `code ${String(index).padStart(6, '0')}`);
      const ids = await Promise.all(texts.map((text) => sender(busy.url).send({ to: '+38970123456', text })));
      expect(new Set(ids.map(({ id }) => id)).size).toBe(texts.length);
      const stored = await busy.inbox.list('+38970123456');
      expect(stored.map((sms) => sms.text).sort()).toEqual(texts);
      expect(stored.map((sms) => sms.id).sort()).toEqual(ids.map(({ id }) => id).sort());
    } finally {
      await busy.close();
    }
  });

  it('accepts exactly as many concurrent messages as a nearly full inbox has room for', async () => {
    const busy = await start({
      dataDir: join(root, 'concurrent-full'),
      limits: { messagesPerInboxMax: 5, requestsInFlightMax: 64 },
    });
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, index) =>
          sender(busy.url).send({ to: '+38970123456', text: `race ${index}` }),
        ),
      );
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(5);
      for (const outcome of outcomes.filter((outcome) => outcome.status === 'rejected')) {
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({
          code: 'SERVICE_UNAVAILABLE',
          detail: 'sms gateway: HTTP 429 REQUEST_RATE_LIMITED',
        });
      }
      expect(await busy.inbox.list('+38970123456')).toHaveLength(5);
    } finally {
      await busy.close();
    }
  });

  it('refuses to start on a host that is not loopback, or with a weak token', async () => {
    await expect(startSmsGateway({ dataDir, token, host: '0.0.0.0' })).rejects.toThrow(/loopback/);
    await expect(startSmsGateway({ dataDir, token: 'short' })).rejects.toThrow(/token/);
    await expect(startSmsGateway({ dataDir, token: `${token} x` })).rejects.toThrow(/token/);
    await expect(startSmsGateway({ dataDir, token, port: 70_000 })).rejects.toThrow(/port/);
    await expect(startSmsGateway({ dataDir, token, limits: { messagesPerInboxMax: 0 } })).rejects.toThrow(
      /messagesPerInboxMax/,
    );
  });

  it('answers no more once closed, and the sender says the gateway is unreachable', async () => {
    const closing = await start({ dataDir: join(root, 'closed') });
    const url = closing.url;
    await closing.close();
    await closing.close();
    const error = await failureOf(sender(url).send({ to: '+38970123456', text: 'late' }));
    expect(error.code).toBe('SERVICE_UNAVAILABLE');
    expect(error.detail).toBe('sms gateway: unreachable (ECONNREFUSED)');
  });
});
