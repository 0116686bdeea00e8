import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import {
  encryptTo,
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  issueKeyBinding,
  type KeyBinding,
  signPayload,
  verifyKeyBinding,
} from '@mpay/envelope';
import { createMetricsRegistry, type MetricsRegistry } from '@mpay/http-server';
import {
  assessSecurity,
  createAmount,
  customerSignedContent,
  defaultSecurityPolicy,
  fspSignedContent,
  type ImsMessage,
  merchantSignedContent,
  validateImsMessage,
} from '@mpay/protocol';
import { type Database, migrate, openTestDatabase, readMigrations, type Sql } from '@mpay/storage';
import type { FspIdentity, GatewayContext, Logger } from './context.ts';
import { DeviceHub } from './devices/hub.ts';
import { createGatewayLimits, type GatewayLimits } from './limits.ts';
import { enqueueLogEntry } from './log/outbox.ts';
import { outboxKinds } from './outbox/backlog.ts';
import { createPaymentStatistics, observeRequestAfterCommit } from './payments/statistics.ts';
import { insertPayment } from './payments/store.ts';
import { applyEventIn } from './payments/transition.ts';
import { type BankRecord, upsertBank } from './registry/banks.ts';
import { storeCustomer, type VerifiedCustomer } from './registry/bindings.ts';
import { upsertParty } from './registry/parties.ts';
import { gatewayMigrationsFolder } from './service.ts';

/**
 * Test-only building blocks for the gateway's unit tests: a migrated test
 * database (PGlite, or PostgreSQL when DATABASE_URL is set), a context with a
 * clock the test moves, parties registered through the registry's own
 * functions with real keys, payments driven through the store and the step
 * table, and a tiny HTTP server standing in for a bank or a merchant's webhook.
 */

export const testFspId = 'fsp.mpay';

export async function openGatewayDatabase(): Promise<Database> {
  const database = await openTestDatabase('gateway');
  await migrate(database, await readMigrations(gatewayMigrationsFolder));
  return database;
}

export async function testFspIdentity(id = testFspId): Promise<FspIdentity> {
  return { id, signing: await generateSigningKeyPair(), encryption: await generateEncryptionKeyPair() };
}

export interface TestGateway {
  readonly database: Database;
  readonly context: GatewayContext;
  /** What the context's steps and deliveries counted as they committed (payments/statistics.ts). */
  readonly metrics: MetricsRegistry;
  readonly fsp: FspIdentity;
  /** What the gateway logged at warn or error level. */
  readonly warnings: object[];
  now(): Date;
  setNow(at: Date): void;
  advanceMs(milliseconds: number): void;
  close(): Promise<void>;
}

/** Whole seconds: what timestamptz and the envelope's claims both keep exactly. */
export function wholeSecond(at: number = Date.now()): Date {
  return new Date(Math.floor(at / 1000) * 1000);
}

/** A migrated database and a gateway context over it; the clock starts at the wall clock's current second. */
export async function openTestGateway(
  options: { limits?: Partial<GatewayLimits>; database?: Database; fsp?: FspIdentity } = {},
): Promise<TestGateway> {
  const database = options.database ?? (await openGatewayDatabase());
  const fsp = options.fsp ?? (await testFspIdentity());
  const warnings: object[] = [];
  let now = wholeSecond();
  const log: Logger = {
    info: () => undefined,
    warn: (object) => void warnings.push(object),
    error: (object) => void warnings.push(object),
  };
  const hub = new DeviceHub();
  const metrics = createMetricsRegistry();
  const context: GatewayContext = {
    database,
    fsp,
    hub,
    custodians: [],
    limits: createGatewayLimits(options.limits),
    securityPolicy: defaultSecurityPolicy,
    log,
    clock: () => now,
    kickOutbox: () => undefined,
    statistics: createPaymentStatistics(metrics, outboxKinds),
  };
  return {
    database,
    context,
    metrics,
    fsp,
    warnings,
    now: () => now,
    setNow: (at) => {
      now = at;
    },
    advanceMs: (milliseconds) => {
      now = new Date(now.getTime() + milliseconds);
    },
    close: async () => {
      hub.close();
      await database.close();
    },
  };
}

export interface TestBank {
  readonly record: BankRecord;
  readonly key: GeneratedKeyPair;
}

