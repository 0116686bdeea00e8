/**
 * Payments driven against a platform whose services are killed under them
 * (`mpay chaos`, and the crash tests): the merchant retries its request with
 * the same Idempotency-Key and the same bytes, the customer's wallet resends
 * its signed confirmation, until each gets a final answer; then the checks
 * that every completed payment moved its amount exactly once, that nothing
 * else moved, and that its evidence verifies under the log's and the
 * witness's keys.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { interbankCreditId } from '@mpay/bank';
import { generateEncryptionKeyPair, generateSigningKeyPair, type PrivateJwk } from '@mpay/envelope';
import { requestText, signRequest, type TextAnswer } from '@mpay/http-client';
import { receiptBytesMax, verifyReceipt } from '@mpay/merkle';
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
import { demoParties } from '../platform/seed.ts';
import { bankOperator, type Deployment, type OperatorClient } from './deployment.ts';
import { logPolicyOf } from './evidence.ts';

/** The platform as the payments see it: up or not, and how many times a service (re)started. */
export interface PlatformAvailability {
  /** Resolves once every service is up. */
  whenUp(): Promise<void>;
  readonly isUp: boolean;
  /** Grows at every (re)start of a service. */
  readonly generation: number;
}

export interface PaymentDriverLimits {
  /** One protocol step (a request answered, a request shown, a confirmation answered) while everything is up. */
  readonly stepDeadlineMs: number;
  /** One HTTP request on loopback. */
  readonly requestTimeoutMs: number;
  /** Longest Retry-After honoured on a 429 (the gateway's rate window is 60 s). */
  readonly retryAfterMaxMs: number;
  /** The log to put a completed payment under a cosigned checkpoint. */
  readonly evidenceDeadlineMs: number;
  /** Restarts a step may outlive before it counts as stuck (bounds every loop). */
  readonly restartsMax: number;
  /**
   * Longest the platform may stay down at once (a service restarting) while a step waits: past it,
   * or at once when a start failed or the platform was closed, the step fails instead of waiting.
   */
  readonly platformDownMaxMs: number;
}

export const finalStatuses: readonly string[] = ['completed', 'declined', 'expired', 'failed', 'cancelled'];

export interface Customer {
  readonly id: string;
  readonly account: string;
  readonly pin: string;
  readonly wallet: Wallet;
  readonly device: Device;
}

export interface Payment {
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
  /** The gateway's status after the run ('unknown': it has none). */
  finalStatus?: string;
  merchantAttempts: number;
  confirmAttempts: number;
  /** 409 IDEMPOTENCY_REQUEST_IN_PROGRESS answers to the merchant's retries. */
  inProgressAnswers: number;
  lastError?: string;
}

export function describeError(error: unknown): string {
  if (isMpayError(error)) {
    // A transport failure wrapped by the client (SERVICE_UNAVAILABLE): what failed underneath, a reset or a timeout.
    const cause = error.cause instanceof Error ? `: ${describeError(error.cause)}` : '';
    return `${error.code}${error.detail ? ` (${error.detail})` : ''}${cause}`;
  }
  const cause =
    error instanceof Error && error.cause instanceof Error ? ` (${describeError(error.cause)})` : '';
  return error instanceof Error ? `${error.name}: ${error.message}${cause}` : String(error);
}

const pause = (ms: number) => new Promise((done) => setTimeout(done, ms));
/** The most of a payment request's answer read (the gateway's are well under 4 KiB). */
const answerBytesMax = 64 * 1024;

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/** Settles as `promise` does, or fails naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`timed out after ${ms / 1000} s waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The customer's device: one event stream (the wallet's paymentRequests),
 * opened again whenever it ends; on connect the gateway sends every request
 * still waiting for the customer, so none is lost.
 */
