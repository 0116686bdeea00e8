import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requestDeadlineMs, within } from '../../../../test/support/deadlines.ts';
import { startMailServer } from '../server/start.ts';
import { mailboxFolderOf, newMailId, temporaryPrefix } from './names.ts';
import { openMailbox } from './open.ts';
import type { StoredMail } from './stored-mail.ts';
import { writeMail } from './write.ts';

let root: string;
let dataDir: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mpay-mailbox-'));
  dataDir = join(root, 'a', 'b', 'mail');
  await mkdir(dataDir, { recursive: true });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function mailTo(to: string[], receivedAt: Date, text = 'Ihr mPIN: 4711'): StoredMail {
  return {
    id: newMailId(receivedAt),
    to,
    from: 'mpasp@fsp.mpay',
    subject: 'Zugangsdaten',
    date: receivedAt.toISOString(),
    text,
    receivedAt: receivedAt.toISOString(),
  };
}

/** Every path under `path`, relative to it. */
async function tree(path: string): Promise<string[]> {
  const entries = await readdir(path, { recursive: true });
  return entries.map(String).sort();
}

describe('mailbox folder names', () => {
  it('are one safe path segment for any address, and stay inside the data folder', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.emailAddress()), (address) => {
        const folder = mailboxFolderOf(address);
        expect(folder).toMatch(/^[a-z0-9@._+-]{0,64}~[0-9a-f]{16}$/);
        expect(folder).not.toMatch(/^[.-]/);
        expect(dirname(join(dataDir, folder))).toBe(dataDir);
      }),
      { numRuns: 2_000 },
    );
  });

  it('name hostile addresses without any path in them', () => {
    for (const address of ['../../x@y', '..', '.', '/etc/passwd', 'a\\..\\..\\b@c', 'x\u0000y@z', '-rf@x']) {
      const folder = mailboxFolderOf(address);
      for (const character of ['/', '\\', '\u0000']) expect(folder, address).not.toContain(character);
      expect(folder.startsWith('.') || folder.startsWith('-'), address).toBe(false);
    }
    expect(mailboxFolderOf('../../x@y')).toMatch(/^___\.\._x@y~[0-9a-f]{16}$/);
  });

  it('give one mailbox per address up to case and surrounding space, and keep others apart', () => {
    expect(mailboxFolderOf(' John.Bernard@Person.XBANK ')).toBe(mailboxFolderOf('john.bernard@person.xbank'));
    // Same readable part, different addresses: the digest keeps them apart.
    expect(mailboxFolderOf('a/b@c')).not.toBe(mailboxFolderOf('a\\b@c'));
    expect(mailboxFolderOf(`${'x'.repeat(70)}1@y`)).not.toBe(mailboxFolderOf(`${'x'.repeat(70)}2@y`));
  });
});

describe('the mailbox on disk', () => {
  it('stores a mail to a hostile address inside the data folder and finds it by that address', async () => {
    const mail = mailTo(['../../x@y', '..@..'], new Date('2026-12-02T10:00:00.000Z'));
    await writeMail(dataDir, mail);
    expect(await tree(root)).toEqual(
      [
        'a',
        'a/b',
        'a/b/mail',
        `a/b/mail/${mailboxFolderOf('../../x@y')}`,
        `a/b/mail/${mailboxFolderOf('../../x@y')}/${mail.id}.json`,
        `a/b/mail/${mailboxFolderOf('..@..')}`,
        `a/b/mail/${mailboxFolderOf('..@..')}/${mail.id}.json`,
      ].sort(),
    );
    const mailbox = openMailbox(dataDir);
    expect(await mailbox.list('../../x@y')).toEqual([mail]);
    expect(await mailbox.list('..@..')).toEqual([mail]);
    expect(await mailbox.list()).toEqual([mail]);
  });

  it('reads by id only, never by a path', async () => {
    const mail = mailTo(['x@y'], new Date('2026-12-02T10:00:00.000Z'));
    await writeMail(dataDir, mail);
    const mailbox = openMailbox(dataDir);
    expect(await mailbox.read(mail.id)).toEqual(mail);
    expect(await mailbox.read(`../${mailboxFolderOf('x@y')}/${mail.id}`)).toBeUndefined();
    expect(await mailbox.read(`${mail.id}.json`)).toBeUndefined();
    expect(await mailbox.read('0000000000000-0000000000000000')).toBeUndefined();
  });

  it('ignores what a crash left half-written, and the next server start removes it', async () => {
    const kept = mailTo(['crash@person.xbank'], new Date('2026-12-02T10:00:00.000Z'));
    await writeMail(dataDir, kept);
    const folder = join(dataDir, mailboxFolderOf('crash@person.xbank'));
    // A write cut off before its rename: a temporary file with half a mail in it.
    const halfWritten = `${temporaryPrefix}0123456789abcdef`;
    await writeFile(join(folder, halfWritten), JSON.stringify(kept).slice(0, 40));
    // And files that are not mails: garbage under a mail's name, a mail under another id's name.
    await writeFile(join(folder, '1764669600000-ffffffffffffffff.json'), '{"id": "not a mail"');
    await writeFile(join(folder, '1764669600001-eeeeeeeeeeeeeeee.json'), JSON.stringify(kept));
    await writeFile(join(dataDir, 'stray.txt'), 'not a mailbox');

    expect(await openMailbox(dataDir).list()).toEqual([kept]);
    expect(await openMailbox(dataDir).list('crash@person.xbank')).toEqual([kept]);
    expect(await openMailbox(dataDir).read('1764669600001-eeeeeeeeeeeeeeee')).toBeUndefined();
    expect(await openMailbox(dataDir).read('1764669600000-ffffffffffffffff')).toBeUndefined();

    const server = await within(startMailServer({ dataDir }), {
      deadlineMs: requestDeadlineMs,
      what: 'the mail server to start',
    });
    try {
      expect(await readdir(folder)).not.toContain(halfWritten);
      expect(await server.mailbox.list()).toEqual([kept]);
    } finally {
      await server.close();
    }
  });

  it('lists newest first across mailboxes', async () => {
    const older = mailTo(['one@x'], new Date('2026-12-02T10:00:00.000Z'), 'older');
    const newer = mailTo(['two@x'], new Date('2026-12-02T11:00:00.000Z'), 'newer');
    const newest = mailTo(['one@x', 'two@x'], new Date('2026-12-02T12:00:00.000Z'), 'newest');
    for (const mail of [newer, newest, older]) await writeMail(dataDir, mail);
    const mailbox = openMailbox(dataDir);
    expect((await mailbox.list()).map((mail) => mail.text)).toEqual(['newest', 'newer', 'older']);
    expect((await mailbox.list('ONE@x')).map((mail) => mail.text)).toEqual(['newest', 'older']);
  });

  it('answers an empty list for a data folder that does not exist yet', async () => {
    const missing = resolve(root, 'nothing-here');
    expect(await openMailbox(missing).list()).toEqual([]);
    expect(await openMailbox(missing).list('x@y')).toEqual([]);
    expect(await openMailbox(missing).read('0000000000000-0000000000000000')).toBeUndefined();
  });
});
