import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  decodeUnverified,
  type KeyBinding,
  keyResolverFromJwkSet,
  type PublicJwkSet,
  publicJwkSet,
  verifyKeyBinding,
} from '@mpay/envelope';
import { requestJson, requestText } from '@mpay/http-client';
import {
  type CustodyStep,
  custodySteps,
  formatDecimalBalance,
  type ImsMessage,
  type ImsOrderLine,
  imsToJson,
  imsToXml,
  isMpayError,
  MpayError,
} from '@mpay/protocol';
import {
  authenticatorCode,
  type CustodyEnrolment,
  type CustodyPaymentRequestView,
  type CustodyTrust,
  CustodyWallet,
  type DelegateSignature,
  type DelegationResult,
  type DeviceEventView,
  type FspTrust,
  fetchBankTrust,
  fetchCustodyTrust,
  fetchFspTrust,
  forwardMessageHash,
  type InboxEvent,
  inboxWaitMsMax,
  MerchantClient,
  type PaymentRequestAccepted,
  type PaymentRequestView,
  type TracedMessage,
  Wallet,
  type WalletKeystoreData,
} from '@mpay/sdk';
import type { PartyKeys } from '../platform/identities.ts';
import { demoParties } from '../platform/seed.ts';
import { type Platform, startPlatform } from '../platform/start.ts';
import { bankOperator, type Deployment, dataDirOf, readJson } from './deployment.ts';
import { describeEvidence, fetchEvidence, logPolicyOf, verifyReceipt } from './evidence.ts';
import { type CommandIo, watchStopSignals } from './io.ts';
import { type CountedCall, meterFetch, type PartyTraffic } from './traffic.ts';
import { macroLimitsFromEnv } from './up.ts';

export type DemoDeployment = Omit<Deployment, 'pid'>;

async function healthy(url: string): Promise<boolean> {
  try {
    const { status } = await requestText(`${url}/health`, { timeoutMs: 2_000, responseBytesMax: 64 * 1024 });
    return status >= 200 && status < 300;
  } catch {
    return false;
  }
}

/** Finds the running platform (`mpay up`), or starts one in this process on the same data folder. */
async function connect(
  dataDir: string,
  io: CommandIo,
): Promise<{ deployment: DemoDeployment; platform?: Platform }> {
  const deployment = await readJson<Deployment>(join(dataDir, 'deployment.json'));
  if (deployment !== undefined && (await healthy(deployment.gateway))) return { deployment };
  io.stdout(
    'No running platform found (start one with `npm start`); starting the services in this process …\n',
  );
  const platform = await startPlatform({
    dataDir,
    databaseUrl: process.env.DATABASE_URL,
    macroLimits: macroLimitsFromEnv(process.env),
  });
  const banks = platform.banks.map((bank) => ({ id: bank.id, url: bank.url }));
  return {
    deployment: {
      gateway: platform.urls.gateway,
      merchantShop: platform.urls.merchantShop,
      fspId: platform.fsp.id,
      banks,
      log: { url: platform.urls.log, witness: platform.urls.witness, origin: platform.log.origin },
      custody: { url: platform.urls.custody, id: platform.custody.context.custody.id },
    },
    platform,
  };
}

/** What both demos share: where the services are, the FSP's keys, the merchant, and the messages seen. */
export interface DemoContext {
  readonly dataDir: string;
  readonly deployment: DemoDeployment;
  readonly io: CommandIo;
  readonly fsp: FspTrust;
  readonly merchantKeys: PartyKeys;
  readonly merchantClient: MerchantClient;
  /** Every signed or encrypted message the demo's parties sent or received, in order. */
  readonly trace: TracedMessage[];
  readonly record: (message: TracedMessage) => void;
}

export async function openDemo(
  dataDir: string,
  deployment: DemoDeployment,
  io: CommandIo,
  options: { echo: boolean },
): Promise<DemoContext> {
  const { merchant } = demoParties;
  const merchantKeys = await readJson<PartyKeys>(join(dataDir, 'parties', `${merchant.id}.json`));
  if (merchantKeys === undefined)
    throw new MpayError('AUTHENTICATION_FAILED', `no keys of ${merchant.id} in ${dataDir}`);
  const trace: TracedMessage[] = [];
  const record = (message: TracedMessage) => {
    // A message seen twice (a receipt in custody's answer and in its forward) is one message.
    if (trace.some((seen) => seen.compact === message.compact)) return;
    trace.push(message);
    if (options.echo) io.stdout(`  ${describe(message)}\n`);
  };
  const fsp = await fetchFspTrust(deployment.gateway);
  const merchantClient = new MerchantClient({
    gatewayUrl: deployment.gateway,
    merchantId: merchant.id,
    signingKey: merchantKeys.signing.privateJwk,
    fsp,
    trace: record,
    // Read from each bank itself, never through the FSP: the demo seals private fields for them.
    banks: await Promise.all(deployment.banks.map((bank) => fetchBankTrust(bank.url))),
  });
  return { dataDir, deployment, io, fsp, merchantKeys, merchantClient, trace, record };
}