export class Device {
  readonly views = new Map<string, PaymentRequestView>();
  private readonly abort = new AbortController();
  /** Resolves at `stop`: a wait for the platform ends there, even if the platform never comes back. */
  private readonly aborted = new Promise<void>((done) =>
    this.abort.signal.addEventListener('abort', () => done(), { once: true }),
  );
  private running: Promise<void> | undefined;
  private stopped = false;
  lastError = '';
  /** Whether it waits for the platform to be up again between two event streams (for the reports and tests). */
  waitingForPlatform = false;

  constructor(
    private readonly wallet: Wallet,
    private readonly pin: string,
    private readonly platform: PlatformAvailability,
  ) {}

  start(): void {
    this.running ??= this.listen();
  }

  private async listen(): Promise<void> {
    while (!this.stopped) {
      this.waitingForPlatform = !this.platform.isUp;
      try {
        await Promise.race([this.platform.whenUp(), this.aborted]);
      } catch {
        return; // the platform was closed, or a service did not start again
      } finally {
        this.waitingForPlatform = false;
      }
      if (this.stopped) return;
      try {
        for await (const view of this.wallet.paymentRequests(this.pin, this.abort.signal))
          this.views.set(view.paymentId, view);
      } catch (error) {
        this.lastError = describeError(error);
      }
      // The stream ended (a kill, or the gateway closed it): open it again shortly.
      if (!this.stopped) await pause(100 + Math.floor(Math.random() * 200));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.running;
  }
}

/** Balances at xbank (customers) and ybank (merchant), and any hold still open. */
export interface Balances {
  readonly customers: bigint[];
  readonly merchant: bigint;
  readonly holds: string[];
}

/** How the payments went, for the summary. */
export interface PaymentTally {
  readonly started: number;
  readonly byStatus: Record<string, number>;
  readonly merchantRefusals: number;
  readonly merchantRetries: number;
  readonly confirmationRetries: number;
  readonly inProgressAnswers: number;
}

/**
 * The parties of one platform (read from its data folder) and the payments
 * driven against it. `open`, then `enrolCustomer`/`addDemoCustomer`, then
 * `pay` in as many lanes as wanted, `settle`, and the checks.
 */
export class PaymentDriver {
  readonly customers: Customer[] = [];
  readonly payments: Payment[] = [];
  /** Wrong answers seen on the way: each one a platform bug. */
  readonly violations: string[] = [];
  /** Protocol steps answered (a merchant request, a request shown on the device, a confirmation). */
  progress = 0;
  /**
   * Merchant requests and customer confirmations on the wire right now: a kill that lands while one is
   * in flight cuts it short (`mpay chaos` waits for one before each kill).
   */
  attemptsInFlight = 0;

  private constructor(
    readonly dataDir: string,
    readonly gatewayUrl: string,
    private readonly platform: PlatformAvailability,
    private readonly limits: PaymentDriverLimits,
    readonly deployment: Deployment,
    private readonly fsp: FspTrust,
    private readonly merchant: MerchantClient,
    private readonly merchantKey: PrivateJwk,
    readonly banks: Readonly<Record<'xbank' | 'ybank', OperatorClient>>,
    private readonly pinServer: { url: string; custodyId: string },
  ) {}

  /** Reads the platform's deployment, the merchant's and the banks' operators' keys from the data folder. */
  static async open(
    dataDir: string,
    platform: PlatformAvailability,
    limits: PaymentDriverLimits,
  ): Promise<PaymentDriver> {
    const deployment = await readJson<Deployment>(join(dataDir, 'deployment.json'));
    const fsp = await fetchFspTrust(deployment.gateway);
    const merchantKeys = await readJson<{ signing: { privateJwk: PrivateJwk } }>(
      join(dataDir, 'parties', `${demoParties.merchant.id}.json`),
    );
    const merchantKey = merchantKeys.signing.privateJwk;
    const merchant = new MerchantClient({
      gatewayUrl: deployment.gateway,
      merchantId: demoParties.merchant.id,
      signingKey: merchantKey,
      fsp,
    });
    const banks = {} as Record<'xbank' | 'ybank', OperatorClient>;
    for (const bank of deployment.banks) {
      const operator = await readJson<{ keys: { signing: { privateJwk: PrivateJwk } } }>(
        join(dataDir, 'keys', `${bank.id}-operator.json`),
      );
      banks[bank.id as 'xbank' | 'ybank'] = bankOperator(bank, operator.keys.signing.privateJwk);
    }
    const john = await readJson<WalletKeystoreData>(
      join(dataDir, 'parties', `${demoParties.customer.id}.wallet-v2.json`),
    );
    return new PaymentDriver(
      dataDir,
      deployment.gateway,
      platform,
      limits,
      deployment,
      fsp,
      merchant,
      merchantKey,
      banks,
      { url: john.pinServer.url, custodyId: john.pinServer.custodyId },
    );
  }