/** A bank registered with the FSP (its URL and public signing key) through `upsertBank`. */
export async function addBank(sql: Sql, id: string, url = 'http://127.0.0.1:9'): Promise<TestBank> {
  const key = await generateSigningKeyPair();
  const record: BankRecord = { id, url, signingJwk: key.publicJwk };
  await upsertBank(sql, record);
  return { record, key };
}

export interface TestCustomer {
  readonly id: string;
  readonly bankId: string;
  readonly signing: GeneratedKeyPair;
  readonly encryption: GeneratedKeyPair;
  readonly account: string;
  readonly serialNumber: string;
  /** The bank's compact JWS. */
  readonly binding: string;
}

export interface BindingOptions {
  readonly subject: string;
  /** Default: the bank's id. */
  readonly issuer?: string;
  /** Default: the bank's own key. */
  readonly signedWith?: GeneratedKeyPair;
  readonly signing?: GeneratedKeyPair;
  readonly encryption?: GeneratedKeyPair;
  readonly accounts?: readonly string[];
  readonly serialNumber?: string;
  readonly deviceId?: string;
  /** Seconds since the epoch; default one minute before / one day after `now`. */
  readonly notBefore?: number;
  readonly notAfter?: number;
  readonly now?: Date;
}

/** A key binding as the bank issues it at enrolment (real keys, real signature). */
export async function issueTestBinding(bank: TestBank, options: BindingOptions) {
  const signing = options.signing ?? (await generateSigningKeyPair());
  const encryption = options.encryption ?? (await generateEncryptionKeyPair());
  const accounts = options.accounts ?? [randomUUID()];
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const serialNumber = options.serialNumber ?? `kb-${randomUUID().slice(0, 8)}`;
  const binding = await issueKeyBinding(
    {
      issuer: options.issuer ?? bank.record.id,
      subject: options.subject,
      deviceId: options.deviceId ?? 'phone-1',
      accounts,
      signingJwk: signing.publicJwk,
      encryptionJwk: encryption.publicJwk,
      notBefore: options.notBefore ?? nowSeconds - 60,
      notAfter: options.notAfter ?? nowSeconds + 86_400,
      serialNumber,
      now: () => nowSeconds * 1000,
    },
    (options.signedWith ?? bank.key).privateJwk,
  );
  return { binding, signing, encryption, accounts, serialNumber };
}

/**
 * What `verifyCustomerRegistration` hands to `storeCustomer`, built here by
 * verifying the binding under the bank's key (without its HTTP status check).
 * `at` is the instant it is verified at (a binding out of its period does not verify).
 */
export async function verifiedCustomer(
  bank: TestBank,
  compact: string,
  displayName: string,
  at: Date = new Date(),
): Promise<VerifiedCustomer> {
  const binding: KeyBinding = await verifyKeyBinding(compact, async () => bank.key.publicJwk, {
    isRevoked: () => false,
    issuer: bank.record.id,
    now: () => at.getTime(),
  });
  return { binding, compact, displayName, bankId: bank.record.id };
}

/** A customer enrolled at `bank` and registered with the FSP through `storeCustomer`. */
export async function enrolCustomer(
  sql: Sql,
  bank: TestBank,
  name: string,
  options: Partial<BindingOptions> & { storedAt?: Date } = {},
): Promise<TestCustomer> {
  const id = `${name}@person.${bank.record.id}`;
  const issued = await issueTestBinding(bank, { ...options, subject: id });
  const verifiedAt = options.notBefore === undefined ? new Date() : new Date(options.notBefore * 1000);
  await storeCustomer(
    sql,
    await verifiedCustomer(bank, issued.binding, name, verifiedAt),
    options.storedAt ?? new Date(),
  );
  const account = [...issued.accounts].sort()[0];
  if (account === undefined) throw new Error('a binding names an account');
  return {
    id,
    bankId: bank.record.id,
    signing: issued.signing,
    encryption: issued.encryption,
    account,
    serialNumber: issued.serialNumber,
    binding: issued.binding,
  };
}

export interface TestMerchant {
  readonly id: string;
  readonly bankId: string;
  readonly signing: GeneratedKeyPair;
  readonly encryption: GeneratedKeyPair;
  readonly webhookUrl: string | null;
}

/** A merchant party through `upsertParty` (no certificate: the store does not need one). */
export async function addMerchant(
  sql: Sql,
  bank: TestBank,
  name: string,
  webhookUrl: string | null = null,
): Promise<TestMerchant> {
  const id = `${name}@merchant.${bank.record.id}`;
  await upsertParty(sql, { id, kind: 'merchant', displayName: name, bankId: bank.record.id, webhookUrl });
  return {
    id,
    bankId: bank.record.id,
    signing: await generateSigningKeyPair(),
    encryption: await generateEncryptionKeyPair(),
    webhookUrl,
  };
}