async function accountBalance(context: DemoContext, bankId: string, accountId: string): Promise<string> {
  const bank = context.deployment.banks.find((candidate) => candidate.id === bankId);
  if (bank === undefined) throw new MpayError('BANK_UNKNOWN', bankId);
  const operator = await readJson<{ keys: PartyKeys }>(
    join(context.dataDir, 'keys', `${bankId}-operator.json`),
  );
  if (operator === undefined)
    throw new MpayError('AUTHENTICATION_FAILED', `no operator key for ${bankId} in ${context.dataDir}`);
  const { balance } = await bankOperator(bank, operator.keys.signing.privateJwk).get<{ balance: string }>(
    `/accounts/${accountId}`,
  );
  return balance;
}

/** The demo customer's balance at xbank and the demo merchant's at ybank. */
export async function balancesOf(
  context: DemoContext,
  customerAccount: string,
): Promise<{ customer: string; merchant: string }> {
  return {
    customer: await accountBalance(context, demoParties.bank.id, customerAccount),
    merchant: await accountBalance(context, demoParties.merchantBank.id, demoParties.merchant.account),
  };
}

export function formatMinor(minor: string): string {
  return `EUR ${formatDecimalBalance('EUR', BigInt(minor))}`;
}

function describe(message: TracedMessage): string {
  const verb = message.kind === 'jws' ? `signed by ${message.party}` : `encrypted to ${message.party}`;
  return `${message.step.padEnd(30)} ${message.kind.toUpperCase()} ${verb}, ${message.compact.length} bytes`;
}

