import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { decodeUnverified, publicJwkSet } from '@mpay/envelope';
import { requestJson } from '@mpay/http-client';
import { formatDecimalBalance, imsToJson, imsToXml } from '@mpay/protocol';
import {
  fetchFspTrust,
  MerchantClient,
  type TracedMessage,
  Wallet,
  type WalletKeystoreData,
} from '@mpay/sdk';
import type { PartyKeys } from '../platform/identities.ts';
import { demoParties } from '../platform/seed.ts';
import { type Platform, startPlatform } from '../platform/start.ts';
import { bankOperator, type Deployment, dataDirOf, readJson } from './deployment.ts';
import { describeEvidence, fetchEvidence, logPolicyOf, verifyReceipt } from './evidence.ts';
import type { CommandIo } from './io.ts';

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}

/** Finds the running platform (`mpay up`), or starts one in this process on the same data folder. */
async function connect(
  dataDir: string,
  io: CommandIo,
): Promise<{ deployment: Omit<Deployment, 'pid'>; platform?: Platform }> {
  const deployment = await readJson<Deployment>(join(dataDir, 'deployment.json'));
  if (deployment !== undefined && (await healthy(deployment.gateway))) return { deployment };
  io.stdout(
    'No running platform found (start one with `npm start`); starting the services in this process …\n',
  );
  const platform = await startPlatform({ dataDir, databaseUrl: process.env.DATABASE_URL });
  const banks = platform.banks.map((bank) => ({ id: bank.id, url: bank.url }));
  return {
    deployment: {
      gateway: platform.urls.gateway,
      merchantShop: platform.urls.merchantShop,
      fspId: platform.fsp.id,
      banks,
    },
    platform,
  };
}

async function accountBalance(
  deployment: Omit<Deployment, 'pid'>,
  dataDir: string,
  bankId: string,
  accountId: string,
): Promise<string> {
  const bank = deployment.banks.find((candidate) => candidate.id === bankId);
  const operator = (await readJson<{ keys: PartyKeys }>(join(dataDir, 'keys', `${bankId}-operator.json`)))!;
  const { balance } = await bankOperator(bank!, operator.keys.signing.privateJwk).get<{ balance: string }>(
    `/accounts/${accountId}`,
  );
  return balance;
}

function formatMinor(minor: string): string {
  return `EUR ${formatDecimalBalance('EUR', BigInt(minor))}`;
}

function describe(message: TracedMessage): string {
  const verb = message.kind === 'jws' ? `signed by ${message.party}` : `encrypted to ${message.party}`;
  return `${message.step.padEnd(30)} ${message.kind.toUpperCase()} ${verb}, ${message.compact.length} bytes`;
}

export async function runDemo(flags: Map<string, string>, io: CommandIo): Promise<number> {
  const dataDir = dataDirOf(flags);
  const { deployment, platform } = await connect(dataDir, io);
  try {
    return await demoPayment(dataDir, deployment, flags, io);
  } finally {
    await platform?.close();
  }
}

