import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createSmsSender, type SmsGateway, type StoredSms, startSmsGateway } from '@mpay/sms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, serviceStartDeadlineMs, within } from '../../../test/support/deadlines.ts';
import { runMpay } from './io.test-helper.ts';
import { smsDirOf } from './sms.ts';

let dataDir: string;
let gateway: SmsGateway;
let now = Date.parse('2026-12-02T10:00:00.000Z');
const token = 'cli-sms-test-token-0123456789';

const run = (...argv: string[]) => runMpay([...argv, '--data', dataDir]);

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-cli-sms-'));
  // A minute between two messages: "newest first" is decided by the clock, not by chance.
  const clock = () => {
    now += 60_000;
    return new Date(now);
  };
  gateway = await within(startSmsGateway({ dataDir: smsDirOf(dataDir), token, clock }), {
    deadlineMs: requestDeadlineMs,
    what: 'the sms gateway to listen',
  });
  const sender = createSmsSender({ url: gateway.url, token, from: 'mpay' });
  await sender.send({ to: '+38970123456', text: 'mpay: Ihr Anmeldecode 482913\nGrüße ✓' });
  await createSmsSender({ url: gateway.url, token, from: '+38970999999' }).send({
    to: '+38971000001',
    text: 'Your key expires soon.',
  });
  // The gateway refuses control characters, but a file in the folder is written by anyone who can:
  // one with escape sequences in every field the command prints.
  const hostile = {
    id: `${String(now + 60_000)}-00000000000000e5`,
    from: 'evil\u009b2J',
    to: '+38972000002',
    text: 'Your key expires soon.\u001b[31m red \u001b[0m',
    receivedAt: new Date(now + 60_000).toISOString(),
  };
  await mkdir(join(smsDirOf(dataDir), '38972000002'), { recursive: true });
  await writeFile(join(smsDirOf(dataDir), '38972000002', `${hostile.id}.json`), JSON.stringify(hostile));
});

afterAll(async () => {
  await gateway?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('mpay sms', () => {
  it('prints every message, newest first, with time, from, to and text', async () => {
    const { status, stdout } = await run('sms');
    expect(status).toBe(0);
    const second = stdout.indexOf('To:   +38971000001');
    const first = stdout.indexOf('To:   +38970123456');
    expect(second).toBeGreaterThanOrEqual(0);
    expect(first).toBeGreaterThan(second);
    expect(stdout).toMatch(
      /^── 2026-12-02T10:01:00\.000Z {2}\([0-9]{13}-[0-9a-f]{16}\)\nFrom: mpay\nTo: {3}\+38970123456\n\nmpay: Ihr Anmeldecode 482913\nGrüße ✓\n/m,
    );
    expect(stdout).toContain('From: +38970999999');
    // An escape sequence in a message never reaches the terminal.
    for (const control of ['\u001b', '\u009b']) expect(stdout).not.toContain(control);
    expect(stdout).toContain('From: evil\uFFFD2J');
    expect(stdout).toContain('Your key expires soon.\uFFFD[31m red \uFFFD[0m');
  });

  it('prints one number only', async () => {
    const { status, stdout } = await run('sms', '+38970123456');
    expect(status).toBe(0);
    expect(stdout).toContain('482913');
    expect(stdout).not.toContain('+38971000001');
  });

  it('prints JSON with --json', async () => {
    const { status, stdout } = await run('sms', '+38970123456', '--json');
    expect(status).toBe(0);
    const messages = JSON.parse(stdout) as StoredSms[];
    expect(messages).toEqual(await gateway.inbox.list('+38970123456'));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      from: 'mpay',
      to: '+38970123456',
      receivedAt: '2026-12-02T10:01:00.000Z',
    });
  });

  it('says so when there is no message, and refuses two numbers or one that is not E.164', async () => {
    const none = await run('sms', '+38970000000');
    expect(none).toMatchObject({ status: 0, stdout: expect.stringMatching(/^no sms for \+38970000000 in /) });
    expect((await run('sms', '+38970000000', '--json')).stdout.trim()).toBe('[]');
    const two = await run('sms', '+38970123456', '+38971000001');
    expect(two.status).toBe(2);
    expect(two.stderr).toMatch(
      /^mpay sms: unexpected argument \+38971000001\n\nUsage:\n {2}mpay sms \[MSISDN\]/,
    );
    const national = await run('sms', '070123456\u001b[2J');
    expect(national.status).toBe(2);
    expect(national.stderr).toMatch(/^mpay sms: 070123456\uFFFD\[2J is not an MSISDN in E\.164 form/);
    expect(national.stderr).not.toContain('\u001b');
  });

  it('reads the same folder from another process', async () => {
    const bin = resolve(fileURLToPath(new URL('../../bin/mpay.js', import.meta.url)));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [bin, 'sms', '--json', '--data', dataDir],
      {
        timeout: serviceStartDeadlineMs,
        env: { ...process.env, MPAY_DATA_DIR: '' },
      },
    );
    for (const control of ['\u001b', '\u009b']) expect(stdout).not.toContain(control);
    const messages = JSON.parse(stdout) as StoredSms[];
    expect(messages[0]!.from).toBe('evil\u009b2J');
    expect(messages.map((sms) => sms.to)).toEqual(['+38972000002', '+38971000001', '+38970123456']);
    expect(messages).toEqual(await gateway.inbox.list());
  });
});