/** The algorithm and kid of a compact JWS or JWE (its protected header), for printing only. */
function headerOf(compact: string): { alg: string; kid: string } {
  try {
    const header = JSON.parse(Buffer.from(compact.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
      alg?: unknown;
      kid?: unknown;
    };
    return { alg: String(header.alg), kid: String(header.kid) };
  } catch {
    return { alg: '?', kid: '?' };
  }
}

/** A kid (an RFC 7638 thumbprint) shortened for the terminal; jwks.json in --out has them whole. */
function shortKid(kid: string): string {
  return kid.length > 12 ? `${kid.slice(0, 12)}…` : kid;
}

export function signedWith(compact: string): string {
  const { alg, kid } = headerOf(compact);
  return `${alg}, kid ${shortKid(kid)}`;
}

/** The message as it stands once the customer (or custody in the customer's name) signed it. */
function withCustomerSignature(message: ImsMessage, sign: string): ImsMessage {
  return { ...message, address: { ...message.address, from: { ...message.address.from, sign } } };
}

export async function runDemo(
  flags: Map<string, string>,
  io: CommandIo,
  positional: readonly string[] = [],
): Promise<number> {
  const [kind, ...extra] = positional;
  if ((kind !== undefined && kind !== 'macro' && kind !== 'banking') || extra.length > 0) {
    io.stderr(
      `mpay demo: unknown demo ${positional.join(' ')} (\`mpay demo macro\` or \`mpay demo banking\`)\n`,
    );
    return 2;
  }
  const macro = kind === 'macro' ? await import('./demo-macro.ts') : undefined;
  const problem = macro?.macroDemoFlagProblem(flags);
  if (problem !== undefined) {
    io.stderr(`mpay demo macro: ${problem}\n`);
    return 2;
  }
  const dataDir = dataDirOf(flags);
  // Ctrl-C or SIGTERM: a platform this command started on the data folder is closed (once started), as
  // `mpay up` closes it, before the command exits 130 or 143.
  const watch = watchStopSignals({ io, command: 'mpay demo', cleanUpMsMax: demoCleanUpMsMax });
  return watch.finish(async () => {
    const connecting = connect(dataDir, io);
    watch.onStop(() => connecting.then(({ platform }) => platform?.close()));
    const { deployment, platform } = await connecting;
    try {
      if (macro !== undefined) return await macro.demoMacroPayment(dataDir, deployment, flags, io);
      if (kind === 'banking')
        return await (await import('./demo-banking.ts')).demoBanking(dataDir, deployment, io);
      if (flags.has('m-trade')) {
        const { demoTillPayment } = await import('./demo-m-trade.ts');
        return await demoTillPayment(dataDir, deployment, flags, io);
      }
      return flags.has('custody')
        ? await demoCustodyPayment(dataDir, deployment, flags, io)
        : await demoPayment(dataDir, deployment, flags, io);
    } finally {
      await platform?.close();
    }
  });
}

/** A stop signal's clean-up: the platform this command started closed, once its start is done. */
export const demoCleanUpMsMax = 10 * 60_000;

async function demoPayment(
  dataDir: string,
  deployment: DemoDeployment,
  flags: Map<string, string>,
  io: CommandIo,
): Promise<number> {
  const { customer } = demoParties;
  const context = await openDemo(dataDir, deployment, io, { echo: true });
  const keystore = await readJson<WalletKeystoreData>(
    join(dataDir, 'parties', `${customer.id}.wallet-v2.json`),
  );
  if (keystore === undefined) throw new MpayError('AUTHENTICATION_FAILED', `no wallet of ${customer.id}`);
  const wallet = new Wallet({
    gatewayUrl: deployment.gateway,
    keystore,
    fsp: context.fsp,
    trace: context.record,
  });
  const before = await balancesOf(context, customer.account);
  io.stdout(`\n1. Customer ${customer.id} opens the wallet (PIN) and listens for payment requests.\n`);
  const abort = new AbortController();
  // The phone's cost: the bytes each party's own calls send and receive, counted from the merchant's request
  // to the receipt (the device's login and its stream's opening come before; the stream's events count).
  const meter = meterFetch(['device', 'merchant'] as const);
  try {
    meter.counting = false;
    let listening: () => void = () => undefined;
    const accepted = new Promise<void>((resolve) => {
      listening = resolve;
    });
    const requests = paymentRequestsOf(wallet.events(customer.pin, abort.signal, undefined, listening));
    const opened = meter.as('device', () => requests.next());
    await Promise.race([accepted, opened]);
    return await demoPaymentSteps(context, wallet, keystore, flags, {
      requests,
      opened,
      abort,
      before,
      meter,
    });
  } finally {
    meter.restore();
  }
}

async function demoPaymentSteps(
  context: DemoContext,
  wallet: Wallet,
  keystore: WalletKeystoreData,
  flags: Map<string, string>,
  run: {
    readonly requests: AsyncGenerator<PaymentRequestView>;
    readonly opened: Promise<IteratorResult<PaymentRequestView>>;
    readonly abort: AbortController;
    readonly before: { customer: string; merchant: string };
    readonly meter: TrafficMeterOf;
  },
): Promise<number> {
  const { customer, merchant } = demoParties;
  const { dataDir, io } = context;
  const { requests, abort, before, meter } = run;
  const nextRequest = run.opened;
  const amountMinor = demoAmountOf(flags.get('level'));
  io.stdout(
    `2. Merchant ${merchant.id} asks ${customer.msisdn} for ${formatMinor(amountMinor.toString())} (m-commerce): signs, encrypts to the FSP.\n`,
  );
  meter.counting = true;
  const accepted = await meter.as('merchant', () =>
    context.merchantClient.requestPayment({
      customer: customer.msisdn,
      amount: { currency: 'EUR', minor: amountMinor },
      procedure: 'm-commerce',
      description: 'Order 1001: 250 g espresso beans',
      orderLines: [
        { name: 'Espresso beans, 250 g', quantity: 1, unitAmount: { currency: 'EUR', minor: amountMinor } },
      ],
    }),
  );
  const sealing = accepted.protections.includes('private_data_sealed');
  io.stdout(
    [
      `   The description and the order lines are sealed for ${customer.id}'s device, ${demoParties.bank.id} and ${demoParties.merchantBank.id}`,
      `   (keys from ${demoParties.bank.id}'s signed binding and from each bank, not from the FSP); the merchant signs them sealed.`,
      `3. FSP verified the merchant, assessed the level from the amount and ${customer.id}'s recent payments,`,
      sealing
        ? `   filled in no account (the level seals private fields; ${demoParties.bank.id} debits what its binding names), countersigned, pushed to the device (payment ${accepted.paymentId}, level ${accepted.securityLevel}).`
        : `   filled in the payer's account from xbank's key binding, countersigned, pushed to the device (payment ${accepted.paymentId}, level ${accepted.securityLevel}).`,
      `   Protections applied: ${accepted.protections.join(', ')}.\n`,
    ].join('\n'),
  );
  const view = (await nextRequest).value!;
  io.stdout(
    `4. Wallet verified FSP and merchant signatures${view.sealed ? ', opened the sealed fields with its own key,' : ''} and shows: pay ${view.amount.currency} ${view.amount.value} to ${view.merchant.name} (${view.merchant.id}) for "${view.description}"${(view.orderLines ?? []).map((line: ImsOrderLine) => `; ${line.quantity} × ${line.name}`).join('')}.\n`,
  );
  const secondFactorCode = view.protections.includes('second_factor')
    ? await demoSecondFactorCode(dataDir, customer.id)
    : undefined;
  io.stdout(
    secondFactorCode === undefined
      ? '5. Customer confirms with one action plus PIN; the wallet signs and encrypts to the FSP.\n'
      : `5. Customer confirms with one action plus PIN and the one-time code ${secondFactorCode} from the authenticator;\n   the wallet seals the code to ${demoParties.bank.id} (the FSP cannot read it), signs it with the message and encrypts to the FSP.\n`,
  );
  const receipt = await meter.as('device', () =>
    wallet.confirm(view, customer.pin, {
      ...(secondFactorCode === undefined ? {} : { secondFactorCode }),
    }),
  );
  // A receipt the stream repeats comes right after the answer: give it a moment to be counted.
  await new Promise((settle) => setTimeout(settle, streamSettleMs));
  meter.counting = false;
  await requests.return(undefined);
  abort.abort();
  io.stdout(
    `6. ${demoParties.bank.id} verified the customer's own signature under the key it bound to the account, then the banks moved the money; receipt signed by ${String(receipt.payload.iss)}.\n`,
  );
  io.stdout(
    `   Bytes over the air, merchant request to receipt:\n${describeTraffic(meter.traffic, meter.calls)}`,
  );
  const notification = await waitForNotification(context.deployment.merchantShop, view.paymentId, dataDir);
  context.record({
    step: 'merchant-notification',
    kind: 'jws',
    party: context.fsp.id,
    compact: notification.jws,
  });
  io.stdout(
    `7. Merchant notified by signed webhook: status ${String(notification.payment.status)}; it may ship.\n`,
  );
  const status = await context.merchantClient.paymentStatus(view.paymentId);
  const after = await balancesOf(context, customer.account);
  io.stdout(
    [
      `8. Public status: ${String(status.status)}.`,
      `   Customer at ${demoParties.bank.id}: ${formatMinor(before.customer)} → ${formatMinor(after.customer)};`,
      `   merchant at ${demoParties.merchantBank.id}: ${formatMinor(before.merchant)} → ${formatMinor(after.merchant)}`,
      `   (${demoParties.bank.id} held the amount, sent a signed funds transfer, posted on ${demoParties.merchantBank.id}'s signed answer).\n`,
    ].join('\n'),
  );
  const evidence = await logEvidence(context, view.paymentId);
  io.stdout(`9. ${evidence.line}\n`);
  const approval = bankApprovalIn(evidence.file);
  io.stdout(
    `10. The receipt and the log entry state the level: ${JSON.stringify((receipt.payload.receipt as { security?: unknown }).security)}` +
      (approval === undefined
        ? '.\n'
        : `;\n    ${demoParties.bank.id}'s signed answer carries its explicit approval: ${JSON.stringify(approval)}.\n`),
  );
  const out = flags.get('out');
  if (out !== undefined) {
    const sign = context.trace.find((m) => m.step === 'customer-signature')!.compact;
    await writeDemoFiles(resolve(out), context, {
      publicKeys: [keystore.signingPublicJwk, keystore.encryptionPublicJwk],
      message: withCustomerSignature(view.message, sign),
      evidence: evidence.file,
    });
  }
  return status.status === 'completed' ? 0 : 1;
}

/** The payment requests of a device's event stream. */
async function* paymentRequestsOf(
  events: AsyncGenerator<DeviceEventView>,
): AsyncGenerator<PaymentRequestView> {
  for await (const event of events) if (event.kind === 'payment-request') yield event.view;
}

type TrafficMeterOf = ReturnType<typeof meterFetch<'device' | 'merchant'>>;

/** How long the demo keeps counting the device's stream after the receipt (a repeated receipt would come then). */
const streamSettleMs = 500;

/** The bytes each way per party, then the device's calls one by one. */
function describeTraffic(
  traffic: Record<'device' | 'merchant', PartyTraffic>,
  calls: readonly CountedCall[],
): string {
  const party = (name: 'device' | 'merchant') => {
    const { sent, received, roundTrips } = traffic[name];
    return `     ${name.padEnd(9)} sent ${sent} B, received ${received} B, ${roundTrips} request(s) it started\n`;
  };
  const device = calls
    .filter((call) => call.party === 'device')
    .map(
      (call) =>
        `       device ${call.method} ${call.path}: sent ${call.sent} B, received ${call.received} B\n`,
    );
  return `${party('device')}${party('merchant')}${device.join('')}`;
}

/** `--level small|medium|large`: an amount that reaches that level on its own (history may raise it). */
function demoAmountOf(level: string | undefined): bigint {
  const amounts: Record<string, bigint> = { small: 5_00n, medium: 12_50n, large: 520_00n };
  if (level === undefined) return amounts.medium as bigint;
  const amount = amounts[level];
  if (amount === undefined) throw new MpayError('REQUEST_INVALID', '--level must be small, medium or large');
  return amount;
}

/** The demo customer's authenticator app: the TOTP its bank provisioned at enrolment, kept beside the wallet. */
async function demoSecondFactorCode(dataDir: string, partyId: string): Promise<string> {
  const stored = await readJson<{ authenticator?: string }>(
    join(dataDir, 'parties', `${partyId}.authenticator.json`),
  );
  if (stored?.authenticator === undefined)
    throw new MpayError('SECOND_FACTOR_REQUIRED', `no authenticator of ${partyId} in ${dataDir}`);
  return authenticatorCode(stored.authenticator, new Date());
}

/** The bank's explicit approval inside its signed answer, as the log holds it (read for display; the log verified it). */
function bankApprovalIn(evidence: string): unknown {
  const { messages } = JSON.parse(evidence) as { messages?: string[] };
  for (const jws of messages ?? []) {
    try {
      const payload = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
        paymentOrder?: { approval?: unknown };
      };
      if (payload.paymentOrder?.approval !== undefined) return payload.paymentOrder.approval;
    } catch {}
  }
  return undefined;
}

