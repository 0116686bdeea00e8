import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bankOperator, main, type RunningBank } from '@mpay/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDeployment } from '../../cli/src/commands/up.ts';
import { backgroundWorkDeadlineMs, waitFor } from '../support/deadlines.ts';
import { startTestPlatform, type TestPlatform } from './harness.ts';

/** The log's independent receipt verifier (services/log/tools), run where pyca/cryptography is installed. */
const pythonVerifier = fileURLToPath(new URL('../../services/log/tools/verify_receipt.py', import.meta.url));
const hasPyca = spawnSync('python3', ['-c', 'import cryptography'], { stdio: 'ignore' }).status === 0;

/**
 * `mpay demo banking` against a running platform, as a user runs it (the
 * CLI's main, the platform's deployment.json, its SMS folder and log keys):
 * seed 003's mobile banking in twelve numbered steps, each with its factors
 * and the size of what travelled; the refusals with their stable codes; the
 * balances read independently at the banks; the log receipt the demo wrote
 * checked again by `mpay log verify`. Then the same customer journey through
 * the `mpay banking` commands, with the code read from the SMS inbox.
 */

let test: TestPlatform;
let dataDir: string;
let xbank: RunningBank;
let ybank: RunningBank;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-banking-demo-'));
  test = await startTestPlatform({ dataDir });
  await writeDeployment(dataDir, test.platform);
  xbank = test.platform.banks.find((bank) => bank.id === 'xbank') as RunningBank;
  ybank = test.platform.banks.find((bank) => bank.id === 'ybank') as RunningBank;
});
afterAll(async () => {
  await test?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

async function cli(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    // `mpay log` takes no data folder: it reads only the files it is given.
    const status = await main(argv[0] === 'log' ? argv : [...argv, '--data', dataDir], {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
    });
    return { status, stdout, stderr };
  } finally {
    for (const name of Object.keys(env)) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
}

const stepLinePattern = /^ ?(\d{1,2})\. (.+)$/;

/** The numbered step lines, in order. */
function stepsOf(stdout: string) {
  return stdout.split('\n').flatMap((line) => {
    const match = stepLinePattern.exec(line);
    return match === null ? [] : [{ number: Number(match[1]), title: match[2]! }];
  });
}

/** The lines under step `number`, up to the next step line. */
function detailsOf(stdout: string, number: number): string[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((line) => stepLinePattern.exec(line)?.[1] === String(number));
  if (start < 0) return [];
  const end = lines.findIndex((line, index) => index > start && stepLinePattern.test(line));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

async function balance(bank: RunningBank, account: string): Promise<bigint> {
  const { balance } = await bankOperator(bank, bank.operatorKey).get<{ balance: string }>(
    `/accounts/${account}`,
  );
  return BigInt(balance);
}

const sizedExchange = /^ {6}→ (GET|POST) \/\S+ [1-9][0-9]* bytes: /;
const sizedAnswer = /^ {6}← [1-5][0-9]{2} [1-9][0-9]* bytes: /;

describe('mpay demo banking', () => {
  it('runs the twelve steps with their factors, sizes and stable codes; exactly the amounts move', async () => {
    const merchantBefore = (await test.balances()).merchant;
    const run = await cli(['demo', 'banking']);
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    const steps = stepsOf(run.stdout);
    expect(steps.map((each) => each.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(steps[4]?.title).toBe('login with every factor');
    expect(steps[5]?.title).toBe('balance: Client → Bank : E(S(msg, ID_C))');
    for (const number of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
      expect({ number, factors: detailsOf(run.stdout, number)[0] }).toEqual({
        number,
        factors: expect.stringMatching(/^ {6}factors: \S/),
      });
    // Every step of the phone shows what travelled, both ways, with its size.
    for (const number of [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) {
      const details = detailsOf(run.stdout, number);
      expect({ number, sent: details.some((line) => sizedExchange.test(line)) }).toEqual({
        number,
        sent: true,
      });
      expect({ number, answered: details.some((line) => sizedAnswer.test(line)) }).toEqual({
        number,
        answered: true,
      });
    }
    // Equation 1: the balance request is a JWE under the session key holding the device's JWS with ID_C.
    expect(detailsOf(run.stdout, 6).find((line) => line.includes('→ POST /banking/requests'))).toMatch(
      /request JWE \([0-9]+ bytes\) sealed under the session key \(dir, A256GCM, kid [^)]+\) holding a JWS \([0-9]+ bytes\) signed by the phone \(binding [^)]+\) \(ES256, kid [^)]+\) over \{banking: balance request, ID_C, session\}/,
    );
    expect(detailsOf(run.stdout, 6).find((line) => line.includes('← 200'))).toMatch(
      /answer JWE .* holding a JWS .* signed by xbank .* over \{bankingAnswer: balance\}/,
    );
    // Login: OPAQUE, the device's signed statement, the bank's, the SMS code sealed under the session key.
    const login = detailsOf(run.stdout, 5).join('\n');
    expect(login).toMatch(/startLoginRequest OPAQUE/);
    expect(login).toMatch(/device JWS .* signed by the phone .* over \{bankingLogin\}/);
    expect(login).toMatch(/answer JWS .* signed by xbank .* over \{bankingLoginAnswer\}/);
    expect(login).toMatch(/code JWE .* sealed under the session key .* holding \{bankingCode\}/);
    expect(login).toMatch(
      /SMS to \+3897[0-9]{7} \(npx mpay sms .*\): "xbank: your mobile banking login code is ●{6}\./,
    );
    // The refusals the paper calls for, each with its stable code.
    expect(detailsOf(run.stdout, 10).join('\n')).toMatch(/renew it \(notice [0-9a-f]{8}\)/);
    expect(detailsOf(run.stdout, 10)).toContainEqual(
      expect.stringMatching(/the old key's next request .*: refused, BANKING_SESSION_INVALID$/),
    );
    expect(detailsOf(run.stdout, 10)).toContainEqual(
      expect.stringMatching(
        /signed by the old key in the new key's session: refused, BANKING_REQUEST_INVALID$/,
      ),
    );
    expect(detailsOf(run.stdout, 11)).toContainEqual(
      expect.stringMatching(/: refused, BANKING_PASSWORD_EXISTS$/),
    );
    expect(detailsOf(run.stdout, 11)).toContainEqual(expect.stringMatching(/: revoked$/));
    expect(detailsOf(run.stdout, 12)).toContainEqual(
      expect.stringMatching(/old phone's login .*: refused, BANKING_LOGIN_FAILED$/),
    );
    // Balances read at the banks, not from the demo's words.
    const account = /opens an account for .*\n[\s\S]*?account ([0-9a-f-]{36}) holds/.exec(run.stdout)?.[1];
    const payeeAccount = /has account ([0-9a-f-]{36}) at ybank/.exec(run.stdout)?.[1];
    expect({ account, payeeAccount }).toEqual({
      account: expect.any(String),
      payeeAccount: expect.any(String),
    });
    expect(await balance(xbank, account!)).toBe(1_000_00n - 25_00n - 42_30n);
    expect(await balance(ybank, payeeAccount!)).toBe(25_00n);
    expect((await test.balances()).merchant).toBe(merchantBefore + 42_30n);
    // The receipt the demo wrote verifies again with `mpay log verify`, the public keys only.
    const verify = /npx mpay log verify (\S+) --log-key (\S+) --witness-key (\S+)/.exec(run.stdout);
    expect(verify).not.toBeNull();
    const checked = await cli([
      'log',
      'verify',
      verify![1]!,
      '--log-key',
      verify![2]!,
      '--witness-key',
      verify![3]!,
    ]);
    expect({ status: checked.status, stderr: checked.stderr }).toEqual({ status: 0, stderr: '' });
    expect(checked.stdout).toMatch(/^verified: transaction [0-9a-f-]{36} is entry [0-9]+ of /);
    // And with the independent verifier, which shares no code with mpay (Python, pyca/cryptography).
    if (hasPyca) {
      const python = spawnSync(
        'python3',
        [pythonVerifier, verify![1]!, '--log-key', verify![2]!, '--witness-key', verify![3]!],
        { encoding: 'utf8' },
      );
      expect({ status: python.status, stderr: python.stderr }).toEqual({ status: 0, stderr: '' });
      expect(python.stdout).toMatch(/^OK /);
    }
  });
});

describe('mpay banking (the commands)', () => {
  const userId = 'vera.cli';
  const partyId = 'vera.cli@person.xbank';
  const msisdn = '+38970999111';
  const password = { MPAY_BANKING_PASSWORD: 'correct horse battery' };

  it('enables, enrols, logs in with the SMS code, pays and reads the statement; refusals say what to do', async () => {
    // The customer's account at xbank, opened and funded by its operator.
    const operator = bankOperator(xbank, xbank.operatorKey);
    const account = crypto.randomUUID();
    await operator.post('/accounts', { id: account, owner: partyId, currency: 'EUR', kind: 'customer' });
    await operator.post('/transfers', {
      id: crypto.randomUUID(),
      debitAccountId: '0b0a0000-0000-4000-8000-000000000000',
      creditAccountId: account,
      amount: '20000',
      currency: 'EUR',
      reference: 'opening balance',
    });
    const added = await cli([
      'banking',
      'customer',
      'add',
      partyId,
      '--user',
      userId,
      '--msisdn',
      msisdn,
      '--account',
      account,
      '--json',
    ]);
    expect({ status: added.status, stderr: added.stderr }).toEqual({ status: 0, stderr: '' });
    const code = (JSON.parse(added.stdout) as { enrolment: { code: string } }).enrolment.code;

    const notLoggedIn = await cli(['banking', 'balance', '--user', userId]);
    expect(notLoggedIn.status).toBe(1);
    expect(notLoggedIn.stderr).toMatch(/^mpay banking: KEY_UNKNOWN: /);

    const enrolled = await cli(
      ['banking', 'enrol', '--user', userId, '--party', partyId, '--code', code, '--msisdn', msisdn],
      password,
    );
    expect({ status: enrolled.status, stderr: enrolled.stderr }).toEqual({ status: 0, stderr: '' });
    expect(enrolled.stdout).toContain('password registered by OPAQUE');
    const deviceFile = join(dataDir, 'banking', 'devices', `${userId}.json`);
    expect((await stat(deviceFile)).mode & 0o777).toBe(0o600);

    const before = await cli(['banking', 'balance', '--user', userId]);
    expect(before.status).toBe(1);
    expect(before.stderr).toContain('BANKING_SESSION_INVALID');
    expect(before.stderr).toContain(`log in again with npx mpay banking login --user ${userId}`);

    const wrong = await cli(['banking', 'login', '--user', userId, '--code-from-sms'], {
      MPAY_BANKING_PASSWORD: 'not the password',
    });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/^mpay banking: BANKING_LOGIN_FAILED: the login was refused/);

    const login = await cli(['banking', 'login', '--user', userId, '--code-from-sms'], password);
    expect({ status: login.status, stderr: login.stderr }).toEqual({ status: 0, stderr: '' });
    expect(login.stdout).toMatch(/the code arrived by SMS/);
    expect((await stat(join(dataDir, 'banking', 'sessions', `${userId}.json`))).mode & 0o777).toBe(0o600);

    const shown = await cli(['banking', 'balance', '--user', userId, '--json']);
    expect(JSON.parse(shown.stdout)).toMatchObject({ accountId: account, balance: '20000', currency: 'EUR' });

    const tooMuch = await cli([
      'banking',
      'transfer',
      'john.bernard@person.xbank',
      '500.00',
      '--user',
      userId,
    ]);
    expect(tooMuch.status).toBe(1);
    expect(tooMuch.stderr).toContain(
      'INSUFFICIENT_FUNDS: the account does not hold enough for this: nothing moved.',
    );

    const paid = await cli([
      'banking',
      'transfer',
      'john.bernard@person.xbank',
      '12.5',
      '--user',
      userId,
      '--json',
    ]);
    expect({ status: paid.status, stderr: paid.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(paid.stdout)).toMatchObject({
      state: 'completed',
      amount: '1250',
      payeeId: 'john.bernard@person.xbank',
    });
    expect(await balance(xbank, account)).toBe(200_00n - 12_50n);

    const devices = await cli(['banking', 'devices', '--user', userId]);
    expect(devices.stdout).toMatch(/^1 device\(s\); \* is this one\n {2}\* /);

    // The transfer's log receipt, written by `statement --receipts` once the log proved it, checked by `mpay log verify`.
    const receipts = join(dataDir, 'cli-receipts');
    const written = await waitFor(
      async () => {
        const page = await cli(['banking', 'statement', '--user', userId, '--receipts', receipts, '--json']);
        expect({ status: page.status, stderr: page.stderr }).toEqual({ status: 0, stderr: '' });
        const files = (JSON.parse(page.stdout) as { receiptsWritten: { path: string }[] }).receiptsWritten;
        return files.length > 0 ? files : undefined;
      },
      {
        deadlineMs: backgroundWorkDeadlineMs,
        what: "the transfer's log receipt on the statement",
        intervalMs: 500,
      },
    );
    const keys = [
      '--log-key',
      join(dataDir, 'keys', 'log.vkey'),
      '--witness-key',
      join(dataDir, 'keys', 'log-witness.vkey'),
    ];
    const verified = await cli(['log', 'verify', written[0]!.path, ...keys]);
    expect({ status: verified.status, stderr: verified.stderr }).toEqual({ status: 0, stderr: '' });

    // The bank's renewal notice, answered by `renew`; the old session is gone with the old key.
    const serial = (
      JSON.parse((await cli(['banking', 'devices', '--user', userId, '--json'])).stdout) as {
        devices: { serial: string; current: boolean }[];
      }
    ).devices.find((device) => device.current)!.serial;
    const noticed = await cli(['banking', 'notice', serial]);
    expect({ status: noticed.status, stderr: noticed.stderr }).toEqual({ status: 0, stderr: '' });
    const renewed = await cli(['banking', 'renew', '--user', userId, '--json']);
    expect({ status: renewed.status, stderr: renewed.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(renewed.stdout)).toMatchObject({ renewed: true, renewedFrom: serial });
    const afterRenewal = await cli(['banking', 'balance', '--user', userId]);
    expect(afterRenewal.stderr).toContain('BANKING_SESSION_INVALID');
    const again = await cli(['banking', 'login', '--user', userId, '--code-from-sms'], password);
    expect({ status: again.status, stderr: again.stderr }).toEqual({ status: 0, stderr: '' });
    // The device revokes itself (a lost phone, from its own session): its session file goes, its login is refused.
    const current = (
      JSON.parse((await cli(['banking', 'devices', '--user', userId, '--json'])).stdout) as {
        devices: { serial: string; current: boolean }[];
      }
    ).devices.find((device) => device.current)!.serial;
    expect(current).not.toBe(serial);
    const revoked = await cli(['banking', 'revoke', current, '--user', userId, '--reason', 'lost']);
    expect({ status: revoked.status, stderr: revoked.stderr }).toEqual({ status: 0, stderr: '' });
    await expect(stat(join(dataDir, 'banking', 'sessions', `${userId}.json`))).rejects.toMatchObject({
      code: 'ENOENT',
    });
    const refused = await cli(['banking', 'login', '--user', userId, '--code-from-sms'], password);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^mpay banking: BANKING_LOGIN_FAILED: /);
  });
});
