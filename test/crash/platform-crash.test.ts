import { randomInt, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interbankCreditId } from '@mpay/bank';
import { bankOperator, type Deployment, demoParties, type OperatorClient } from '@mpay/cli';
import { generateEncryptionKeyPair, generateSigningKeyPair, type PrivateJwk } from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import { verifyReceipt } from '@mpay/merkle';
import { errorCategoryOf, isErrorCode, isMpayError } from '@mpay/protocol';
import {
  createKeystore,
  enrolDevice,
  type FspTrust,
  fetchFspTrust,
  MerchantClient,
  type PaymentRequestView,
  type Receipt,
  registerWithFsp,
  Wallet,
  type WalletKeystoreData,
} from '@mpay/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logPolicyOf } from '../../cli/src/commands/evidence.ts';
import {
  backgroundWorkDeadlineMs,
  paymentSettledDeadlineMs,
  platformStartDeadlineMs,
  requestDeadlineMs,
  serviceStartDeadlineMs,
  testTimeoutMs,
  waitFor,
} from '../support/deadlines.ts';
import {
  freePlatformPorts,
  type PlatformDatabase,
  PlatformProcess,
  platformDatabase,
  runMpay,
} from './platform-process.ts';

/**
 * The whole platform (`mpay up`: gateway, banks xbank and ybank, merchant shop, log, witness in one
 * process) is killed with SIGKILL at random moments while a stream of payments runs against it over
 * HTTP, and started again on the same data folder and ports. The merchant retries its request with
 * the same Idempotency-Key and the same bytes, the customer's wallet resends its signed confirmation,
 * until each gets a final answer. Then every payment must be final at the gateway, every completed
 * one must have moved its amount exactly once from the customer (xbank) to the merchant (ybank) and
 * nothing else may have moved, `mpay audit` must pass, and every completed payment's evidence must
 * verify under the log's and the witness's keys.
 */
const serverUrl = process.env.DATABASE_URL || undefined;
const killsPlanned = 10;
/** Payments started at least, and at most (more only while kills are still due). */
const paymentsMin = 40;
const paymentsMax = 60;
/** Payments in flight at once. */
const lanes = 3;
/**
 * Customers paying, round robin: the demo customer and customers this test enrols at xbank. The gateway
 * lets a customer receive 10 payment requests a minute (`mpay up` has no way to change it), so one
 * customer alone would turn most of the run into waiting out 429s.
 */
const customerCount = 4;
const openingMinor = 1_000_00n;
/** Longest pause of the crash after a step was answered: the kill lands inside the next requests. */
const killJitterMaxMs = 400;
/** Longest Retry-After honoured on a 429; the rate window of the gateway is 60 s. */
const retryAfterMaxMs = 61_000;
const finalStatuses = ['completed', 'declined', 'expired', 'failed', 'cancelled'];
/**
 * vitest's backstop for this one test, which waits for the platform to start eleven times, each wait
 * with its own named deadline: the suite's backstop plus one start deadline per kill, so that a slow
 * but progressing run on a loaded machine is decided by the named deadlines, never by vitest.
 */
const runBackstopMs = testTimeoutMs + killsPlanned * platformStartDeadlineMs;

interface Customer {
  readonly id: string;
  readonly account: string;
  readonly pin: string;
  readonly wallet: Wallet;
  readonly device: Device;
}

interface Payment {
  readonly index: number;
  readonly customer: Customer;
  readonly amountMinor: bigint;
  readonly transactionId: string;
  readonly idempotencyKey: string;
  /** The merchant's signed, encrypted request: built once, sent again byte for byte. */
  jwe?: string;
  /** The gateway's 201 answer. */
  accepted?: { paymentId: string; status: string };
  /** A final refusal of the merchant's request (no payment). */
  merchantRefusal?: string;
  /** The status the payment closed in before the customer's device showed it. */
  closedUnseen?: string;
  receipt?: Receipt;
  /** A final refusal of the customer's confirmation. */
  customerRefusal?: string;
  /** The gateway's status after the run. */
  finalStatus?: string;
  merchantAttempts: number;
  confirmAttempts: number;
  /** 409 IDEMPOTENCY_REQUEST_IN_PROGRESS answers to the merchant's retries. */
  inProgressAnswers: number;
  lastError?: string;
}