/** The payment's receipt from the transaction log, verified offline, and a line saying so. */
export async function logEvidence(
  context: DemoContext,
  paymentId: string,
): Promise<{ file: string; line: string }> {
  const file = await fetchEvidence(context.deployment.gateway, context.dataDir, paymentId);
  const verified = await verifyReceipt(file, await logPolicyOf(context.dataDir));
  return {
    file,
    line: `Transaction log (third party): ${describeEvidence(verified)}; verified offline with the log's and the witness's public keys.`,
  };
}

async function waitForNotification(
  shopUrl: string,
  paymentId: string,
  dataDir: string,
): Promise<{ jws: string; payment: Record<string, unknown> }> {
  // The shop's notifications name payers and amounts: they are the merchant's, behind its token.
  const token = await readJson<string>(join(dataDir, 'keys', 'merchant-shop-token.json'));
  if (token === undefined)
    throw new MpayError('AUTHENTICATION_FAILED', `no merchant shop token in ${dataDir}`);
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const { body } = await requestJson<{ jws: string; payment: Record<string, unknown> }[]>(
      `${shopUrl}/notifications/${paymentId}`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    const completed = body.find((n) => n.payment.status === 'completed');
    if (completed !== undefined) return completed;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error('the merchant was not notified within 10 s');
}

interface DemoFiles {
  /** The customer's public keys (the device's, or the one custody holds), besides the FSP's and the merchant's. */
  readonly publicKeys: readonly unknown[];
  /** The final iMS message, with the customer's signature. */
  readonly message: ImsMessage;
  /** The transaction log's receipt (`mpay log verify`). */
  readonly evidence: string;
}

/** `--out DIR`: every message as sent, the public keys that check them, the final message and the log's receipt. */
async function writeDemoFiles(out: string, context: DemoContext, files: DemoFiles): Promise<void> {
  await mkdir(out, { recursive: true });
  for (const [index, message] of context.trace.entries()) {
    const name = `${String(index + 1).padStart(2, '0')}-${message.step.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, '')}.${message.kind}`;
    await writeFile(join(out, name), `${message.compact}\n`);
  }
  const jwks = publicJwkSet([
    ...context.fsp.keys.keys,
    context.merchantKeys.signing.publicJwk,
    context.merchantKeys.encryption.publicJwk,
    ...files.publicKeys,
  ]);
  await writeFile(join(out, 'jwks.json'), `${JSON.stringify(jwks, null, 2)}\n`);
  await writeFile(join(out, 'message.json'), `${JSON.stringify(imsToJson(files.message), null, 2)}\n`);
  await writeFile(join(out, 'message.xml'), `${imsToXml(files.message)}\n`);
  const payloads = context.trace
    .filter((m) => m.kind === 'jws')
    .map((m) => ({ step: m.step, ...decodeUnverified(m.compact) }));
  await writeFile(join(out, 'signed-payloads.json'), `${JSON.stringify(payloads, null, 2)}\n`);
  await writeFile(join(out, 'evidence.json'), files.evidence);
  context.io.stdout(
    `\nWrote every signed and encrypted message, jwks.json and evidence.json (check it with \`mpay log verify\`) to ${out}\n`,
  );
}

// ---------------------------------------------------------------------------------------------
// `mpay demo --custody`: iMS §5, the customer's key in custody's HSM, the phone holding none.

/** How long the demo waits for custody's inbox, the log index of a delegate signature, and the like. */
const custodyWaitMs = 30_000;
/** Delegate signatures printed, newest first (custody lists up to 100). */
const delegateSignaturesShownMax = 10;
/** Inbox pages read to find where the phone's inbox ends now (custody sends at most 500 per page). */
const inboxPagesMax = 1_000;

interface CustodySetup {
  readonly custody: { readonly url: string; readonly id: string };
  readonly trust: CustodyTrust;
  readonly enrolment: CustodyEnrolment;
  /** The bank's binding of the key custody holds, verified under the bank's key and active at the bank. */
  readonly binding: KeyBinding;
  readonly phone: CustodyWallet;
}

/** The binding as its bank states it: under the bank's published key, and `active` at the bank now. */
async function verifiedBindingOf(deployment: DemoDeployment, compact: string): Promise<KeyBinding> {
  const bank = deployment.banks.find((candidate) => candidate.id === demoParties.bank.id);
  if (bank === undefined) throw new MpayError('BANK_UNKNOWN', demoParties.bank.id);
  const { body } = await requestJson<{ keys: PublicJwkSet }>(`${bank.url}/bank`);
  return verifyKeyBinding(compact, keyResolverFromJwkSet(body.keys), {
    issuer: bank.id,
    isRevoked: async (serial) => {
      const { body: state } = await requestJson<{ status?: unknown }>(
        `${bank.url}/key-bindings/${encodeURIComponent(serial)}`,
      );
      return state.status !== 'active';
    },
  });
}

/**
 * The custody customer's phone as the seed enrolled it (its token for
 * custody, nothing that signs), custody's keys, and the bank's binding of the
 * key custody holds: its encryption key must be custody's, else the FSP's
 * messages for her would not go to custody.
 */
async function custodySetup(context: DemoContext): Promise<CustodySetup> {
  const { custodyCustomer } = demoParties;
  const custody = context.deployment.custody;
  if (custody === undefined)
    throw new MpayError('SERVICE_UNAVAILABLE', 'no custody in deployment.json: restart the platform');
  const enrolment = await readJson<CustodyEnrolment>(
    join(context.dataDir, 'parties', `${custodyCustomer.id}.custody-phone.json`),
  );
  if (enrolment === undefined)
    throw new MpayError(
      'AUTHENTICATION_FAILED',
      `no custody phone of ${custodyCustomer.id} in ${context.dataDir}`,
    );
  const trust = await fetchCustodyTrust(custody.url);
  if (trust.id !== custody.id)
    throw new MpayError('CUSTODY_SOURCE_INVALID', `custody answers as ${trust.id}`);
  const binding = await verifiedBindingOf(context.deployment, enrolment.binding);
  const custodyEncryptionKid = trust.keys.keys.find((jwk) => jwk.use === 'enc')?.kid;
  if (binding.subject !== custodyCustomer.id || binding.encryptionJwk.kid !== custodyEncryptionKid)
    throw new MpayError(
      'KEY_BINDING_INVALID',
      `the binding of ${custodyCustomer.id} does not name custody's key`,
    );
  const phone = new CustodyWallet({
    custodyUrl: custody.url,
    custody: trust,
    fsp: context.fsp,
    partyId: custodyCustomer.id,
    deviceToken: enrolment.deviceToken,
    trace: (message) => context.record({ ...message, step: custodyTraceStep(message) }),
  });
  return { custody, trust, enrolment, binding, phone };
}

/** The SDK names every custody forward step 2; one that carries a receipt or an outcome belongs to step 10. */
function custodyTraceStep(message: TracedMessage): string {
  if (!message.step.startsWith('custody step 2')) return message.step;
  const payload = decodeUnverified(message.compact)?.payload as { forward?: { event?: unknown } } | undefined;
  const event = payload?.forward?.event;
  return event === 'payment-request' ? message.step : `custody step 10: forward (${String(event)})`;
}

/** The §5 step a traced message belongs to, so that --out lists them in the paper's order. */
function custodyStepNumberOf(message: TracedMessage): number {
  if (message.step.startsWith('merchant-to-fsp') || message.step === 'merchant-signature') return 1;
  if (message.step === 'merchant-notification') return 9;
  return Number(/^custody step (\d+)/.exec(message.step)?.[1] ?? 11);
}

function printStep(io: CommandIo, step: CustodyStep, details: readonly string[]): void {
  io.stdout(`${String(step).padStart(2)}. ${custodySteps[step]}\n`);
  for (const detail of details) io.stdout(`      ${detail}\n`);
}

/** Where the phone's inbox at custody ends now: the demo waits only for what comes after. */
async function lastInboxCursor(phone: CustodyWallet): Promise<string | undefined> {
  let cursor: string | undefined;
  for (let page = 0; page < inboxPagesMax; page += 1) {
    const events = await phone.events(cursor, 0);
    if (events.length === 0) return cursor;
    cursor = events.at(-1)!.cursor;
  }
  throw new MpayError('SERVICE_UNAVAILABLE', `more than ${inboxPagesMax} pages in the inbox`);
}

/** The next inbox event of this kind for this payment after `after`, by long poll, within `custodyWaitMs`. */
async function nextInboxEvent(
  phone: CustodyWallet,
  after: string | undefined,
  kind: InboxEvent['event'],
  paymentId: string,
): Promise<InboxEvent> {
  const deadline = Date.now() + custodyWaitMs;
  let cursor = after;
  for (;;) {
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0)
      throw new MpayError('SERVICE_UNAVAILABLE', `no ${kind} of payment ${paymentId} from custody in time`);
    const events = await phone.events(cursor, Math.min(remainingMs, inboxWaitMsMax));
    const found = events.find((event) => event.event === kind && event.paymentId === paymentId);
    if (found !== undefined) return found;
    cursor = events.at(-1)?.cursor ?? cursor;
  }
}

