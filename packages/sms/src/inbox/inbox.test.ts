import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMpayError } from '@mpay/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requestDeadlineMs, within } from '../../../../test/support/deadlines.ts';
import { startSmsGateway } from '../gateway/start.ts';
import { inboxFolderOf, newSmsId, temporaryPrefix } from './names.ts';
import { openSmsInbox } from './open.ts';
import type { StoredSms } from './stored-sms.ts';
import { writeSms } from './write.ts';

let root: string;
let dataDir: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mpay-sms-inbox-'));
  dataDir = join(root, 'data', 'sms');
  await mkdir(dataDir, { recursive: true });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function smsTo(to: string, receivedAt: Date, text = 'mpay code: 482913'): StoredSms {
  return { id: newSmsId(receivedAt), from: 'mpay', to, text, receivedAt: receivedAt.toISOString() };
}

describe('inbox folder names', () => {
  it('are the MSISDN digits, and only an E.164 MSISDN names one', () => {
    expect(inboxFolderOf('+38970123456')).toBe('38970123456');
    for (const hostile of ['../../x', '+3897012345/', '38970123456', '+0123456789', '+1234567890123456']) {
      expect(() => inboxFolderOf(hostile), hostile).toThrow(/assertion failed/);
    }
  });
});

describe('the inbox on disk', () => {
  it('lists newest first, all of them or one number’s', async () => {
    const older = smsTo('+38970000001', new Date('2026-12-02T10:00:00.000Z'), 'older');
    const newer = smsTo('+38970000002', new Date('2026-12-02T11:00:00.000Z'), 'newer');
    const newest = smsTo('+38970000001', new Date('2026-12-02T12:00:00.000Z'), 'newest');
    for (const sms of [newer, newest, older]) await writeSms(dataDir, sms);
    const inbox = openSmsInbox(dataDir);
    expect((await inbox.list()).map((sms) => sms.text)).toEqual(['newest', 'newer', 'older']);
    expect(await inbox.list('+38970000001')).toEqual([newest, older]);
    expect(await inbox.list('+38970000003')).toEqual([]);
    expect(await inbox.read(newer.id)).toEqual(newer);
    expect(await inbox.read(`../${inboxFolderOf('+38970000002')}/${newer.id}`)).toBeUndefined();
  });

  it('refuses to list a number that is not E.164', async () => {
    const error = await openSmsInbox(dataDir)
      .list('../../etc')
      .catch((reason: unknown) => reason);
    expect(isMpayError(error, 'REQUEST_INVALID')).toBe(true);
  });

  it('skips what a crash left half-written and every corrupted file, and the next gateway start removes the half-written one', async () => {
    const kept = smsTo('+38970123456', new Date('2026-12-02T10:00:00.000Z'));
    await writeSms(dataDir, kept);
    const folder = join(dataDir, inboxFolderOf('+38970123456'));
    // A write cut off before its rename: a temporary file with half a message in it.
    const halfWritten = `${temporaryPrefix}0123456789abcdef`;
    await writeFile(join(folder, halfWritten), JSON.stringify(kept).slice(0, 30));
    // Files under a message's name that are not one: cut JSON, no JSON, the wrong shape,
    // another id's content, a message to another number, a folder, a file too large to be one.
    const corrupted: Array<[string, string]> = [
      ['1764669600000-aaaaaaaaaaaaaaa0.json', '{"id": "1764669600000-aaaaaaaaaaaaaaa0", "fr'],
      ['1764669600000-aaaaaaaaaaaaaaa1.json', '\u0000\u0001binary'],
      ['1764669600000-aaaaaaaaaaaaaaa2.json', JSON.stringify([kept])],
      [
        '1764669600000-aaaaaaaaaaaaaaa3.json',
        JSON.stringify({ ...kept, id: '1764669600000-aaaaaaaaaaaaaaa3', to: '12' }),
      ],
      ['1764669600000-aaaaaaaaaaaaaaa4.json', JSON.stringify(kept)],
      [
        '1764669600000-aaaaaaaaaaaaaaa5.json',
        JSON.stringify({ ...kept, id: '1764669600000-aaaaaaaaaaaaaaa5', to: '+38970999999' }),
      ],
      [
        '1764669600000-aaaaaaaaaaaaaaa6.json',
        JSON.stringify({ ...kept, id: '1764669600000-aaaaaaaaaaaaaaa6', text: 'x'.repeat(70_000) }),
      ],
      ['1764669600000-aaaaaaaaaaaaaaa7.json', ''],
    ];
    for (const [name, content] of corrupted) await writeFile(join(folder, name), content);
    await mkdir(join(folder, '1764669600000-aaaaaaaaaaaaaaa8.json'));
    await writeFile(join(dataDir, 'stray.txt'), 'not an inbox');

    const inbox = openSmsInbox(dataDir);
    expect(await inbox.list()).toEqual([kept]);
    expect(await inbox.list('+38970123456')).toEqual([kept]);
    expect(await inbox.list('+38970999999')).toEqual([]);
    for (let index = 0; index <= 8; index += 1) {
      expect(await inbox.read(`1764669600000-aaaaaaaaaaaaaaa${index}`)).toBeUndefined();
    }

    const gateway = await within(startSmsGateway({ dataDir, token: 'test-token-0123456789' }), {
      deadlineMs: requestDeadlineMs,
      what: 'the sms gateway to start',
    });
    try {
      const names = await readdir(folder);
      expect(names).not.toContain(halfWritten);
      expect(names).toContain('1764669600000-aaaaaaaaaaaaaaa1.json');
      expect(await gateway.inbox.list()).toEqual([kept]);
    } finally {
      await gateway.close();
    }
  });

  it('answers an empty list for a data folder that does not exist yet', async () => {
    const missing = resolve(root, 'nothing-here');
    expect(await openSmsInbox(missing).list()).toEqual([]);
    expect(await openSmsInbox(missing).list('+38970123456')).toEqual([]);
    expect(await openSmsInbox(missing).read('0000000000000-0000000000000000')).toBeUndefined();
  });
});