  private addCustomer(id: string, account: string, keystore: WalletKeystoreData, pin: string): void {
    const wallet = new Wallet({ gatewayUrl: this.gatewayUrl, keystore, fsp: this.fsp });
    const device = new Device(wallet, pin, this.platform);
    this.customers.push({ id, account, pin, wallet, device });
  }

  /** The demo customer of the seed (john.bernard@person.xbank) as one of the payers. */
  async addDemoCustomer(): Promise<void> {
    const john = await readJson<WalletKeystoreData>(
      join(this.dataDir, 'parties', `${demoParties.customer.id}.wallet-v2.json`),
    );
    this.addCustomer(demoParties.customer.id, demoParties.customer.account, john, demoParties.customer.pin);
  }

  /**
   * Another customer of xbank, set up as the demo seed sets up the demo
   * customer, through the public APIs only: an account with an opening
   * balance, an enrolment code, a device key bound by the bank, the PIN at
   * the platform's custody, and the registration at the FSP.
   */
  async enrolCustomer(id: string, deviceId: string, openingMinor: bigint): Promise<void> {
    const account = randomUUID();
    const pin = '1357';
    const xbank = this.banks.xbank;
    await xbank.post('/accounts', { id: account, owner: id, currency: 'EUR', kind: 'customer' });
    await xbank.post('/transfers', {
      id: randomUUID(),
      debitAccountId: demoParties.bank.fundingAccount,
      creditAccountId: account,
      amount: openingMinor.toString(),
      currency: 'EUR',
      reference: 'opening balance',
    });
    const { code } = await xbank.post<{ code: string }>('/enrolment-codes', {
      partyId: id,
      accountIds: [account],
    });
    const bankUrl = this.deployment.banks.find((bank) => bank.id === 'xbank')?.url;
    if (bankUrl === undefined) throw new Error('assertion failed: the deployment lists xbank');
    const keys = {
      signing: await generateSigningKeyPair('ES256'),
      encryption: await generateEncryptionKeyPair(),
    };
    const enrolment = await enrolDevice({ bankUrl, bankId: 'xbank', partyId: id, code }, deviceId, keys);
    const keystore = await createKeystore({
      partyId: id,
      pin,
      keys,
      binding: enrolment.binding,
      pinServer: this.pinServer,
    });
    await registerWithFsp(this.gatewayUrl, enrolment, id.split('@')[0] ?? id);
    this.addCustomer(id, account, keystore, pin);
  }

  startDevices(): void {
    for (const customer of this.customers) customer.device.start();
  }

  async stopDevices(): Promise<void> {
    for (const customer of this.customers) await customer.device.stop();
  }

  async balances(): Promise<Balances> {
    const holds: string[] = [];
    const customers: bigint[] = [];
    for (const customer of this.customers) {
      const account = await this.banks.xbank.get<{ balance: string; available: string }>(
        `/accounts/${customer.account}`,
      );
      if (account.available !== account.balance)
        holds.push(`${customer.id}: available ${account.available} ≠ balance ${account.balance}`);
      customers.push(BigInt(account.balance));
    }
    const merchantAccount = await this.banks.ybank.get<{ balance: string }>(
      `/accounts/${demoParties.merchant.account}`,
    );
    return { customers, merchant: BigInt(merchantAccount.balance), holds };
  }

