import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMpayError, type MpayError } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, within } from '../../../../test/support/deadlines.ts';
import { mailboxFolderOf } from '../mailbox/names.ts';
import { openMailbox } from '../mailbox/open.ts';
import { createMailer } from '../mailer/create.ts';
import { openRawSmtp } from './raw-smtp.test-support.ts';
import { type MailServer, startMailServer } from './start.ts';

const limits = { messageSizeBytesMax: 4096, recipientsPerMessageMax: 2, messagesPerMailboxMax: 3 };
let root: string;
let dataDir: string;
let server: MailServer;
// Each mail one second after the previous: "newest first" is decided by the clock, not by chance.
let now = Date.parse('2026-12-02T10:00:00.000Z');
const clock = () => {
  now += 1_000;
  return new Date(now);
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mpay-mail-server-'));
  dataDir = join(root, 'data', 'mail');
  server = await within(startMailServer({ dataDir, limits, clock }), {
    deadlineMs: requestDeadlineMs,
    what: 'the mail server to listen',
  });
});

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

function mailer() {
  return createMailer({ smtp: { host: server.host, port: server.port }, from: 'MPASP <mpasp@fsp.mpay>' });
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

describe('the embedded mail server on loopback', () => {
  it('listens on a port chosen by the system, on loopback', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.host).toBe('127.0.0.1');
  });

  it('stores what the mailer sends, non-ASCII text and subject intact, readable by a fresh reader', async () => {
    const text = [
      'Ihre Kundennummer (ID_C): C-000123',
      'Ihr mPIN: 4711',
      '',
      'Grüße — Ђорђе Јовановић, 日本語のテキスト, emoji ✓🙂',
      `a long line that the sender folds with quoted-printable soft breaks:${' Öl und Wasser'.repeat(12)}`,
      '\ttabs, trailing spaces   ',
      'and the last line.',
    ].join('\n');
    const subject = 'Ihre Zugangsdaten für mpay — Ünïcödé ✓';
    const { messageId } = await mailer().send({ to: 'John.Bernard@person.xbank', subject, text });
    expect(messageId).toMatch(/^<[^<>\s]+@[^<>\s]+>$/);

    const mails = await openMailbox(dataDir).list('john.bernard@person.xbank');
    expect(mails).toHaveLength(1);
    const [mail] = mails;
    expect(mail).toMatchObject({
      to: ['John.Bernard@person.xbank'],
      from: 'mpasp@fsp.mpay',
      subject,
      text: expect.stringMatching(/^Ihre Kundennummer/),
    });
    // A line break may be added at the end in transit (SMTP data ends with one); nothing else changes.
    expect(mail!.text.replace(/\n$/, '')).toBe(text);
    expect(mail!.receivedAt).toBe(new Date(now).toISOString());
    expect(Date.parse(mail!.date)).not.toBeNaN();
    expect(await server.mailbox.read(mail!.id)).toEqual(mail);
    // One file per recipient, in the recipient's folder, readable by its owner only (it holds an mPIN).
    const file = await stat(join(dataDir, mailboxFolderOf('john.bernard@person.xbank'), `${mail!.id}.json`));
    expect(file.mode & 0o777).toBe(0o600);
  });

  it('lists newest first, a mail to two recipients once, and each recipient sees it', async () => {
    await mailer().send({ to: 'first@person.ybank', subject: 'one', text: '1' });
    await mailer().send({ to: 'first@person.ybank, second@person.ybank', subject: 'two', text: '2' });
    const first = await server.mailbox.list('first@person.ybank');
    expect(first.map((mail) => mail.subject)).toEqual(['two', 'one']);
    expect((await server.mailbox.list('second@person.ybank')).map((mail) => mail.subject)).toEqual(['two']);
    const all = await server.mailbox.list();
    expect(all.filter((mail) => mail.subject === 'two')).toHaveLength(1);
    expect(all.map((mail) => mail.receivedAt)).toEqual(
      [...all.map((mail) => mail.receivedAt)].sort().reverse(),
    );
  });

  it('refuses a message over the size limit with 552, final for the sender, and stores nothing', async () => {
    const error = await failureOf(
      mailer().send({
        to: 'big@person.xbank',
        subject: 'too large',
        text: 'x'.repeat(limits.messageSizeBytesMax),
      }),
    );
    expect(error.code).toBe('MAIL_REJECTED');
    expect(error.category).toBe('final');
    expect(error.detail).toMatch(/^552\b/);
    expect(await server.mailbox.list('big@person.xbank')).toEqual([]);
  });

  it('refuses a message to too many recipients for all of them: no partial delivery', async () => {
    const error = await failureOf(
      mailer().send({ to: 'r1@person.xbank, r2@person.xbank, r3@person.xbank', subject: 'many', text: 'hi' }),
    );
    expect(error.code).toBe('MAIL_REJECTED');
    expect(error.detail).toMatch(/^552\b.*too many recipients/i);
    for (const address of ['r1@person.xbank', 'r2@person.xbank', 'r3@person.xbank']) {
      expect(await server.mailbox.list(address)).toEqual([]);
    }
  });

  it('refuses mail to a full mailbox with 452, retryable for the sender, and delivers to no one', async () => {
    for (let index = 0; index < limits.messagesPerMailboxMax; index += 1) {
      await mailer().send({ to: 'full@person.xbank', subject: `n${index}`, text: 'fills' });
    }
    const alone = await failureOf(mailer().send({ to: 'full@person.xbank', subject: 'over', text: 'x' }));
    expect(alone.code).toBe('MAIL_DELIVERY_FAILED');
    expect(alone.category).toBe('retryable');
    expect(alone.detail).toMatch(/^452\b.*mailbox full/i);
    const withOther = await failureOf(
      mailer().send({ to: 'other@person.xbank, full@person.xbank', subject: 'over', text: 'x' }),
    );
    expect(withOther.code).toBe('MAIL_DELIVERY_FAILED');
    expect(await server.mailbox.list('other@person.xbank')).toEqual([]);
    expect(await server.mailbox.list('full@person.xbank')).toHaveLength(limits.messagesPerMailboxMax);

    // Full mailbox (temporary) and too many recipients (permanent) in one message: DATA says permanent.
    const smtp = await openRawSmtp(server.port);
    try {
      await smtp.reply();
      await smtp.command('EHLO client.test');
      await smtp.command('MAIL FROM:<raw@client.test>');
      expect(await smtp.command('RCPT TO:<full@person.xbank>')).toMatch(/^452 Mailbox full/);
      expect(await smtp.command('RCPT TO:<d@raw.test>')).toMatch(/^250 /);
      expect(await smtp.command('RCPT TO:<e@raw.test>')).toMatch(/^250 /);
      expect(await smtp.command('RCPT TO:<f@raw.test>')).toMatch(/^452 Too many/);
      expect(await smtp.command('DATA')).toMatch(/^354 /);
      expect(await smtp.command('Subject: mixed\r\n\r\nbody\r\n.')).toMatch(/^552 .*too many recipients/);
    } finally {
      smtp.close();
    }
    expect(await server.mailbox.list('d@raw.test')).toEqual([]);
  });

  it('keeps a mailbox limit exact under concurrent senders', async () => {
    const sends = Array.from({ length: limits.messagesPerMailboxMax + 2 }, (_, index) =>
      mailer().send({ to: 'race@person.xbank', subject: `race ${index}`, text: 'x' }),
    );
    const results = await Promise.allSettled(sends);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(
      limits.messagesPerMailboxMax,
    );
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toMatchObject({ code: 'MAIL_DELIVERY_FAILED' });
    }
    expect(await server.mailbox.list('race@person.xbank')).toHaveLength(limits.messagesPerMailboxMax);
  });

  it('refuses a mailbox beyond mailboxesMax (452, retryable) and still fills the existing ones', async () => {
    const smallDir = await mkdtemp(join(tmpdir(), 'mpay-mail-small-'));
    const small = await startMailServer({ dataDir: smallDir, limits: { mailboxesMax: 2 } });
    try {
      const send = (to: string) =>
        createMailer({ smtp: { host: small.host, port: small.port }, from: 'mpasp@fsp.mpay' }).send({
          to,
          subject: 's',
          text: 't',
        });
      await send('one@x.test');
      await send('two@x.test');
      const third = await failureOf(send('three@x.test'));
      expect(third.code).toBe('MAIL_DELIVERY_FAILED');
      expect(third.detail).toMatch(/^452\b.*mail storage full/i);
      await send('ONE@x.test');
      expect(await small.mailbox.list('one@x.test')).toHaveLength(2);
      expect(await small.mailbox.list('three@x.test')).toEqual([]);
    } finally {
      await small.close();
      await rm(smallDir, { recursive: true, force: true });
    }
  });

  it('answers a raw client: too many recipients at RCPT (452), then DATA refused for all (552)', async () => {
    const smtp = await openRawSmtp(server.port);
    try {
      expect(await smtp.reply()).toMatch(/^220 /);
      expect(await smtp.command('EHLO client.test')).toMatch(/^250[ -]/);
      expect(await smtp.command('MAIL FROM:<raw@client.test>')).toMatch(/^250 /);
      expect(await smtp.command('RCPT TO:<a@raw.test>')).toMatch(/^250 /);
      expect(await smtp.command('RCPT TO:<A@raw.test>')).toMatch(/^250 /); // the same mailbox again
      expect(await smtp.command('RCPT TO:<b@raw.test>')).toMatch(/^250 /);
      expect(await smtp.command('RCPT TO:<c@raw.test>')).toMatch(/^452 /);
      expect(await smtp.command('DATA')).toMatch(/^354 /);
      expect(await smtp.command('Subject: hi\r\n\r\nbody\r\n.')).toMatch(/^552 /);
      // The next transaction on the same connection starts clean.
      expect(await smtp.command('MAIL FROM:<raw@client.test>')).toMatch(/^250 /);
      expect(await smtp.command('RCPT TO:<c@raw.test>')).toMatch(/^250 /);
      expect(await smtp.command('DATA')).toMatch(/^354 /);
      expect(await smtp.command('Subject: again\r\n\r\nbody\r\n.')).toMatch(/^250 OK: stored as \d{13}-/);
      expect(await smtp.command('QUIT')).toMatch(/^221 /);
    } finally {
      smtp.close();
    }
    expect(await server.mailbox.list('a@raw.test')).toEqual([]);
    expect((await server.mailbox.list('c@raw.test')).map((mail) => mail.subject)).toEqual(['again']);
  });

  it('keeps hostile recipient addresses inside the data folder', async () => {
    const smtp = await openRawSmtp(server.port);
    try {
      await smtp.reply();
      await smtp.command('EHLO client.test');
      await smtp.command('MAIL FROM:<raw@client.test>');
      // Not an address (a local part may not start with a dot): refused at RCPT, before any storage.
      expect(await smtp.command('RCPT TO:<../../x@y>')).toMatch(/^5\d\d /);
      expect(await smtp.command(`RCPT TO:<${'a'.repeat(260)}@y>`)).toMatch(/^5\d\d /);
      // Valid addresses with path characters in them.
      expect(await smtp.command('RCPT TO:<x/y@z>')).toMatch(/^250 /);
      expect(await smtp.command('RCPT TO:<x\\y@z>')).toMatch(/^250 /);
      expect(await smtp.command('RCPT TO:<"x/../y"@z>')).toMatch(/^5\d\d /);
      expect(await smtp.command('DATA')).toMatch(/^354 /);
      expect(await smtp.command('Subject: paths\r\n\r\nbody\r\n.')).toMatch(/^250 /);
    } finally {
      smtp.close();
    }
    expect(await server.mailbox.list('x/y@z')).toHaveLength(1);
    expect(await server.mailbox.list('x\\y@z')).toHaveLength(1);
    for (const name of await readdir(dataDir)) expect(name).toMatch(/^[a-z0-9@._+-]*~[0-9a-f]{16}$/);
    expect(await readdir(join(root, 'data'))).toEqual(['mail']);
    expect(await readdir(root)).toEqual(['data']);
    await expect(stat(resolve(dataDir, '..', '..', 'x@y'))).rejects.toThrow(/ENOENT/);
  });

  it('fails with MAIL_DELIVERY_FAILED (retryable) when no server listens', async () => {
    const closed = createServer();
    await new Promise<void>((listening) => closed.listen(0, '127.0.0.1', listening));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((done) => closed.close(() => done()));
    const error = await failureOf(
      createMailer({ smtp: { host: '127.0.0.1', port }, from: 'mpasp@fsp.mpay' }).send({
        to: 'nobody@person.xbank',
        subject: 's',
        text: 't',
      }),
    );
    expect(error.code).toBe('MAIL_DELIVERY_FAILED');
    expect(error.category).toBe('retryable');
  });

  it('refuses to listen anywhere but on loopback, and validates its options', async () => {
    await expect(startMailServer({ dataDir, host: '0.0.0.0' })).rejects.toThrow(/loopback/);
    await expect(startMailServer({ dataDir, host: '192.168.1.10' })).rejects.toThrow(/loopback/);
    await expect(startMailServer({ dataDir, port: 70_000 })).rejects.toThrow(/port/);
    await expect(startMailServer({ dataDir, limits: { recipientsPerMessageMax: 0 } })).rejects.toThrow(
      /recipientsPerMessageMax/,
    );
  });

  it('fails to start on a port already taken', async () => {
    await expect(startMailServer({ dataDir, port: server.port })).rejects.toThrow(/EADDRINUSE/);
  });
});