/**
 * What custody signed for this payment, as it lists it to the customer,
 * once the third-party log has given it an index (or the wait is over).
 */
async function delegateSignatureOf(
  phone: CustodyWallet,
  paymentId: string,
): Promise<{ signature: DelegateSignature | undefined; all: DelegateSignature[] }> {
  const deadline = Date.now() + custodyWaitMs;
  for (;;) {
    const all = await phone.delegateSignatures();
    const signature = all.find((entry) => entry.paymentId === paymentId);
    if ((signature !== undefined && signature.logIndex !== null) || Date.now() > deadline)
      return { signature, all };
    await new Promise((done) => setTimeout(done, 250));
  }
}

interface CustodyRequest {
  readonly accepted: PaymentRequestAccepted;
  readonly event: InboxEvent;
  readonly view: CustodyPaymentRequestView;
}

/** Steps 1–3: the merchant asks, the FSP redirects to custody, custody forwards, the phone verifies. */
async function custodySteps1to3(context: DemoContext, setup: CustodySetup): Promise<CustodyRequest> {
  const { custodyCustomer, merchant } = demoParties;
  const { io, fsp } = context;
  const cursor = await lastInboxCursor(setup.phone);
  const accepted = await context.merchantClient.requestPayment({
    customer: custodyCustomer.msisdn,
    amount: { currency: 'EUR', minor: 12_50n },
    procedure: 'm-commerce',
    description: 'Order 1002: 1 kg espresso beans',
  });
  const event = await nextInboxEvent(setup.phone, cursor, 'payment-request', accepted.paymentId);
  const opened = await setup.phone.openForward(event.forward);
  if (opened.event !== 'payment-request' || opened.paymentId !== accepted.paymentId)
    throw new MpayError('CUSTODY_SOURCE_INVALID', 'the forward is not this payment request');
  const view = opened.request;
  const merchantSign = context.trace.find((m) => m.step === 'merchant-signature')!.compact;
  const merchantJwe = context.trace.find((m) => m.step.startsWith('merchant-to-fsp'))!.compact;
  printStep(io, 1, [
    `merchant ${merchant.id} signed (${signedWith(merchantSign)}) and encrypted to the FSP ${fsp.id} (JWE ${signedWith(merchantJwe)}): EUR 12.50 from ${custodyCustomer.msisdn}`,
    `FSP ${fsp.id} verified the merchant's signature under its certificate, filled in the payer's account from ${setup.binding.issuer}'s binding, countersigned (${signedWith(view.message.address.fspSign!)}), encrypted to ${setup.custody.id} (the binding's encryption key, kid ${shortKid(setup.binding.encryptionJwk.kid!)}) and redirected it to custody in a request it signed (payment ${accepted.paymentId}, level ${accepted.securityLevel})`,
  ]);
  printStep(io, 2, [
    `${setup.custody.id} verified the FSP's signed request and its countersignature addressed to ${custodyCustomer.id}, checked that the account is one its key is bound to, and forwarded the message to the phone, signed (${signedWith(event.forward)}; inbox cursor ${event.cursor})`,
  ]);
  printStep(io, 3, [
    `the phone verified custody's signature (the key GET /custody gave at start, pinned for the session), the FSP's countersignature and the merchant's signature under the FSP's certificate, and shows: pay ${view.amount.currency} ${view.amount.value} to ${view.merchant.name} (${view.merchant.id}) for "${view.description}"`,
  ]);
  return { accepted, event, view };
}