  /** A new payment of `customer`, recorded for the checks; `pay` drives it. */
  newPayment(customer: Customer, amountMinor: bigint, label: string): Payment {
    const payment: Payment = {
      index: this.payments.length,
      customer,
      amountMinor,
      transactionId: randomUUID(),
      idempotencyKey: `${label}-${this.payments.length}-${randomUUID()}`,
      merchantAttempts: 0,
      confirmAttempts: 0,
      inProgressAnswers: 0,
    };
    this.payments.push(payment);
    return payment;
  }

  label(payment: Payment): string {
    return `payment ${payment.index} (${payment.transactionId})`;
  }

  /** The payments with no final answer yet, for the report of a step that ran out of time. */
  openPayments(): string {
    return this.payments
      .filter((p) => p.merchantRefusal === undefined && p.receipt === undefined && !p.customerRefusal)
      .filter((p) => p.closedUnseen === undefined)
      .map(
        (p) =>
          `${this.label(p)}: ${p.accepted ? 'accepted' : 'not accepted'}, ${p.merchantAttempts} request(s), ${p.confirmAttempts} confirmation(s), last error ${p.lastError ?? '-'}`,
      )
      .slice(0, 20)
      .join('\n');
  }

  /**
   * Calls `attempt` until it says the step is done. Attempts go on while a
   * service is down; the step's deadline counts only while every service is
   * up, and starts again after each restart, so a slow restart on a loaded
   * machine is never the step's fault.
   */
  async untilDone(what: string, attempt: () => Promise<boolean>, intervalMs = 100): Promise<void> {
    let generation = this.platform.generation;
    let restarts = 0;
    let deadline = Date.now() + this.limits.stepDeadlineMs;
    // Since when the platform is down, and in which generation: a start in between (even one this
    // loop did not see up, while an attempt ran) begins a new down time.
    let down: { since: number; generation: number } | undefined;
    for (;;) {
      if (this.platform.isUp) down = undefined;
      else {
        if (down?.generation !== this.platform.generation)
          down = { since: Date.now(), generation: this.platform.generation };
        if (Date.now() - down.since > this.limits.platformDownMaxMs)
          throw new Error(
            `the platform stayed down for more than ${this.limits.platformDownMaxMs / 1000} s while waiting for ${what}`,
          );
        // A start that failed, or the platform closed: nothing will bring it back, so no step can end.
        await Promise.race([this.platform.whenUp(), pause(0)]).catch((error: unknown) => {
          throw new Error(
            `the platform will not come back (${describeError(error)}) while waiting for ${what}`,
          );
        });
      }
      if (!this.platform.isUp || this.platform.generation !== generation) {
        if (this.platform.generation !== generation) {
          restarts += 1;
          if (restarts > this.limits.restartsMax)
            throw new Error(`assertion failed: ${what} outlived ${this.limits.restartsMax} restarts`);
          generation = this.platform.generation;
        }
        deadline = Date.now() + this.limits.stepDeadlineMs;
      }
      const done = await within(attempt(), this.limits.stepDeadlineMs, what);
      if (done) return;
      if (Date.now() > deadline)
        throw new Error(
          `timed out after ${this.limits.stepDeadlineMs / 1000} s waiting for ${what}\n${this.openPayments()}`,
        );
      await pause(intervalMs);
    }
  }

