import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bankOperator, main, type RunningBank } from '@mpay/cli';
import { macroSteps } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDeployment } from '../../cli/src/commands/up.ts';
import { startTestPlatform, type TestPlatform } from './harness.ts';

/**
 * `mpay demo macro --trace` against a running platform, as a user runs it
 * (the CLI's main, the platform's deployment.json and mail folder): the
 * payment's printed steps compared, in order, with §4.2's table (`macroSteps`,
 * itself checked against the seed's text), each message with the size of what
 * mpay sent; each --fail path ending on its stable code, with balances read
 * independently at the banks to show that no money moved.
 */

/** T_EXP − T_iS of this platform: long enough for steps 1–7, short enough to wait out for --fail expiry. */
const transactionLifetimeSeconds = 30;
/** The demo's payment, EUR 129.90. */
const amountMinor = 129_90n;

let test: TestPlatform;
let dataDir: string;
let xbank: RunningBank;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-macro-demo-'));
  test = await startTestPlatform({ dataDir, macroLimits: { transactionLifetimeSeconds } });
  await writeDeployment(dataDir, test.platform);
  xbank = test.platform.banks.find((bank) => bank.id === 'xbank') as RunningBank;
});
afterAll(async () => {
  await test?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

async function demo(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const status = await main(['demo', 'macro', ...argv, '--data', dataDir], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { status, stdout, stderr };
}

const stepLinePattern = /^ ?(\d{1,2})\. (C|MPASP|CB|MB|M)(?: → (C|MPASP|CB|MB|M))?: (.+)$/;

/** The step lines the demo printed, in order: number, sender, receiver (the sender for a local step), paper. */
function stepsOf(stdout: string) {
  return stdout.split('\n').flatMap((line) => {
    const match = stepLinePattern.exec(line);
    if (match === null) return [];
    const [, number, sender, receiver, paper] = match;
    return [{ number: Number(number), sender, receiver: receiver ?? sender, paper }];
  });
}

function table(upTo: number) {
  return macroSteps
    .filter((step) => step.number <= upTo)
    .map((step) => ({
      number: step.number,
      sender: step.sender,
      receiver: step.receiver,
      paper: step.paper,
    }));
}

/** The trace's lines under step `number` (up to the next step line). */
function detailsOf(stdout: string, number: number): string[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((line) => stepLinePattern.exec(line)?.[1] === String(number));
  if (start < 0) return [];
  const end = lines.findIndex((line, index) => index > start && !line.startsWith('      '));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The client the demo registered: its account at xbank, as the demo printed it. */
function clientAccountOf(stdout: string): string {
  const account = /opened account ([0-9a-f-]{36}) for /.exec(stdout)?.[1];
  if (account === undefined) throw new Error(`no account in:\n${stdout}`);
  return account;
}

async function xbankBalance(account: string): Promise<bigint> {
  const { balance } = await bankOperator(xbank, xbank.operatorKey).get<{ balance: string }>(
    `/accounts/${account}`,
  );
  return BigInt(balance);
}

const bytes = /\b[1-9][0-9]* bytes; /;

describe('mpay demo macro --trace', () => {
  it('prints the twelve steps of §4.2 in order, each message with its size; exactly the amount moves', async () => {
    const merchantBefore = (await test.balances()).merchant;
    const run = await demo('--trace');
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(stepsOf(run.stdout)).toEqual(table(12));
    // Every message the client, the banks' operators or the merchant can read shows what mpay sent for it.
    for (const number of [1, 2, 4, 7, 8, 9, 10, 11]) {
      expect({ number, sized: detailsOf(run.stdout, number).some((line) => bytes.test(line)) }).toEqual({
        number,
        sized: true,
      });
    }
    expect(detailsOf(run.stdout, 6).find((line) => line.includes('CB → C '))).toMatch(bytes);
    expect(detailsOf(run.stdout, 6).find((line) => line.includes('MPASP → CB '))).toMatch(bytes);
    expect(run.stdout).not.toContain('not shown');
    expect(detailsOf(run.stdout, 12).filter((line) => bytes.test(line))).toHaveLength(2);
    // The registration's credentials came from the platform's mail server.
    expect(run.stdout).toMatch(/npx mpay mail macro-[0-9a-f]{8}@mail\.example/);
    const account = clientAccountOf(run.stdout);
    expect(await xbankBalance(account)).toBe(1_000_00n - amountMinor);
    expect((await test.balances()).merchant).toBe(merchantBefore + amountMinor);
    expect(run.stdout).toContain('Completed: exactly EUR 129.90 moved from the client to the merchant.');
  });

  it('without --trace prints the same twelve step lines and nothing under them', async () => {
    const run = await demo();
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(stepsOf(run.stdout)).toEqual(table(12));
    expect(detailsOf(run.stdout, 7)).toEqual([]);
  });
});

describe('mpay demo macro --fail', () => {
  async function failurePath(fail: string, openingMinor: bigint) {
    const merchantBefore = (await test.balances()).merchant;
    const run = await demo('--trace', '--fail', fail);
    const account = clientAccountOf(run.stdout);
    return {
      run,
      code: /stable code ([A-Z0-9_]+)/.exec(run.stdout)?.[1],
      clientUnchanged: (await xbankBalance(account)) === openingMinor,
      merchantUnchanged: (await test.balances()).merchant === merchantBefore,
    };
  }

  it('secret: a wrong SAns ends at step 5 with failure_msg1 (AUTHENTICATION_FAILED); nothing moves', async () => {
    const { run, ...outcome } = await failurePath('secret', 1_000_00n);
    expect({ status: run.status, stderr: run.stderr, ...outcome }).toEqual({
      status: 0,
      stderr: '',
      code: 'AUTHENTICATION_FAILED',
      clientUnchanged: true,
      merchantUnchanged: true,
    });
    expect(stepsOf(run.stdout)).toEqual(table(5));
    expect(detailsOf(run.stdout, 5).find((line) => line.includes('send_failure_msg1'))).toMatch(bytes);
  });

  it('balance: too little money ends at step 6 with failure_msg2 (INSUFFICIENT_FUNDS), before any PApp_Req', async () => {
    const { run, ...outcome } = await failurePath('balance', 50_00n);
    expect({ status: run.status, stderr: run.stderr, ...outcome }).toEqual({
      status: 0,
      stderr: '',
      code: 'INSUFFICIENT_FUNDS',
      clientUnchanged: true,
      merchantUnchanged: true,
    });
    expect(stepsOf(run.stdout)).toEqual(table(6));
    expect(run.stdout).toContain('the client was never asked');
    expect(detailsOf(run.stdout, 6).find((line) => line.includes('CB → MPASP send_failure_msg2'))).toMatch(
      bytes,
    );
  });

  it('tries: three wrong mPINs delete the challenge (MACRO_CHALLENGE_DELETED); the 4th try sends nothing', async () => {
    const { run, ...outcome } = await failurePath('tries', 1_000_00n);
    expect({ status: run.status, stderr: run.stderr, ...outcome }).toEqual({
      status: 0,
      stderr: '',
      code: 'MACRO_CHALLENGE_DELETED',
      clientUnchanged: true,
      merchantUnchanged: true,
    });
    expect(stepsOf(run.stdout)).toEqual(table(3));
    expect(detailsOf(run.stdout, 3).filter((line) => line.includes('try '))).toEqual([
      expect.stringMatching(/try 1, a wrong mPIN: MACRO_MPIN_REFUSED/),
      expect.stringMatching(/try 2, a wrong mPIN: MACRO_MPIN_REFUSED/),
      expect.stringMatching(/try 3, a wrong mPIN: MACRO_CHALLENGE_DELETED/),
      expect.stringMatching(/try 4, the right mPIN: MACRO_CHALLENGE_DELETED on the device, nothing sent/),
    ]);
  });

  it('expiry: an answer after T_EXP is refused (PAYMENT_EXPIRED), after a visible countdown', async () => {
    const { run, ...outcome } = await failurePath('expiry', 1_000_00n);
    expect({ status: run.status, stderr: run.stderr, ...outcome }).toEqual({
      status: 0,
      stderr: '',
      code: 'PAYMENT_EXPIRED',
      clientUnchanged: true,
      merchantUnchanged: true,
    });
    expect(stepsOf(run.stdout)).toEqual(table(4));
    expect(run.stdout).toMatch(/waiting for T_EXP .*: \d+ s left/);
    expect(detailsOf(run.stdout, 3)).toContainEqual(
      expect.stringContaining(`(${transactionLifetimeSeconds} s)`),
    );
  });

  it('refuses an unknown failure path before touching the platform', async () => {
    const run = await demo('--fail', 'nope');
    expect(run).toMatchObject({ status: 2, stdout: '' });
    expect(run.stderr).toContain('--fail must be secret, balance, expiry, tries');
  });
});
