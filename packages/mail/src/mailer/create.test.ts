import { isMpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { createMailer, mailErrorOf } from './create.ts';

// Port 9 (discard) on loopback: nothing listens, so a mail that got past validation would fail to connect,
// with another code than the one these tests expect.
const mailer = createMailer({ smtp: { host: '127.0.0.1', port: 9 }, from: 'mpasp@fsp.mpay' });

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  return isMpayError(error) ? `${error.code}${error.detail ? ` ${error.detail}` : ''}` : String(error);
}

describe('createMailer', () => {
  it('refuses, before connecting, a mail it will not send', async () => {
    const valid = { to: 'john.bernard@person.xbank', subject: 'Zugangsdaten', text: 'mPIN 4711' };
    expect(await codeOf(mailer.send({ ...valid, to: '' }))).toBe('REQUEST_INVALID mail: to');
    expect(await codeOf(mailer.send({ ...valid, to: 'not an address' }))).toBe('REQUEST_INVALID mail: to');
    expect(await codeOf(mailer.send({ ...valid, to: 'a@b\r\nBcc: c@d' }))).toBe('REQUEST_INVALID mail: to');
    expect(await codeOf(mailer.send({ ...valid, subject: 'a\r\nBcc: c@d' }))).toBe(
      'REQUEST_INVALID mail: subject',
    );
    expect(await codeOf(mailer.send({ ...valid, subject: 'x'.repeat(201) }))).toBe(
      'REQUEST_INVALID mail: subject',
    );
    const small = createMailer({
      smtp: { host: '127.0.0.1', port: 9 },
      from: 'mpasp@fsp.mpay',
      limits: { textBytesMax: 10 },
    });
    // Ten characters, twenty bytes in UTF-8: the limit counts bytes.
    expect(await codeOf(small.send({ ...valid, text: 'ü'.repeat(10) }))).toBe('REQUEST_INVALID mail: text');
    // Past validation, the same mail fails on the network, retryably.
    expect(await codeOf(small.send({ ...valid, text: 'ü'.repeat(5) }))).toMatch(/^MAIL_DELIVERY_FAILED /);
  });

  it('validates its options', () => {
    const smtp = { host: '127.0.0.1', port: 25 };
    expect(() => createMailer({ smtp, from: 'not an address' })).toThrow(/from/);
    expect(() => createMailer({ smtp, from: 'a@b, c@d' })).toThrow(/from/);
    expect(() => createMailer({ smtp: { host: '', port: 25 }, from: 'a@b' })).toThrow(/host/);
    expect(() => createMailer({ smtp: { host: 'x', port: 0 }, from: 'a@b' })).toThrow(/port/);
    expect(() => createMailer({ smtp, from: 'a@b', limits: { subjectLengthMax: 999 } })).toThrow(
      /subjectLengthMax/,
    );
  });
});

describe('mailErrorOf', () => {
  it.each([
    [
      { code: 'EENVELOPE', responseCode: 550, response: '550 No such user' },
      'MAIL_REJECTED',
      '550 No such user',
    ],
    [
      { code: 'EMESSAGE', responseCode: 552, response: '552 Message too large' },
      'MAIL_REJECTED',
      '552 Message too large',
    ],
    [
      { code: 'EAUTH', responseCode: 535, response: '535 Authentication failed' },
      'MAIL_REJECTED',
      '535 Authentication failed',
    ],
    [
      { code: 'EENVELOPE', responseCode: 452, response: '452 Mailbox full' },
      'MAIL_DELIVERY_FAILED',
      '452 Mailbox full',
    ],
    [
      { code: 'EMESSAGE', responseCode: 421, response: '421 Shutting down' },
      'MAIL_DELIVERY_FAILED',
      '421 Shutting down',
    ],
    [{ code: 'ETIMEDOUT' }, 'MAIL_DELIVERY_FAILED', 'ETIMEDOUT'],
    [{ code: 'ECONNECTION' }, 'MAIL_DELIVERY_FAILED', 'ECONNECTION'],
    [new Error('anything else'), 'MAIL_DELIVERY_FAILED', 'no SMTP reply'],
  ])('maps %j to %s', (failure, code, detail) => {
    const error = mailErrorOf(Object.assign(new Error('smtp'), failure));
    expect(error.code).toBe(code);
    expect(error.detail).toBe(detail);
    expect(error.category).toBe(code === 'MAIL_REJECTED' ? 'final' : 'retryable');
  });

  it('keeps a long reply short', () => {
    const error = mailErrorOf({ responseCode: 554, response: `554 ${'x'.repeat(1_000)}` });
    expect(error.detail).toHaveLength(200);
  });
});