  /** One try of the merchant's request: the same bytes under the same Idempotency-Key every time. */
  async requestOnce(payment: Payment): Promise<boolean> {
    payment.jwe ??= (
      await this.merchant.buildPaymentRequest({
        customer: payment.customer.id,
        amount: { currency: 'EUR', minor: payment.amountMinor },
        transactionId: payment.transactionId,
        description: `payment ${payment.index} under faults`,
      })
    ).jwe;
    payment.merchantAttempts += 1;
    let answer: TextAnswer;
    this.attemptsInFlight += 1;
    try {
      // One deadline for the head and the body, the body read no further than an answer can be.
      answer = await requestText(`${this.gatewayUrl}/payments`, {
        method: 'POST',
        body: payment.jwe,
        contentType: 'application/jose',
        headers: { 'idempotency-key': payment.idempotencyKey },
        timeoutMs: this.limits.requestTimeoutMs,
        responseBytesMax: answerBytesMax,
      });
    } catch (error) {
      payment.lastError = `request: ${describeError(error)}`;
      return false;
    } finally {
      this.attemptsInFlight -= 1;
    }
    const { status, text } = answer;
    let body: { paymentId?: string; status?: string; error?: { code?: string } } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      payment.lastError = `request: HTTP ${status} ${text.slice(0, 200)}`;
      return false;
    }
    if (status >= 200 && status < 300) {
      if (status !== 201 || body?.paymentId !== payment.transactionId)
        this.violations.push(
          `${this.label(payment)}: the merchant's request got ${status} ${text.slice(0, 200)}`,
        );
      payment.accepted = { paymentId: String(body?.paymentId), status: String(body?.status) };
      this.progress += 1;
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
      // The gateway's own answer says when to come back (part of the protocol).
      const seconds = Number(answer.header('retry-after') ?? '1');
      await pause(Math.min(this.limits.retryAfterMaxMs, Number.isFinite(seconds) ? seconds * 1000 : 1000));
      return false;
    }
    if (status >= 500 || code === undefined || !isErrorCode(code) || errorCategoryOf(code) === 'retryable')
      return false;
    payment.merchantRefusal = code;
    this.progress += 1;
    return true;
  }

  /** One try of the customer's confirmation: the wallet resends the same signed confirmation. */
  async confirmOnce(payment: Payment, view: PaymentRequestView): Promise<boolean> {
    payment.confirmAttempts += 1;
    this.attemptsInFlight += 1;
    try {
      payment.receipt = await payment.customer.wallet.confirm(view, payment.customer.pin, { waitMs: 5_000 });
    } catch (error) {
      payment.lastError = `confirmation: ${describeError(error)}`;
      if (!isMpayError(error) || errorCategoryOf(error.code) === 'retryable') return false;
      payment.customerRefusal = error.code;
    } finally {
      this.attemptsInFlight -= 1;
    }
    this.progress += 1;
    return true;
  }

  /** The payment from the merchant's request to the customer's confirmation, each step until answered. */
  async pay(payment: Payment): Promise<void> {
    const label = this.label(payment);
    await this.untilDone(`the merchant's request of ${label} to be answered`, () =>
      this.requestOnce(payment),
    );
    if (payment.accepted === undefined) return;
    let polls = 0;
    let view: PaymentRequestView | undefined;
    await this.untilDone(
      `the device of ${payment.customer.id} to show ${label}`,
      async () => {
        view = payment.customer.device.views.get(payment.transactionId);
        if (view !== undefined) {
          this.progress += 1;
          return true;
        }
        polls += 1;
        if (polls % 8 !== 0) return false;
        // Not shown yet: it may have closed meanwhile (expired); then there is nothing to confirm.
        const status = await this.statusOf(payment.transactionId).catch(() => 'unreachable');
        if (!finalStatuses.includes(status)) return false;
        payment.closedUnseen = status;
        return true;
      },
      250,
    );
    if (view === undefined) return;
    const shown = view;
    await this.untilDone(`the confirmation of ${label} to be answered`, () =>
      this.confirmOnce(payment, shown),
    );
  }

  async statusOf(paymentId: string): Promise<string> {
    try {
      return String((await this.merchant.paymentStatus(paymentId)).status);
    } catch (error) {
      if (isMpayError(error, 'PAYMENT_UNKNOWN')) return 'unknown';
      throw error;
    }
  }

