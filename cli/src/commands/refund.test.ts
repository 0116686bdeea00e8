import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
const schemaPrefix = `refund_${randomBytes(4).toString('hex')}_`;

async function run(...argv: string[]) {
  let stdout = '';
  const status = await main([...argv, '--data', dataDir], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stdout += text;
    },
  });
  return { status, stdout };
}

/** One payment through the whole chain (the customer at xbank, the merchant at ybank); returns its id. */
async function pay(minor: bigint): Promise<string> {
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
  const { paymentId } = await merchant.requestPayment({
    customer: demoParties.customer.id,
    amount: { currency: 'EUR', minor },
  });
  let view = (await first).value;
  while (view !== undefined && view.paymentId !== paymentId) view = (await requests.next()).value;
  abort.abort();
  if (view === undefined) throw new Error(`payment ${paymentId} never reached the device`);
  await wallet.confirm(view, demoParties.customer.pin);
  return paymentId;
}

async function balances() {
  const balance = async (bankId: string, account: string) => {
    const bank = platform.banks.find((candidate) => candidate.id === bankId)!;
    const answer = await bankOperator(bank, bank.operatorKey).get<{ balance: string }>(
      `/accounts/${account}`,
    );
    return BigInt(answer.balance);
  };
  return {
    customer: await balance('xbank', demoParties.customer.account),
    merchant: await balance('ybank', demoParties.merchant.account),
  };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-refund-'));
  platform = await within(startPlatform({ dataDir, databaseUrl, schemaPrefix, backgroundIntervalMs: 100 }), {
    deadlineMs: platformStartDeadlineMs,
    what: 'the platform (startPlatform) to start',
  });
  await writeDeployment(dataDir, platform);
});

afterAll(async () => {
  await platform?.close();
  if (databaseUrl)
    for (const schema of platformSchemas) await dropPostgresSchema(databaseUrl, `${schemaPrefix}${schema}`);
  await rm(dataDir, { recursive: true, force: true });
});

describe('mpay refund', () => {
  it('refunds a payment in part, refuses more than is left, refunds the rest, and the audit passes', async () => {
    // The seed bound the demo merchant's key at ybank, once per data folder.
    const bound = JSON.parse(
      await readFile(join(dataDir, 'parties', `${demoParties.merchant.id}.bank-binding.json`), 'utf8'),
    ) as { serial: string };
    expect(bound.serial).toMatch(/\S/);
    const paymentId = await pay(12_50n);
    const before = await balances();

    const part = await run('refund', paymentId, '--amount', '5', '--reason', 'one item returned');
    expect(part.stdout).toContain('EUR 5.00, signed by merkur.trade@merchant.ybank');
    expect(part.stdout).toMatch(/requested +refund requested/);
    expect(part.stdout).toContain(`payment ${paymentId} is partially_refunded`);
    expect(part.status).toBe(0);
    expect(await balances()).toEqual({
      customer: before.customer + 5_00n,
      merchant: before.merchant - 5_00n,
    });

    // Without --amount the whole payment: more than what is left.
    const whole = await run('refund', paymentId);
    expect(whole.stdout).toContain('REFUND_EXCEEDS_ORIGINAL');
    expect(whole.status).toBe(1);

    const rest = await run('refund', paymentId, '--amount=7.50');
    expect(rest.stdout).toContain(`payment ${paymentId} is refunded`);
    expect(rest.status).toBe(0);
    expect(await balances()).toEqual({
      customer: before.customer + 12_50n,
      merchant: before.merchant - 12_50n,
    });

    const audit = await run('audit');
    expect(audit.stdout).toContain('audit: every invariant holds');
    expect(audit.status).toBe(0);
  });

  it('says how to call it', async () => {
    expect(await run('refund')).toMatchObject({ status: 2 });
    expect((await run('refund', '00000000-0000-4000-8000-000000000000', '--amount', '1')).stdout).toContain(
      'PAYMENT_UNKNOWN',
    );
  });
});