/** Steps 4–6: the PIN authorisation for that exact forward, and custody's signature in the customer's name. */
async function custodySteps4to6(
  context: DemoContext,
  setup: CustodySetup,
  request: CustodyRequest,
): Promise<{ result: DelegationResult; signature: DelegateSignature | undefined; all: DelegateSignature[] }> {
  const { io, fsp } = context;
  const { custodyCustomer } = demoParties;
  const result = await setup.phone.confirm(request.view, custodyCustomer.pin).catch((error: unknown) => {
    if (isMpayError(error, 'PIN_BLOCKED'))
      io.stderr(
        `${custodyCustomer.id} is blocked at ${setup.custody.id}; her bank lifts it: npx mpay custody unblock ${custodyCustomer.id}\n`,
      );
    throw error;
  });
  const { signature, all } = await delegateSignatureOf(setup.phone, request.view.paymentId);
  const authorisation = context.trace.find((m) => m.step.startsWith('custody step 4'))!.compact;
  const hash = await forwardMessageHash(request.view.forward);
  printStep(io, 4, [
    `PIN: OPAQUE login (custody counted the try; the PIN never left the phone), authorisation = HMAC under the login's session key over the decision "confirm" and the hash of the exact forward (SHA-256 ${hash.slice(0, 12)}…)`,
  ]);
  printStep(io, 5, [
    `the OPAQUE finish, the decision, the hash and the HMAC encrypted to ${setup.custody.id} (JWE ${signedWith(authorisation)}, ${authorisation.length} bytes), POST /delegations/:id/authorisation`,
  ]);
  const kid = signature?.kid ?? '?';
  printStep(io, 6, [
    `${setup.custody.id} checked the phone's token, the PIN (the OPAQUE finish) and the HMAC over the message it had forwarded; then it signed in the customer's name in the HSM, key kid ${shortKid(kid)} (generated there, not extractable), and sent the signed message to the FSP encrypted to ${fsp.id}`,
    signature === undefined
      ? 'custody lists no delegate signature for this payment'
      : `the signature is listed to the customer (GET /delegate-signatures) and in the transaction log at index ${signature.logIndex ?? 'not yet'} (submitted by ${setup.custody.id} with the key id)`,
  ]);
  return { result, signature, all };
}