  /** Waits until every payment is final at the gateway ('unknown': none was made, right only for a refusal). */
  async settle(): Promise<void> {
    await this.untilDone(
      'every payment to be final at the gateway',
      async () => {
        for (const payment of this.payments) {
          if (payment.finalStatus !== undefined) continue;
          const status = await this.statusOf(payment.transactionId).catch(() => 'unreachable');
          if (finalStatuses.includes(status) || status === 'unknown') payment.finalStatus = status;
        }
        return this.payments.every((payment) => payment.finalStatus !== undefined);
      },
      500,
    );
  }

  private async transferOrUndefined(client: OperatorClient, id: string) {
    try {
      return await client.get<{ kind: string; amount: string; status?: string }>(`/transfers/${id}`);
    } catch (error) {
      if (isMpayError(error, 'TRANSFER_UNKNOWN')) return undefined;
      throw error;
    }
  }

  /**
   * What the answers and the banks' books say against each other, after
   * `settle`: every answer agrees with the final status; each completed
   * payment posted its amount once at xbank and once at ybank, the others
   * nothing (or a released hold); each customer was debited and the merchant
   * credited exactly the sum of the completed payments; no hold is left.
   */
  async checkMoney(before: Balances): Promise<string[]> {
    const problems: string[] = [...this.violations];
    for (const payment of this.payments) {
      const label = this.label(payment);
      if (payment.inProgressAnswers > 0)
        problems.push(
          `${label}: ${payment.inProgressAnswers} of ${payment.merchantAttempts} merchant requests got 409 IDEMPOTENCY_REQUEST_IN_PROGRESS`,
        );
      const status = payment.finalStatus;
      if (payment.accepted !== undefined && status === 'unknown')
        problems.push(`${label}: accepted (201), but the gateway does not know it`);
      if (payment.merchantRefusal !== undefined && status !== 'unknown')
        problems.push(
          `${label}: the merchant's request was refused (${payment.merchantRefusal}), yet it is ${status}`,
        );
      if (payment.receipt !== undefined) {
        if (status !== 'completed') problems.push(`${label}: a receipt, but the payment is ${status}`);
        const receiptStatus = (payment.receipt.payload.receipt as { status?: string } | undefined)?.status;
        if (receiptStatus !== 'completed')
          problems.push(`${label}: the receipt says ${String(receiptStatus)}`);
      } else if (status === 'completed') {
        problems.push(
          `${label}: completed, but the customer got no receipt (${payment.customerRefusal ?? payment.closedUnseen})`,
        );
      }
      const atX = await this.transferOrUndefined(this.banks.xbank, payment.transactionId);
      const atY = await this.transferOrUndefined(
        this.banks.ybank,
        interbankCreditId('xbank', payment.transactionId),
      );
      const amount = payment.amountMinor.toString();
      if (status === 'completed') {
        if (atX?.status !== 'posted' || atX.amount !== amount)
          problems.push(`${label}: completed, but at xbank ${JSON.stringify(atX)}`);
        if (atY?.kind !== 'posted' || atY.amount !== amount)
          problems.push(`${label}: completed, but at ybank ${JSON.stringify(atY)}`);
      } else {
        if (atX !== undefined && atX.status !== 'voided')
          problems.push(`${label}: ${status}, but at xbank ${JSON.stringify(atX)}`);
        if (atY !== undefined) problems.push(`${label}: ${status}, but at ybank ${JSON.stringify(atY)}`);
      }
    }
    const after = await this.balances();
    problems.push(...after.holds);
    const completed = this.payments.filter((payment) => payment.finalStatus === 'completed');
    let paid = 0n;
    for (const [index, customer] of this.customers.entries()) {
      const owed = completed
        .filter((payment) => payment.customer === customer)
        .reduce((sum, payment) => sum + payment.amountMinor, 0n);
      paid += owed;
      const debited = (before.customers[index] ?? 0n) - (after.customers[index] ?? 0n);
      if (debited !== owed)
        problems.push(`${customer.id}: debited ${debited} at xbank, completed payments ${owed}`);
    }
    if (after.merchant - before.merchant !== paid)
      problems.push(
        `merchant: credited ${after.merchant - before.merchant} at ybank, completed payments ${paid}`,
      );
    return problems;
  }