let folder: string;
let database: PlatformDatabase | undefined;
let platform: PlatformProcess;
let deployment: Deployment;
let fsp: FspTrust;
let merchant: MerchantClient;
let merchantKey: PrivateJwk;
/** The platform's custody, where the customers' PINs are registered (from the demo customer's keystore). */
let pinServer: { url: string; custodyId: string };
const banks: Record<'xbank' | 'ybank', OperatorClient> = {} as Record<'xbank' | 'ybank', OperatorClient>;
const customers: Customer[] = [];

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

function describeError(error: unknown): string {
  if (isMpayError(error)) return `${error.code}${error.detail ? ` (${error.detail})` : ''}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * The customer's device: one event stream (the wallet's paymentRequests), opened again after every
 * crash; on connect the gateway sends every request still waiting for the customer, so none is lost.
 */
class Device {
  readonly views = new Map<string, PaymentRequestView>();
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private stopped = false;
  lastError = '';

  constructor(
    private readonly wallet: Wallet,
    private readonly pin: string,
  ) {}

  start(): void {
    this.running = this.listen();
  }

  private async listen(): Promise<void> {
    while (!this.stopped) {
      try {
        await platform.whenUp();
      } catch {
        return;
      }
      try {
        for await (const view of this.wallet.paymentRequests(this.pin, this.abort.signal))
          this.views.set(view.paymentId, view);
      } catch (error) {
        this.lastError = describeError(error);
      }
      // The stream ended (a crash, or the gateway closed it): open it again, once the platform is up.
      if (!this.stopped && platform.isUp) await new Promise((done) => setTimeout(done, 100 + randomInt(200)));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.running;
  }
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mpay-platform-crash-'));
  if (serverUrl !== undefined) database = await platformDatabase(serverUrl);
  platform = new PlatformProcess(folder, await freePlatformPorts(), database?.url);
  await platform.start();
  deployment = await readJson<Deployment>(join(folder, 'deployment.json'));
  fsp = await fetchFspTrust(platform.gatewayUrl);
  const merchantKeys = await readJson<{ signing: { privateJwk: PrivateJwk } }>(
    join(folder, 'parties', `${demoParties.merchant.id}.json`),
  );
  merchantKey = merchantKeys.signing.privateJwk;
  merchant = new MerchantClient({
    gatewayUrl: platform.gatewayUrl,
    merchantId: demoParties.merchant.id,
    signingKey: merchantKey,
    fsp,
  });
  for (const bank of deployment.banks) {
    const operator = await readJson<{ keys: { signing: { privateJwk: PrivateJwk } } }>(
      join(folder, 'keys', `${bank.id}-operator.json`),
    );
    banks[bank.id as 'xbank' | 'ybank'] = bankOperator(bank, operator.keys.signing.privateJwk);
  }
  const john = await readJson<WalletKeystoreData>(
    join(folder, 'parties', `${demoParties.customer.id}.wallet-v2.json`),
  );
  pinServer = { url: john.pinServer.url, custodyId: john.pinServer.custodyId };
  addCustomer(demoParties.customer.id, demoParties.customer.account, john, demoParties.customer.pin);
  for (let index = 1; index < customerCount; index += 1) await enrolCustomer(index);
});

afterAll(async () => {
  for (const customer of customers) await customer.device.stop();
  await platform?.stop();
  await database?.drop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

function addCustomer(id: string, account: string, keystore: WalletKeystoreData, pin: string): void {
  const wallet = new Wallet({ gatewayUrl: platform.gatewayUrl, keystore, fsp });
  const device = new Device(wallet, pin);
  customers.push({ id, account, pin, wallet, device });
}

/** Another customer of xbank, set up as the demo seed sets up the demo customer: through the public APIs only. */
async function enrolCustomer(index: number): Promise<void> {
  const id = `crash.payer${index}@person.xbank`;
  const account = randomUUID();
  const pin = '1357';
  await banks.xbank.post('/accounts', { id: account, owner: id, currency: 'EUR', kind: 'customer' });
  await banks.xbank.post('/transfers', {
    id: randomUUID(),
    debitAccountId: demoParties.bank.fundingAccount,
    creditAccountId: account,
    amount: openingMinor.toString(),
    currency: 'EUR',
    reference: 'opening balance',
  });
  const { code } = await banks.xbank.post<{ code: string }>('/enrolment-codes', {
    partyId: id,
    accountIds: [account],
  });
  const xbank = deployment.banks.find((bank) => bank.id === 'xbank')!;
  const keys = {
    signing: await generateSigningKeyPair('ES256'),
    encryption: await generateEncryptionKeyPair(),
  };
  const enrolment = await enrolDevice(
    { bankUrl: xbank.url, bankId: 'xbank', partyId: id, code },
    `crash-phone-${index}`,
    keys,
  );
  // The PIN is registered at the platform's custody, as the demo customer's was.
  const keystore = await createKeystore({ partyId: id, pin, keys, binding: enrolment.binding, pinServer });
  await registerWithFsp(platform.gatewayUrl, enrolment, `Crash Payer ${index}`);
  addCustomer(id, account, keystore, pin);
}

async function balances(): Promise<{ customers: bigint[]; merchant: bigint; holds: string[] }> {
  const holds: string[] = [];
  const customerBalances: bigint[] = [];
  for (const customer of customers) {
    const account = await banks.xbank.get<{ balance: string; available: string }>(
      `/accounts/${customer.account}`,
    );
    if (account.available !== account.balance)
      holds.push(`${customer.id}: available ${account.available} ≠ balance ${account.balance}`);
    customerBalances.push(BigInt(account.balance));
  }
  const merchantAccount = await banks.ybank.get<{ balance: string }>(
    `/accounts/${demoParties.merchant.account}`,
  );
  return { customers: customerBalances, merchant: BigInt(merchantAccount.balance), holds };
}

async function statusOf(paymentId: string): Promise<string> {
  try {
    return String((await merchant.paymentStatus(paymentId)).status);
  } catch (error) {
    if (isMpayError(error, 'PAYMENT_UNKNOWN')) return 'unknown';
    throw error;
  }
}

async function transferOrUndefined(client: OperatorClient, id: string) {
  try {
    return await client.get<{ kind: string; amount: string; status?: string }>(`/transfers/${id}`);
  } catch (error) {
    if (isMpayError(error, 'TRANSFER_UNKNOWN')) return undefined;
    throw error;
  }
}

/** The payment's evidence file, as the merchant (a party of the payment) asks for it. */
async function evidenceOf(paymentId: string): Promise<string> {
  const path = `/payments/${paymentId}/evidence`;
  return waitFor(
    async () => {
      const authorization = await signRequest(
        { method: 'GET', path, body: '' },
        { issuer: demoParties.merchant.id, audience: fsp.id, key: merchantKey },
      );
      const response = await fetch(`${platform.gatewayUrl}${path}`, { headers: { authorization } });
      const text = await response.text();
      if (response.status === 200) return text;
      if (response.status !== 202)
        throw new Error(`evidence of ${paymentId}: HTTP ${response.status} ${text}`);
      return false;
    },
    { deadlineMs: backgroundWorkDeadlineMs, what: `the log to prove payment ${paymentId}`, intervalMs: 250 },
  );
}

describe('the whole platform survives SIGKILL in the middle of payments', () => {
  it(
    'ends every payment final, moves each completed amount exactly once, and proves it in the log',
    async () => {
      const began = Date.now();
      const before = await balances();
      for (const customer of customers) customer.device.start();
      const payments: Payment[] = [];
      /** Wrong answers seen on the way: each one a platform bug. */
      const violations: string[] = [];
      let kills = 0;
      /** Protocol steps answered (a merchant request, a request shown on the device, a confirmation). */
      let progress = 0;
      let lanesDone = false;
      const label = (payment: Payment) => `payment ${payment.index} (${payment.transactionId})`;

      /**
       * Calls `attempt` until it says the step is done. A crash cuts the attempts short; they go on once
       * the platform is up again. Within one life of the platform the step has the named deadline.
       */
      async function untilDone(
        what: string,
        attempt: () => Promise<boolean>,
        intervalMs = 100,
      ): Promise<void> {
        for (let lives = 0; lives <= killsPlanned + 1; lives += 1) {
          await platform.whenUp();
          const starts = platform.starts;
          const outcome = await waitFor(
            async () => {
              if (platform.starts !== starts || !platform.isUp) return 'restarted';
              return (await attempt()) ? 'done' : false;
            },
            { deadlineMs: paymentSettledDeadlineMs, what, intervalMs, detail: () => openPayments() },
          );
          if (outcome === 'done') return;
        }
        throw new Error(`assertion failed: ${what} outlived every start of the platform`);
      }

      function openPayments(): string {
        return payments
          .filter((p) => p.merchantRefusal === undefined && p.receipt === undefined && !p.customerRefusal)
          .filter((p) => p.closedUnseen === undefined)
          .map(
            (p) =>
              `${label(p)}: ${p.accepted ? 'accepted' : 'not accepted'}, ${p.merchantAttempts} request(s), ${p.confirmAttempts} confirmation(s), last error ${p.lastError ?? '-'}`,
          )
          .join('\n');
      }

      /** One try of the merchant's request: the same bytes under the same Idempotency-Key every time. */
      async function requestOnce(payment: Payment): Promise<boolean> {
        payment.jwe ??= (
          await merchant.buildPaymentRequest({
            customer: payment.customer.id,
            amount: { currency: 'EUR', minor: payment.amountMinor },
            transactionId: payment.transactionId,
            description: `crash test payment ${payment.index}`,
          })
        ).jwe;
        payment.merchantAttempts += 1;
        let status: number;
        let text: string;
        let retryAfter: string | null;
        try {
          const response = await fetch(`${platform.gatewayUrl}/payments`, {
            method: 'POST',
            body: payment.jwe,
            headers: { 'content-type': 'application/jose', 'idempotency-key': payment.idempotencyKey },
            signal: AbortSignal.timeout(requestDeadlineMs),
          });
          status = response.status;
          retryAfter = response.headers.get('retry-after');
          text = await response.text();
        } catch (error) {
          payment.lastError = `request: ${describeError(error)}`;
          return false;
        }
        let body: { paymentId?: string; status?: string; error?: { code?: string } } | undefined;
        try {
          body = JSON.parse(text) as typeof body;
        } catch {
          payment.lastError = `request: HTTP ${status} ${text.slice(0, 200)}`;
          return false;
        }
        if (status >= 200 && status < 300) {
          if (status !== 201 || body?.paymentId !== payment.transactionId)
            violations.push(`${label(payment)}: the merchant's request got ${status} ${text.slice(0, 200)}`);
          payment.accepted = { paymentId: String(body?.paymentId), status: String(body?.status) };
          progress += 1;
          return true;
        }
        const code = body?.error?.code;
        payment.lastError = `request: HTTP ${status} ${code ?? text.slice(0, 200)}`;
        if (code === 'IDEMPOTENCY_REQUEST_IN_PROGRESS') {
          // Wrong after a crash: the key's claim commits with the payment, so a retry gets the answer.
          payment.inProgressAnswers += 1;
          return false;
        }
        if (code === 'REQUEST_RATE_LIMITED') {
          // The gateway's own answer says when to come back (part of the protocol, not a wait for readiness).
          const seconds = Number(retryAfter ?? '1');
          await new Promise((done) =>
            setTimeout(done, Math.min(retryAfterMaxMs, Number.isFinite(seconds) ? seconds * 1000 : 1000)),
          );
          return false;
        }
        if (
          status >= 500 ||
          code === undefined ||
          !isErrorCode(code) ||
          errorCategoryOf(code) === 'retryable'
        )
          return false;
        payment.merchantRefusal = code;
        progress += 1;
        return true;
      }

      /** One try of the customer's confirmation: the wallet resends the same signed confirmation. */
      async function confirmOnce(payment: Payment, view: PaymentRequestView): Promise<boolean> {
        payment.confirmAttempts += 1;
        try {
          payment.receipt = await payment.customer.wallet.confirm(view, payment.customer.pin, {
            waitMs: 5_000,
          });
        } catch (error) {
          payment.lastError = `confirmation: ${describeError(error)}`;
          if (!isMpayError(error) || errorCategoryOf(error.code) === 'retryable') return false;
          payment.customerRefusal = error.code;
        }
        progress += 1;
        return true;
      }

      async function pay(payment: Payment): Promise<void> {
        await untilDone(`the merchant's request of ${label(payment)} to be answered`, () =>
          requestOnce(payment),
        );
        if (payment.accepted === undefined) return;
        let polls = 0;
        let view: PaymentRequestView | undefined;
        await untilDone(
          `the device of ${payment.customer.id} to show ${label(payment)}`,
          async () => {
            view = payment.customer.device.views.get(payment.transactionId);
            if (view !== undefined) {
              progress += 1;
              return true;
            }
            polls += 1;
            if (polls % 8 !== 0) return false;
            // Not shown yet: it may have closed meanwhile (expired); then there is nothing to confirm.
            const status = await statusOf(payment.transactionId).catch(() => 'unreachable');
            if (!finalStatuses.includes(status)) return false;
            payment.closedUnseen = status;
            return true;
          },
          250,
        );
        if (view === undefined) return;
        const shown = view;
        await untilDone(`the confirmation of ${label(payment)} to be answered`, () =>
          confirmOnce(payment, shown),
        );
      }

      let started = 0;
      const more = () => started < paymentsMin || (kills < killsPlanned && started < paymentsMax);
      async function lane(): Promise<void> {
        while (more()) {
          const index = started;
          started += 1;
          const payment: Payment = {
            index,
            customer: customers[index % customers.length]!,
            amountMinor: BigInt(100 + ((index * 7919) % 200)),
            transactionId: randomUUID(),
            idempotencyKey: `crash-payment-${index}-${randomUUID()}`,
            merchantAttempts: 0,
            confirmAttempts: 0,
            inProgressAnswers: 0,
          };
          payments.push(payment);
          await pay(payment);
        }
      }

      async function crashes(): Promise<void> {
        while (kills < killsPlanned && !lanesDone) {
          const target = progress + randomInt(1, 5);
          await waitFor(() => progress >= target || lanesDone, {
            deadlineMs: paymentSettledDeadlineMs,
            what: `payments to make progress before kill ${kills + 1}`,
            intervalMs: 20,
            detail: openPayments,
          });
          if (lanesDone) return;
          // Not a wait for anything: the moment of the crash, somewhere inside the requests now in flight.
          await new Promise((done) => setTimeout(done, randomInt(killJitterMaxMs + 1)));
          await platform.kill();
          kills += 1;
          await platform.start();
        }
      }

      const lanesRun = Promise.all(Array.from({ length: lanes }, lane)).finally(() => {
        lanesDone = true;
      });
      await Promise.all([lanesRun, crashes()]);
      for (const customer of customers) await customer.device.stop();
      expect(kills).toBe(killsPlanned);

      // Every payment final at the gateway ('unknown': none was made, right only for a refused request).
      await waitFor(
        async () => {
          for (const payment of payments) {
            if (payment.finalStatus !== undefined) continue;
            const status = await statusOf(payment.transactionId);
            if (finalStatuses.includes(status) || status === 'unknown') payment.finalStatus = status;
          }
          return payments.every((payment) => payment.finalStatus !== undefined);
        },
        {
          deadlineMs: paymentSettledDeadlineMs,
          what: 'every payment to be final at the gateway',
          intervalMs: 500,
          detail: () =>
            payments
              .filter((payment) => payment.finalStatus === undefined)
              .map((payment) => label(payment))
              .join(', '),
        },
      );

      for (const payment of payments)
        if (payment.inProgressAnswers > 0)
          violations.push(
            `${label(payment)}: ${payment.inProgressAnswers} of ${payment.merchantAttempts} merchant requests got 409 IDEMPOTENCY_REQUEST_IN_PROGRESS`,
          );
      const problems: string[] = [...violations];
      const completed = payments.filter((payment) => payment.finalStatus === 'completed');
      for (const payment of payments) {
        const status = payment.finalStatus;
        if (payment.accepted !== undefined && status === 'unknown')
          problems.push(`${label(payment)}: accepted (201), but the gateway does not know it`);
        if (payment.merchantRefusal !== undefined && status !== 'unknown')
          problems.push(
            `${label(payment)}: the merchant's request was refused (${payment.merchantRefusal}), yet the payment exists (${status})`,
          );
        if (payment.receipt !== undefined) {
          if (status !== 'completed')
            problems.push(`${label(payment)}: a receipt, but the payment is ${status}`);
          const receiptStatus = (payment.receipt.payload.receipt as { status?: string } | undefined)?.status;
          if (receiptStatus !== 'completed')
            problems.push(`${label(payment)}: the receipt says ${String(receiptStatus)}`);
        } else if (status === 'completed') {
          problems.push(
            `${label(payment)}: completed, but the customer got no receipt (${payment.customerRefusal ?? payment.closedUnseen})`,
          );
        }
      }

      // Exactly once at each bank: the customer's hold posted and the merchant credited for each
      // completed payment, nothing at all for the others (or a hold released).
      for (const payment of payments) {
        const atX = await transferOrUndefined(banks.xbank, payment.transactionId);
        const atY = await transferOrUndefined(banks.ybank, interbankCreditId('xbank', payment.transactionId));
        const amount = payment.amountMinor.toString();
        if (payment.finalStatus === 'completed') {
          if (atX?.status !== 'posted' || atX.amount !== amount)
            problems.push(`${label(payment)}: completed, but at xbank ${JSON.stringify(atX)}`);
          if (atY?.kind !== 'posted' || atY.amount !== amount)
            problems.push(`${label(payment)}: completed, but at ybank ${JSON.stringify(atY)}`);
        } else {
          if (atX !== undefined && atX.status !== 'voided')
            problems.push(`${label(payment)}: ${payment.finalStatus}, but at xbank ${JSON.stringify(atX)}`);
          if (atY !== undefined)
            problems.push(`${label(payment)}: ${payment.finalStatus}, but at ybank ${JSON.stringify(atY)}`);
        }
      }
      const after = await balances();
      problems.push(...after.holds);
      let paid = 0n;
      for (const [index, customer] of customers.entries()) {
        const owed = completed
          .filter((payment) => payment.customer === customer)
          .reduce((sum, payment) => sum + payment.amountMinor, 0n);
        paid += owed;
        const debited = before.customers[index]! - after.customers[index]!;
        if (debited !== owed)
          problems.push(`${customer.id}: debited ${debited} at xbank, completed payments ${owed}`);
      }
      if (after.merchant - before.merchant !== paid)
        problems.push(
          `merchant: credited ${after.merchant - before.merchant} at ybank, completed payments ${paid}`,
        );

      const audit = await runMpay(['audit', '--data', folder], platform.env, serviceStartDeadlineMs);
      if (audit.code !== 0) problems.push(`mpay audit exited ${audit.code}:\n${audit.output}`);

      const policy = await logPolicyOf(folder);
      for (const payment of completed) {
        try {
          const verified = await verifyReceipt(await evidenceOf(payment.transactionId), policy);
          if (verified.receipt.transactionId !== payment.transactionId)
            problems.push(`${label(payment)}: the evidence names ${verified.receipt.transactionId}`);
          if (payment.receipt !== undefined && !verified.receipt.messages.includes(payment.receipt.jws))
            problems.push(`${label(payment)}: the logged messages lack the receipt the customer got`);
        } catch (error) {
          problems.push(`${label(payment)}: evidence: ${describeError(error)}`);
        }
      }

      const others = new Map<string, number>();
      for (const payment of payments)
        if (payment.finalStatus !== 'completed')
          others.set(payment.finalStatus!, (others.get(payment.finalStatus!) ?? 0) + 1);
      const otherText = [...others].map(([status, count]) => `${count} ${status}`).join(', ') || '0 other';
      const retried = (attempts: (payment: Payment) => number) =>
        payments.reduce((sum, payment) => sum + Math.max(0, attempts(payment) - 1), 0);
      const requestRetries = retried((payment) => payment.merchantAttempts);
      const confirmationRetries = retried((payment) => payment.confirmAttempts);
      const backend = database ? `PostgreSQL, ${database.description}` : 'PGlite';
      console.log(
        `platform crash test (${backend}): ${kills} kills, ${platform.starts} starts, ${payments.length} payments: ` +
          `${completed.length} completed, ${otherText}; retried ${requestRetries} merchant requests and ` +
          `${confirmationRetries} confirmations; ${violations.length} violations; ${Math.round((Date.now() - began) / 1000)} s`,
      );
      // The kills must have cut requests short, or this test proves nothing.
      expect(requestRetries + confirmationRetries).toBeGreaterThan(0);
      expect(problems).toEqual([]);
      expect(completed.length).toBeGreaterThan(0);
    },
    runBackstopMs,
  );
});
