import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createMailer, type MailServer, type StoredMail, startMailServer } from '@mpay/mail';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, serviceStartDeadlineMs, within } from '../../../test/support/deadlines.ts';
import { runMpay } from './io.test-helper.ts';
import { mailDirOf } from './mail.ts';

let dataDir: string;
let server: MailServer;
let now = Date.parse('2026-12-02T10:00:00.000Z');

const run = (...argv: string[]) => runMpay([...argv, '--data', dataDir]);

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-cli-mail-'));
  // A minute between two mails: "newest first" is decided by the clock, not by chance.
  const clock = () => {
    now += 60_000;
    return new Date(now);
  };
  server = await within(startMailServer({ dataDir: mailDirOf(dataDir), clock }), {
    deadlineMs: requestDeadlineMs,
    what: 'the mail server to listen',
  });
  const mailer = createMailer({
    smtp: { host: server.host, port: server.port },
    from: 'MPASP <mpasp@fsp.mpay>',
  });
  await mailer.send({
    to: 'john.bernard@person.xbank',
    subject: 'Ihre Zugangsdaten',
    text: 'ID_C: C-000123\nmPIN: 4711\nGrüße ✓',
  });
  await mailer.send({
    to: 'mila.novak@person.xbank',
    subject: 'Key renewal',
    text: 'Your key expires soon.\u001b[31m red \u001b[0m',
  });
});

afterAll(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('mpay mail', () => {
  it('prints every mail, newest first, with date, from, to, subject and text', async () => {
    const { status, stdout } = await run('mail');
    expect(status).toBe(0);
    const mila = stdout.indexOf('To:      mila.novak@person.xbank');
    const john = stdout.indexOf('To:      john.bernard@person.xbank');
    expect(mila).toBeGreaterThanOrEqual(0);
    expect(john).toBeGreaterThan(mila);
    // The mail's own Date header (the sender's clock), in ISO 8601 UTC.
    expect(stdout).toMatch(/^── \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z {2}\(/m);
    expect(stdout).toContain('From:    mpasp@fsp.mpay');
    expect(stdout).toContain('Subject: Ihre Zugangsdaten\n\nID_C: C-000123\nmPIN: 4711\nGrüße ✓\n');
    // An escape sequence in a mail never reaches the terminal.
    expect(stdout).not.toContain('\u001b');
    expect(stdout).toContain('Your key expires soon.\uFFFD[31m red');
  });

  it('prints one address only, whatever its case', async () => {
    const { status, stdout } = await run('mail', 'John.Bernard@Person.XBANK');
    expect(status).toBe(0);
    expect(stdout).toContain('mPIN: 4711');
    expect(stdout).not.toContain('mila.novak');
  });

  it('prints JSON with --json', async () => {
    const { status, stdout } = await run('mail', 'john.bernard@person.xbank', '--json');
    expect(status).toBe(0);
    const mails = JSON.parse(stdout) as StoredMail[];
    expect(mails).toEqual(await server.mailbox.list('john.bernard@person.xbank'));
    expect(mails[0]).toMatchObject({ to: ['john.bernard@person.xbank'], subject: 'Ihre Zugangsdaten' });
    expect(mails[0]!.text).toContain('Grüße ✓');
  });

  it('says so when there is no mail, and refuses two addresses', async () => {
    const none = await run('mail', 'nobody@person.xbank');
    expect(none).toMatchObject({
      status: 0,
      stdout: expect.stringMatching(/^no mail for nobody@person.xbank in /),
    });
    expect((await run('mail', 'nobody@person.xbank', '--json')).stdout.trim()).toBe('[]');
    const two = await run('mail', 'a@b', 'c@d');
    expect(two.status).toBe(2);
    expect(two.stderr).toMatch(/^mpay mail: unexpected argument c@d\n\nUsage:\n {2}mpay mail \[ADDRESS\]/);
  });

  it('reads the same folder from another process', async () => {
    const bin = resolve(fileURLToPath(new URL('../../bin/mpay.js', import.meta.url)));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [bin, 'mail', '--json', '--data', dataDir],
      {
        timeout: serviceStartDeadlineMs,
        env: { ...process.env, MPAY_DATA_DIR: '' },
      },
    );
    const mails = JSON.parse(stdout) as StoredMail[];
    expect(mails.map((mail) => mail.subject)).toEqual(['Key renewal', 'Ihre Zugangsdaten']);
    expect(mails).toEqual(await server.mailbox.list());
  });
});