  /**
   * The payment's evidence file, as the merchant (a party of the payment) asks for it, waiting
   * until `end` (Date.now() ms) for the log to prove it.
   */
  async evidenceOf(paymentId: string, end: number): Promise<string> {
    const path = `/payments/${paymentId}/evidence`;
    let last = '';
    for (;;) {
      const authorization = await signRequest(
        { method: 'GET', path, body: '' },
        { issuer: demoParties.merchant.id, audience: this.fsp.id, key: this.merchantKey },
      );
      try {
        const { status, text } = await requestText(`${this.gatewayUrl}${path}`, {
          headers: { authorization },
          timeoutMs: this.limits.requestTimeoutMs,
          responseBytesMax: receiptBytesMax,
        });
        if (status === 200) return text;
        if (status !== 202) throw new Error(`evidence of ${paymentId}: HTTP ${status} ${text.slice(0, 200)}`);
        last = 'HTTP 202 (not yet under a cosigned checkpoint)';
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('evidence of')) throw error;
        last = describeError(error);
      }
      if (Date.now() > end)
        throw new Error(
          `timed out after ${this.limits.evidenceDeadlineMs / 1000} s waiting for the log to prove ${paymentId} (${last})`,
        );
      await pause(250);
    }
  }

  /** Every completed payment's evidence verifies under the log's and the witness's keys and holds its receipt. */
  async checkEvidence(): Promise<{ verified: number; problems: string[] }> {
    const policy = await logPolicyOf(this.dataDir);
    const problems: string[] = [];
    let verified = 0;
    // The log proves the payments together (one checkpoint covers every entry before it): each
    // payment's evidence is waited for until the deadline counted from the last one the log proved,
    // and once it has run out the rest are not waited for one by one (a log that proves nothing more
    // costs one deadline, not one per payment; a long run's many proofs are never cut short).
    let end = Date.now() + this.limits.evidenceDeadlineMs;
    const completed = this.payments.filter((p) => p.finalStatus === 'completed');
    for (const [index, payment] of completed.entries()) {
      const label = this.label(payment);
      if (Date.now() > end) {
        problems.push(
          `${completed.length - index} completed payment(s) from ${label} on not checked: the log proved none for ${this.limits.evidenceDeadlineMs / 1000} s`,
        );
        break;
      }
      try {
        const evidence = await this.evidenceOf(payment.transactionId, end);
        end = Date.now() + this.limits.evidenceDeadlineMs;
        const result = await verifyReceipt(evidence, policy);
        if (result.receipt.transactionId !== payment.transactionId)
          problems.push(`${label}: the evidence names ${result.receipt.transactionId}`);
        else if (payment.receipt !== undefined && !result.receipt.messages.includes(payment.receipt.jws))
          problems.push(`${label}: the logged messages lack the receipt the customer got`);
        else verified += 1;
      } catch (error) {
        problems.push(`${label}: evidence: ${describeError(error)}`);
      }
    }
    return { verified, problems };
  }

  tally(): PaymentTally {
    const byStatus: Record<string, number> = {};
    for (const payment of this.payments) {
      const status = payment.finalStatus ?? 'open';
      byStatus[status] = (byStatus[status] ?? 0) + 1;
    }
    const retried = (attempts: (payment: Payment) => number) =>
      this.payments.reduce((sum, payment) => sum + Math.max(0, attempts(payment) - 1), 0);
    return {
      started: this.payments.length,
      byStatus,
      merchantRefusals: this.payments.filter((payment) => payment.merchantRefusal !== undefined).length,
      merchantRetries: retried((payment) => payment.merchantAttempts),
      confirmationRetries: retried((payment) => payment.confirmAttempts),
      inProgressAnswers: this.payments.reduce((sum, payment) => sum + payment.inProgressAnswers, 0),
    };
  }
}