/** The merchant's request (iMS step 1): a fresh transaction id, signed by the merchant's key. */
export async function merchantRequest(
  fspId: string,
  merchant: TestMerchant,
  customer: { id: string },
  amountMinor: bigint,
  at: Date,
  currency = 'EUR',
): Promise<ImsMessage> {
  const unsigned = validateImsMessage({
    type: 'small', // the least the merchant asks for: the gateway decides the level
    transactionId: randomUUID(),
    procedure: 'm-commerce',
    address: {
      from: { id: customer.id as ImsMessage['address']['from']['id'] },
      to: { id: merchant.id as ImsMessage['address']['to']['id'] },
      timestamp: at.toISOString(),
    },
    data: { amount: createAmount(currency, amountMinor), description: 'two coffees' },
  });
  const sign = await signPayload(
    merchantSignedContent(unsigned),
    { issuer: merchant.id, audience: fspId, transactionId: unsigned.transactionId, expiresInSeconds: 300 },
    merchant.signing.privateJwk,
  );
  return validateImsMessage({
    ...unsigned,
    address: { ...unsigned.address, to: { ...unsigned.address.to, sign } },
  });
}

export type PaymentStage = 'requested' | 'awaiting' | 'authorised';

export interface NewTestPayment {
  readonly merchant: TestMerchant;
  readonly customer: TestCustomer;
  readonly amountMinor?: bigint;
  /** When the request arrives (default: the gateway's clock). */
  readonly at?: Date;
  /** Default: `at` plus the limit paymentExpirySeconds. */
  readonly expiresAt?: Date;
  /** How far the protocol gets: verified only, countersigned and pushed, or confirmed by the customer. */
  readonly stage?: PaymentStage;
}

/**
 * `count` payments, each with an entry to log (its messages `m<i>.b.c`) and
 * the outbox row that drives it, due now; their ids in the order made.
 */
export async function paymentsToLog(
  gateway: TestGateway,
  input: Pick<NewTestPayment, 'merchant' | 'customer'>,
  count: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = await createPayment(gateway, input);
    await enqueueLogEntry(gateway.database, id, 'payment.completed', [`m${i}.b.c`], gateway.now());
    await gateway.database.query(
      `INSERT INTO outbox (payment_id, kind, payload, next_attempt_at, created_at) VALUES ($1, 'log_entry', '{}', $2, $2)`,
      [id, gateway.now().toISOString()],
    );
    ids.push(id);
  }
  return ids;
}

/**
 * A payment driven through the store and the step table as the gateway
 * drives it: inserted (iMS step 1), countersigned by the FSP with the push
 * encrypted to the customer's device key (step 2), and signed by the customer
 * (steps 4–6, which queues the bank order). One transaction.
 */
export async function createPayment(gateway: TestGateway, input: NewTestPayment): Promise<string> {
  const { context, fsp } = gateway;
  const at = input.at ?? gateway.now();
  const expiresAt = input.expiresAt ?? new Date(at.getTime() + context.limits.paymentExpirySeconds * 1000);
  const message = await merchantRequest(
    fsp.id,
    input.merchant,
    input.customer,
    input.amountMinor ?? 12_50n,
    at,
  );
  const id = message.transactionId;
  const stage = input.stage ?? 'awaiting';
  const security = assessSecurity(message.data.amount, [], defaultSecurityPolicy, at);
  const filled = validateImsMessage({
    ...message,
    type: security.level,
    protections: security.protections,
    data: { ...message.data, accountPayable: input.customer.account },
  });
  const claims = (issuer: string, audience: string) => ({
    issuer,
    audience,
    transactionId: id,
    expiresInSeconds: 300,
  });
  const fspSign = await signPayload(
    fspSignedContent(filled),
    claims(fsp.id, input.customer.id),
    fsp.signing.privateJwk,
  );
  const countersigned = validateImsMessage({ ...filled, address: { ...filled.address, fspSign } });
  const push = await encryptTo(JSON.stringify({ paymentId: id }), input.customer.encryption.publicJwk);
  const customerSign = await signPayload(
    customerSignedContent(countersigned),
    claims(input.customer.id, fsp.id),
    input.customer.signing.privateJwk,
  );
  await gateway.database.transaction(async (sql) => {
    await insertPayment(
      sql,
      {
        message,
        merchantId: input.merchant.id,
        customerId: input.customer.id,
        payerAccount: input.customer.account,
        expiresAt,
        now: at,
        rateWindowSeconds: context.limits.rateWindowSeconds,
      },
      'merchant_request_verified',
    );
    observeRequestAfterCommit(sql, context.statistics, at);
    if (stage === 'requested') return;
    await applyEventIn(
      context,
      sql,
      id,
      { event: 'countersigned', changes: { message: countersigned, pushMessage: push } },
      at,
    );
    if (stage === 'awaiting') return;
    const signed = validateImsMessage({
      ...countersigned,
      address: { ...countersigned.address, from: { ...countersigned.address.from, sign: customerSign } },
    });
    await applyEventIn(context, sql, id, { event: 'customer_confirmed', changes: { message: signed } }, at);
  });
  return id;
}

