import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchFspTrust, MerchantClient, Wallet } from '@mpay/sdk';
import { dropPostgresSchema } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformStartDeadlineMs, within } from '../../../test/support/deadlines.ts';
import { main } from '../main.ts';
import { demoParties } from '../platform/seed.ts';
import { type Platform, platformSchemas, startPlatform } from '../platform/start.ts';
import { bankOperator } from './deployment.ts';
import { writeDeployment } from './up.ts';

const databaseUrl = process.env.DATABASE_URL;
let dataDir: string;
let platform: Platform;
const schemaPrefix = `audit_${randomBytes(4).toString('hex')}_`;

async function run(...argv: string[]) {
  let stdout = '';
  const data = argv[0] === 'log' ? [] : ['--data', dataDir];
  const status = await main([...argv, ...data], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stdout += text;
    },
  });
  return { status, stdout };
}

function operator(id: 'xbank' | 'ybank') {
  const bank = platform.banks.find((candidate) => candidate.id === id)!;
  return bankOperator(bank, bank.operatorKey);
}

/** One payment through the whole chain: the merchant asks, the customer's wallet signs, both banks move the money. */
async function pay(id: string, minor: bigint) {
  const fsp = await fetchFspTrust(platform.urls.gateway);
  const merchant = new MerchantClient({
    gatewayUrl: platform.urls.gateway,
    merchantId: demoParties.merchant.id,
    signingKey: platform.credentials.merchantKeys.signing.privateJwk,
    fsp,
  });
  const wallet = new Wallet({
    gatewayUrl: platform.urls.gateway,
    keystore: structuredClone(platform.credentials.customerKeystore),
    fsp,
  });
  const abort = new AbortController();
  const requests = wallet.paymentRequests(demoParties.customer.pin, abort.signal);
  const first = requests.next();
  await merchant.requestPayment({
    customer: demoParties.customer.id,
    amount: { currency: 'EUR', minor },
    transactionId: id,
  });
  let view = (await first).value;
  while (view !== undefined && view.paymentId !== id) view = (await requests.next()).value;
  abort.abort();
  if (view === undefined) throw new Error(`payment ${id} never reached the device`);
  const receipt = await wallet.confirm(view, demoParties.customer.pin);
  expect((receipt.payload.receipt as { status: string }).status).toBe('completed');
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-audit-'));
  // Ready when startPlatform resolves (every service listens, the demo is seeded); the deadline names a hang.
  platform = await within(
    startPlatform({
      dataDir,
      databaseUrl,
      schemaPrefix,
      backgroundIntervalMs: 100,
    }),
    { deadlineMs: platformStartDeadlineMs, what: 'the platform (startPlatform) to start' },
  );
  await writeDeployment(dataDir, platform);
});

afterAll(async () => {
  await platform?.close();
  if (databaseUrl)
    for (const schema of platformSchemas) await dropPostgresSchema(databaseUrl, `${schemaPrefix}${schema}`);
  await rm(dataDir, { recursive: true, force: true });
});

describe('mpay audit and mpay settlement', () => {
  it('pass on a healthy deployment, settle what both banks agree on', async () => {
    await pay('00000000-0000-4000-8000-00000000a001', 1_250n);
    const audit = await run('audit');
    expect(audit.stdout).toContain('xbank owes ybank EUR 12.50');
    expect(audit).toMatchObject({ status: 0 });
    const book = await run('settlement', '--book');
    expect(book.stdout).toMatch(/booked settlement .*: xbank paid ybank EUR 12.50/);
    expect((await run('settlement')).stdout).toContain('xbank and ybank owe each other nothing');
    expect((await run('audit')).status).toBe(0);
  });

  it('fails with a report when a stored balance no longer matches its transfers', async () => {
    const ybank = platform.banks.find((bank) => bank.id === 'ybank')!;
    await ybank.database.query('UPDATE accounts SET credits_posted = credits_posted + 1 WHERE id = $1', [
      demoParties.merchant.account,
    ]);
    const audit = await run('audit');
    expect(audit.status).toBe(1);
    expect(audit.stdout).toContain(`balance mismatch: account ${demoParties.merchant.account}`);
    expect(audit.stdout).toContain('audit: FAILED');
    await ybank.database.query('UPDATE accounts SET credits_posted = credits_posted - 1 WHERE id = $1', [
      demoParties.merchant.account,
    ]);
  });

  it('says the platform is not running when the mpay up that wrote deployment.json has ended', async () => {
    const stopped = await mkdtemp(join(tmpdir(), 'mpay-audit-stopped-'));
    try {
      // A process that has ended: its pid is in no process table now.
      const ended = spawn(process.execPath, ['-e', '']);
      const pid = ended.pid;
      await new Promise((done) => ended.once('exit', done));
      const deployment = JSON.parse(await readFile(join(dataDir, 'deployment.json'), 'utf8'));
      await writeFile(
        join(stopped, 'deployment.json'),
        JSON.stringify({ ...deployment, pid, pidStartTicks: undefined }),
      );
      let output = '';
      const status = await main(['audit', '--data', stopped], {
        stdout: (text) => {
          output += text;
        },
        stderr: (text) => {
          output += text;
        },
      });
      expect(status).not.toBe(0);
      expect(output).toContain(`the platform of ${stopped} is not running, no process ${pid} runs`);
      expect(output).toContain('mpay storage status');
    } finally {
      await rm(stopped, { recursive: true, force: true });
    }
  });

  it('fails when one bank books money the other never sent', async () => {
    // A settlement run booked at ybank only: ybank believes xbank paid the 5.00 it owes.
    await pay('00000000-0000-4000-8000-00000000a002', 500n);
    await operator('ybank').post('/settlements', {
      id: '00000000-0000-4000-8000-00000000b001',
      peer: 'xbank',
      currency: 'EUR',
      amount: '-500',
    });
    const audit = await run('audit');
    expect(audit.status).toBe(1);
    expect(audit.stdout).toMatch(/FAILED {2}xbank ⇄ ybank EUR: .*DO NOT AGREE/);
  });
});

describe('mpay demo, mpay dispute and mpay log verify', () => {
  it('writes the evidence of a payment that verifies offline with the public keys only', async () => {
    const demo = await run('demo');
    expect(demo.stdout).toContain('9. Transaction log');
    expect(demo.status).toBe(0);
    const paymentId = /\(payment ([^,]+),/.exec(demo.stdout)?.[1];
    expect(paymentId).toBeDefined();
    const out = join(dataDir, 'dispute.json');
    const dispute = await run('dispute', paymentId!, '--out', out);
    expect(dispute.stdout).toContain('5 signed messages');
    expect(dispute.status).toBe(0);
    const keys = [
      '--log-key',
      join(dataDir, 'keys', 'log.vkey'),
      '--witness-key',
      join(dataDir, 'keys', 'log-witness.vkey'),
    ];
    expect((await run('log', 'verify', out, ...keys)).status).toBe(0);
    const evidence = JSON.parse(await readFile(out, 'utf8')) as { messages: string[] };
    evidence.messages.reverse();
    await writeFile(out, JSON.stringify(evidence));
    expect((await run('log', 'verify', out, ...keys)).status).not.toBe(0);
    expect((await run('dispute', '00000000-0000-4000-8000-000000000000')).stdout).toContain(
      'EVIDENCE_UNKNOWN',
    );
  });
});