/** Steps 7–10: the bank, the FSP's acknowledgement, the merchant's notification, the receipt through custody. */
async function custodySteps7to10(
  context: DemoContext,
  setup: CustodySetup,
  request: CustodyRequest,
  result: DelegationResult,
): Promise<{ status: string; receiptForward: InboxEvent }> {
  const { io, fsp, deployment } = context;
  const { paymentId } = request.view;
  const { bank, merchantBank, merchant } = demoParties;
  const binding = setup.binding;
  const notification = await waitForNotification(deployment.merchantShop, paymentId, context.dataDir);
  context.record({ step: 'merchant-notification', kind: 'jws', party: fsp.id, compact: notification.jws });
  const status = String((await context.merchantClient.paymentStatus(paymentId)).status);
  const receiptForward = await nextInboxEvent(setup.phone, request.event.cursor, 'receipt', paymentId);
  const opened = await setup.phone.openForward(receiptForward.forward);
  if (opened.event !== 'receipt') throw new MpayError('CUSTODY_SOURCE_INVALID', 'expected a receipt');
  printStep(io, 7, [
    `${fsp.id} verified the customer's signature over its own copy of the message and ordered ${bank.id}; ${bank.id} verified it under its binding ${binding.serialNumber} (kid ${shortKid(binding.signingJwk.kid!)}, account ${binding.accounts.join(', ')}) and paid; ${merchantBank.id} credited ${merchant.id}`,
  ]);
  printStep(io, 8, [`${fsp.id} verified ${bank.id}'s signed answer; public status: ${status}`]);
  printStep(io, 9, [
    `merchant notified (webhook signed by ${fsp.id}, ${signedWith(notification.jws)}): status ${String(notification.payment.status)}`,
  ]);
  printStep(io, 10, [
    `receipt signed by the FSP (${signedWith(opened.receipt.jws)}), returned through ${setup.custody.id}: ${result.status === 'completed' ? 'in its answer to step 5, and ' : ''}forwarded to the phone signed (${signedWith(receiptForward.forward)}); the phone verified both signatures`,
  ]);
  return { status, receiptForward };
}