export interface OutboxRecord {
  readonly id: string;
  readonly paymentId: string;
  readonly kind: string;
  readonly payload: Record<string, unknown>;
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly deliveredAt: Date | null;
  readonly abandonedAt: Date | null;
  readonly lastError: string | null;
}

/** The outbox rows of a payment (optionally of one kind), oldest first. */
export async function outboxOf(sql: Sql, paymentId: string, kind?: string): Promise<OutboxRecord[]> {
  const { rows } = await sql.query<{
    id: string;
    payment_id: string;
    kind: string;
    payload: string;
    attempts: number;
    next_attempt_at: Date | string;
    delivered_at: Date | string | null;
    abandoned_at: Date | string | null;
    last_error: string | null;
  }>(
    `SELECT id::text AS id, payment_id, kind, payload, attempts, next_attempt_at, delivered_at, abandoned_at, last_error
     FROM outbox WHERE payment_id = $1 AND ($2::text IS NULL OR kind = $2) ORDER BY id`,
    [paymentId, kind ?? null],
  );
  const date = (value: Date | string | null) => (value === null ? null : new Date(value));
  return rows.map((row) => ({
    id: row.id,
    paymentId: row.payment_id,
    kind: row.kind,
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    attempts: row.attempts,
    nextAttemptAt: new Date(row.next_attempt_at),
    deliveredAt: date(row.delivered_at),
    abandonedAt: date(row.abandoned_at),
    lastError: row.last_error,
  }));
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** How the stub answers: a status with a JSON or text body, or `hang` (no answer until released or closed). */
export type StubAnswer =
  | {
      readonly status: number;
      readonly json?: unknown;
      readonly text?: string;
      readonly headers?: Record<string, string>;
    }
  | 'hang';

export interface HttpStub {
  readonly url: string;
  readonly requests: RecordedRequest[];
  answer: (request: RecordedRequest) => StubAnswer | Promise<StubAnswer>;
  /** Answers every request left hanging with `answer`. */
  release(answer: Exclude<StubAnswer, 'hang'>): void;
  close(): Promise<void>;
}

function send(response: ServerResponse, answer: Exclude<StubAnswer, 'hang'>): void {
  const body = answer.json !== undefined ? JSON.stringify(answer.json) : (answer.text ?? '');
  response.writeHead(answer.status, {
    ...(answer.json !== undefined ? { 'content-type': 'application/json' } : {}),
    ...answer.headers,
  });
  response.end(body);
}

/** A real HTTP server on loopback (a bank, a merchant's webhook endpoint) that records every request. */
export async function startHttpStub(
  answer: (request: RecordedRequest) => StubAnswer | Promise<StubAnswer>,
): Promise<HttpStub> {
  const requests: RecordedRequest[] = [];
  const hanging: ServerResponse[] = [];
  const stub = { answer } as { answer: HttpStub['answer'] };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const recorded: RecordedRequest = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      Promise.resolve(stub.answer(recorded)).then(
        (chosen) => (chosen === 'hang' ? hanging.push(response) : send(response, chosen)),
        () => send(response, { status: 500, text: 'stub failed' }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get answer() {
      return stub.answer;
    },
    set answer(next) {
      stub.answer = next;
    },
    release(chosen) {
      for (const response of hanging.splice(0)) send(response, chosen);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback URL nothing listens on (a port the stub held, then gave back). */
export async function closedPortUrl(): Promise<string> {
  const stub = await startHttpStub(() => ({ status: 204 }));
  await stub.close();
  return stub.url;
}