async function demoPayment(
  dataDir: string,
  deployment: Omit<Deployment, 'pid'>,
  flags: Map<string, string>,
  io: CommandIo,
): Promise<number> {
  const { customer, merchant } = demoParties;
  const merchantKeys = (await readJson<PartyKeys>(join(dataDir, 'parties', `${merchant.id}.json`)))!;
  const keystore = (await readJson<WalletKeystoreData>(
    join(dataDir, 'parties', `${customer.id}.wallet-v2.json`),
  ))!;
  const trace: TracedMessage[] = [];
  const onMessage = (message: TracedMessage) => {
    trace.push(message);
    io.stdout(`  ${describe(message)}\n`);
  };
  const fsp = await fetchFspTrust(deployment.gateway);
  const merchantClient = new MerchantClient({
    gatewayUrl: deployment.gateway,
    merchantId: merchant.id,
    signingKey: merchantKeys.signing.privateJwk,
    fsp,
    trace: onMessage,
  });
  const wallet = new Wallet({ gatewayUrl: deployment.gateway, keystore, fsp, trace: onMessage });
  const balances = async () => ({
    customer: await accountBalance(deployment, dataDir, demoParties.bank.id, customer.account),
    merchant: await accountBalance(deployment, dataDir, demoParties.merchantBank.id, merchant.account),
  });
  const before = await balances();
  io.stdout(`\n1. Customer ${customer.id} opens the wallet (PIN) and listens for payment requests.\n`);
  const abort = new AbortController();
  const requests = wallet.paymentRequests(customer.pin, abort.signal);
  const nextRequest = requests.next();
  io.stdout(
    `2. Merchant ${merchant.id} asks ${customer.msisdn} for EUR 12.50 (m-commerce): signs, encrypts to the FSP.\n`,
  );
  const accepted = await merchantClient.requestPayment({
    customer: customer.msisdn,
    amount: { currency: 'EUR', minor: 12_50n },
    procedure: 'm-commerce',
    description: 'Order 1001: 250 g espresso beans',
  });
  io.stdout(
    `3. FSP verified the merchant, filled in the payer's account from xbank's key binding, countersigned, pushed to the device (payment ${accepted.paymentId}, level ${accepted.securityLevel}).\n`,
  );
  const view = (await nextRequest).value!;
  io.stdout(
    `4. Wallet verified FSP and merchant signatures and shows: pay ${view.amount.currency} ${view.amount.value} to ${view.merchant.name} (${view.merchant.id}) for "${view.description}".\n`,
  );
  io.stdout('5. Customer confirms with one action plus PIN; the wallet signs and encrypts to the FSP.\n');
  const receipt = await wallet.confirm(view, customer.pin);
  await requests.return(undefined);
  abort.abort();
  io.stdout(
    `6. ${demoParties.bank.id} verified the customer's own signature under the key it bound to the account, then the banks moved the money; receipt signed by ${String(receipt.payload.iss)}.\n`,
  );
  const notification = await waitForNotification(deployment.merchantShop, view.paymentId);
  onMessage({ step: 'merchant-notification', kind: 'jws', party: fsp.id, compact: notification.jws });
  io.stdout(
    `7. Merchant notified by signed webhook: status ${String(notification.payment.status)}; it may ship.\n`,
  );
  const status = await merchantClient.paymentStatus(view.paymentId);
  const after = await balances();
  io.stdout(
    [
      `8. Public status: ${String(status.status)}.`,
      `   Customer at ${demoParties.bank.id}: ${formatMinor(before.customer)} → ${formatMinor(after.customer)};`,
      `   merchant at ${demoParties.merchantBank.id}: ${formatMinor(before.merchant)} → ${formatMinor(after.merchant)}`,
      `   (${demoParties.bank.id} held the amount, sent a signed funds transfer, posted on ${demoParties.merchantBank.id}'s signed answer).\n`,
    ].join('\n'),
  );
  const evidence = await fetchEvidence(deployment.gateway, dataDir, view.paymentId);
  const verified = await verifyReceipt(evidence, await logPolicyOf(dataDir));
  io.stdout(
    `9. Transaction log (third party): ${describeEvidence(verified)}; verified offline with the log's and the witness's public keys.\n`,
  );
  const out = flags.get('out');
  if (out !== undefined) {
    const final = {
      ...view.message,
      address: {
        ...view.message.address,
        from: {
          ...view.message.address.from,
          sign: trace.find((m) => m.step === 'customer-signature')!.compact,
        },
      },
    };
    await writeEvidence(resolve(out), trace, {
      fsp,
      merchantKeys,
      keystore,
      messageJson: imsToJson(final),
      messageXml: imsToXml(final),
    });
    await writeFile(join(resolve(out), 'evidence.json'), evidence);
    io.stdout(
      `\nWrote every signed and encrypted message, jwks.json and evidence.json (check it with \`mpay log verify\`) to ${resolve(out)}\n`,
    );
  }
  return status.status === 'completed' ? 0 : 1;
}

async function waitForNotification(
  shopUrl: string,
  paymentId: string,
): Promise<{ jws: string; payment: Record<string, unknown> }> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const { body } = await requestJson<{ jws: string; payment: Record<string, unknown> }[]>(
      `${shopUrl}/notifications/${paymentId}`,
    );
    const completed = body.find((n) => n.payment.status === 'completed');
    if (completed !== undefined) return completed;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error('the merchant was not notified within 10 s');
}

interface Evidence {
  fsp: { keys: { keys: readonly unknown[] } };
  merchantKeys: PartyKeys;
  keystore: WalletKeystoreData;
  messageJson: unknown;
  messageXml: string;
}

async function writeEvidence(
  out: string,
  trace: readonly TracedMessage[],
  evidence: Evidence,
): Promise<void> {
  await mkdir(out, { recursive: true });
  for (const [index, message] of trace.entries()) {
    const name = `${String(index + 1).padStart(2, '0')}-${message.step.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, '')}.${message.kind}`;
    await writeFile(join(out, name), `${message.compact}\n`);
  }
  const jwks = publicJwkSet([
    ...evidence.fsp.keys.keys,
    evidence.merchantKeys.signing.publicJwk,
    evidence.merchantKeys.encryption.publicJwk,
    evidence.keystore.signingPublicJwk,
    evidence.keystore.encryptionPublicJwk,
  ]);
  await writeFile(join(out, 'jwks.json'), `${JSON.stringify(jwks, null, 2)}\n`);
  await writeFile(join(out, 'message.json'), `${JSON.stringify(evidence.messageJson, null, 2)}\n`);
  await writeFile(join(out, 'message.xml'), `${evidence.messageXml}\n`);
  const payloads = trace
    .filter((m) => m.kind === 'jws')
    .map((m) => ({ step: m.step, ...decodeUnverified(m.compact) }));
  await writeFile(join(out, 'signed-payloads.json'), `${JSON.stringify(payloads, null, 2)}\n`);
}