function printDelegateSignatures(
  io: CommandIo,
  setup: CustodySetup,
  all: DelegateSignature[],
  paymentId: string,
) {
  io.stdout(
    `\nDelegate signatures ${setup.custody.id} lists for ${setup.binding.subject} (GET /delegate-signatures, newest first):\n`,
  );
  for (const entry of all.slice(0, delegateSignaturesShownMax)) {
    const mark = entry.paymentId === paymentId ? '   ← this payment' : '';
    io.stdout(
      `  ${entry.signedAt}  ${entry.decision.padEnd(7)}  payment ${entry.paymentId}  kid ${shortKid(entry.kid)}  log index ${entry.logIndex ?? '—'}${mark}\n`,
    );
  }
  if (all.length > delegateSignaturesShownMax)
    io.stdout(`  … and ${all.length - delegateSignaturesShownMax} older\n`);
}

/**
 * `mpay demo --custody`: one payment of the custody customer, the ten steps
 * of iMS §5 in order with who signed or encrypted what, her balance and the
 * merchant's before and after, and what custody signed in her name.
 */
async function demoCustodyPayment(
  dataDir: string,
  deployment: DemoDeployment,
  flags: Map<string, string>,
  io: CommandIo,
): Promise<number> {
  const { custodyCustomer } = demoParties;
  const context = await openDemo(dataDir, deployment, io, { echo: false });
  const setup = await custodySetup(context);
  const before = await balancesOf(context, custodyCustomer.account);
  io.stdout(
    [
      `\niMS §5, the trusted mobile certificate server: ${custodyCustomer.id} (${custodyCustomer.msisdn}) pays from a phone that holds no key, only its token for custody.`,
      `Custody ${setup.custody.id} at ${setup.custody.url} holds her key in its HSM (kid ${shortKid(setup.binding.signingJwk.kid!)}), bound by ${setup.binding.issuer} (binding ${setup.binding.serialNumber}).\n\n`,
    ].join('\n'),
  );
  const request = await custodySteps1to3(context, setup);
  const delegation = await custodySteps4to6(context, setup, request);
  const { signature } = delegation;
  if (signature !== undefined)
    context.record({
      step: 'custody step 6: delegate-signature',
      kind: 'jws',
      party: custodyCustomer.id,
      compact: signature.jws,
    });
  const { status } = await custodySteps7to10(context, setup, request, delegation.result);
  const after = await balancesOf(context, custodyCustomer.account);
  io.stdout(
    [
      `\nBalances: ${custodyCustomer.id} at ${demoParties.bank.id} ${formatMinor(before.customer)} → ${formatMinor(after.customer)};`,
      `          ${demoParties.merchant.id} at ${demoParties.merchantBank.id} ${formatMinor(before.merchant)} → ${formatMinor(after.merchant)}\n`,
    ].join('\n'),
  );
  printDelegateSignatures(io, setup, delegation.all, request.view.paymentId);
  const evidence = await logEvidence(context, request.view.paymentId);
  io.stdout(`\n${evidence.line}\n`);
  const out = flags.get('out');
  if (out !== undefined && signature !== undefined) {
    context.trace.sort((a, b) => custodyStepNumberOf(a) - custodyStepNumberOf(b));
    await writeDemoFiles(resolve(out), context, {
      publicKeys: [...setup.trust.keys.keys, setup.binding.signingJwk],
      message: withCustomerSignature(request.view.message, signature.jws),
      evidence: evidence.file,
    });
  }
  return custodyOutcome(io, setup, status, signature);
}

/** Exit 0 only for a completed payment whose delegate signature custody made with the key the bank bound. */
function custodyOutcome(
  io: CommandIo,
  setup: CustodySetup,
  status: string,
  signature: DelegateSignature | undefined,
): number {
  const boundKid = setup.binding.signingJwk.kid;
  const problems = [
    status === 'completed' ? undefined : `the payment is ${status}, not completed`,
    signature === undefined ? 'custody lists no delegate signature for the payment' : undefined,
    signature !== undefined && (signature.kid !== boundKid || headerOf(signature.jws).kid !== boundKid)
      ? 'the delegate signature is not by the key the bank bound'
      : undefined,
  ].filter((problem): problem is string => problem !== undefined);
  for (const problem of problems) io.stderr(`mpay demo --custody: ${problem}\n`);
  return problems.length === 0 ? 0 : 1;
}

/** The stable code a demo step was refused with, or 'accepted'. */
export async function refusalOf(run: Promise<unknown>): Promise<string> {
  try {
    await run;
    return 'accepted';
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
}
