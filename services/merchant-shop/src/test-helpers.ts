import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  decryptWith,
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  publicJwkSet,
  signPayload,
  verifyPayload,
} from '@mpay/envelope';
import {
  type ErrorCode,
  formatDecimalAmount,
  type ImsMessage,
  imsFromJson,
  MpayError,
  merchantSignedContent,
  signedContentMatches,
} from '@mpay/protocol';
import { MerchantClient } from '@mpay/sdk';
import { type Database, openTestDatabase } from '@mpay/storage';
import type { ProductInput } from './catalogue/catalogue.ts';
import type { ShopHooks } from './context.ts';
import type { ShopLimits } from './limits.ts';
import { createMerchantShop, type MerchantShop } from './service.ts';

/**
 * Test-only: the shop on a real database, with a real MerchantClient talking
 * over real HTTP to a stand-in for the FSP's gateway. The stand-in holds a
 * real FSP key pair: it decrypts and verifies the merchant's signed requests
 * exactly as sent, and signs webhooks as the FSP does (the real gateway runs
 * in test/e2e/shop.test.ts). It answers only what the shop asks: aliases,
 * payment requests and a payment's status.
 */

export const testMerchantId = 'merkur.trade@merchant.ybank';
export const testCustomer = { id: 'john.bernard@person.xbank', msisdn: '+38970123456' } as const;
export const testFspId = 'fsp.mpay';

/** A request the stand-in FSP accepted, decrypted and verified. */
export interface ReceivedRequest {
  readonly message: ImsMessage;
  readonly idempotencyKey: string | undefined;
}

export interface StandInFsp {
  readonly url: string;
  readonly signing: GeneratedKeyPair;
  readonly encryption: GeneratedKeyPair;
  /** Every payment request accepted (a payment), in order. */
  readonly accepted: ReceivedRequest[];
  /** Every POST /payments that arrived, whatever the answer. */
  readonly attempts: number;
  /** The next answers to POST /payments: an error code (the request is not processed), or 'lose-answer' (processed, answered 503). */
  readonly script: (ErrorCode | 'lose-answer')[];
  /** The FSP's signed webhook body for one of the merchant's payments (payload as the gateway writes it). */
  signNotification(payload: Readonly<Record<string, unknown>>, transactionId: string): Promise<string>;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** GET /payments/:id's answer as the gateway gives it, whole (the SDK checks its shape), for a stand-in FSP. */
export function paymentStatusAnswer(message: ImsMessage, status: string): Record<string, unknown> {
  const at = new Date().toISOString();
  return {
    id: message.transactionId,
    status,
    procedure: 'ims',
    securityLevel: message.type,
    amount: { currency: message.data.amount.currency, value: formatDecimalAmount(message.data.amount) },
    payer: message.address.from.id,
    payee: message.address.to.id,
    failureCode: null,
    expiresAt: new Date(Date.now() + 300_000).toISOString(),
    createdAt: at,
    updatedAt: at,
    history: [{ status, step: null, at }],
  };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function sendError(response: ServerResponse, status: number, code: ErrorCode): void {
  send(response, status, { error: new MpayError(code).toJSON() });
}

export async function startStandInFsp(merchantSigningKey: GeneratedKeyPair): Promise<StandInFsp> {
  const signing = await generateSigningKeyPair();
  const encryption = await generateEncryptionKeyPair();
  const accepted: ReceivedRequest[] = [];
  const script: (ErrorCode | 'lose-answer')[] = [];
  let attempts = 0;
  const accept = async (jwe: string, idempotencyKey: string | undefined) => {
    const plaintext = new TextDecoder().decode(await decryptWith(jwe, [encryption.privateJwk]));
    const message = imsFromJson((JSON.parse(plaintext) as { ims: unknown }).ims);
    const sign = message.address.to.sign;
    const verified = await verifyPayload(sign, async () => merchantSigningKey.publicJwk, {
      issuer: testMerchantId,
      audience: testFspId,
      transactionId: message.transactionId,
    });
    // The merchant signed exactly the content the FSP reads (amount, parties, description …).
    if (!signedContentMatches(verified.payload, merchantSignedContent(message)))
      throw new Error("stand-in FSP: the merchant's signature does not cover the message");
    if (accepted.some((request) => request.message.transactionId === message.transactionId))
      return { status: 409, code: 'IDEMPOTENCY_KEY_REUSED' as const };
    accepted.push({ message, idempotencyKey });
    return { status: 201, code: undefined };
  };
  const server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://fsp');
      const alias = /^\/aliases\/([^/]+)$/.exec(url.pathname);
      if (request.method === 'GET' && alias !== null) {
        const msisdn = decodeURIComponent(alias[1] ?? '');
        if (msisdn === testCustomer.msisdn) return send(response, 200, { partyId: testCustomer.id });
        return sendError(response, 404, 'PARTY_UNKNOWN');
      }
      const status = /^\/payments\/([^/]+)$/.exec(url.pathname);
      if (request.method === 'GET' && status !== null) {
        const found = accepted.find((entry) => entry.message.transactionId === status[1]);
        if (found === undefined) return sendError(response, 404, 'PAYMENT_UNKNOWN');
        return send(response, 200, paymentStatusAnswer(found.message, 'awaiting_customer'));
      }
      if (request.method === 'POST' && url.pathname === '/payments') {
        attempts += 1;
        const body = await readBody(request);
        const next = script.shift();
        if (next !== undefined && next !== 'lose-answer')
          return sendError(response, next === 'SERVICE_UNAVAILABLE' ? 503 : 404, next);
        const key = request.headers['idempotency-key'];
        const result = await accept(body, typeof key === 'string' ? key : undefined);
        if (result.code !== undefined) return sendError(response, result.status, result.code);
        if (next === 'lose-answer') return sendError(response, 503, 'SERVICE_UNAVAILABLE');
        const message = accepted[accepted.length - 1]?.message;
        return send(response, 201, {
          paymentId: message?.transactionId,
          status: 'awaiting_customer',
          securityLevel: message?.type,
          // As the gateway answers: the protections of that level (none here).
          protections: [],
          expiresAt: new Date(Date.now() + 300_000).toISOString(),
          delivered: true,
        });
      }
      return sendError(response, 404, 'NOT_FOUND');
    })().catch((error: unknown) => {
      send(response, 500, { error: { code: 'INTERNAL', message: String(error) } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    signing,
    encryption,
    accepted,
    get attempts() {
      return attempts;
    },
    script,
    signNotification: (payload, transactionId) =>
      signPayload(
        payload,
        { issuer: testFspId, audience: testMerchantId, transactionId, expiresInSeconds: 600 },
        signing.privateJwk,
      ),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

export interface TestShop {
  readonly shop: MerchantShop;
  readonly url: string;
  readonly fsp: StandInFsp;
  readonly merchant: MerchantClient;
  readonly merchantToken: string;
  readonly database: Database;
  /** What the shop logged at warn or error level. */
  readonly warnings: object[];
  advanceMs(milliseconds: number): void;
  /** Stops the shop (as a crash would leave the database) and starts another over the same database. */
  restart(options?: TestShopOptions): Promise<TestShop>;
  close(): Promise<void>;
}

export interface TestShopOptions extends ShopHooks {
  readonly limits?: Partial<ShopLimits>;
  readonly catalogue?: readonly ProductInput[];
  readonly instanceName?: string;
}

export const testMerchantToken = 'merchant-token-for-tests-0123456789abcdefghij';

/** A migrated database, a stand-in FSP and the shop listening on loopback; the clock starts at the wall clock. */
export async function openTestShop(
  options: TestShopOptions = {},
  reuse?: { database: Database; fsp: StandInFsp; merchantKey: GeneratedKeyPair; offsetMs: { value: number } },
): Promise<TestShop> {
  const database = reuse?.database ?? (await openTestDatabase('shop'));
  const merchantKey = reuse?.merchantKey ?? (await generateSigningKeyPair());
  const fsp = reuse?.fsp ?? (await startStandInFsp(merchantKey));
  const offsetMs = reuse?.offsetMs ?? { value: 0 };
  const warnings: object[] = [];
  const merchant = new MerchantClient({
    gatewayUrl: fsp.url,
    merchantId: testMerchantId,
    signingKey: merchantKey.privateJwk,
    fsp: { id: testFspId, keys: publicJwkSet([fsp.signing.publicJwk, fsp.encryption.publicJwk]) },
  });
  const shop = await createMerchantShop({
    database,
    merchant,
    merchantToken: testMerchantToken,
    ...(options.catalogue === undefined ? {} : { catalogue: options.catalogue }),
    limits: options.limits ?? {},
    ...(options.onTradeClaimed === undefined ? {} : { onTradeClaimed: options.onTradeClaimed }),
    ...(options.onRefundUpdated === undefined ? {} : { onRefundUpdated: options.onRefundUpdated }),
    ...(options.instanceName === undefined ? {} : { instanceName: options.instanceName }),
    // The background runs only when a test asks (runBackgroundOnce): no timer races a test's steps.
    backgroundIntervalMs: 3_600_000,
    clock: () => new Date(Date.now() + offsetMs.value),
  });
  const log = shop.context.log;
  const record = (object: object) => void warnings.push(object);
  Object.assign(log, { warn: record, error: record });
  const url = await shop.listen(0, '127.0.0.1');
  const test: TestShop = {
    shop,
    url,
    fsp,
    merchant,
    merchantToken: testMerchantToken,
    database,
    warnings,
    advanceMs: (milliseconds) => {
      offsetMs.value += milliseconds;
    },
    restart: async (next = options) => {
      await shop.close();
      return openTestShop(next, { database, fsp, merchantKey, offsetMs });
    },
    close: async () => {
      await shop.close();
      await fsp.close();
      await database.close();
    },
  };
  return test;
}

/** A JSON request to the shop: status and body, never throwing on an HTTP error. */
export async function call(
  url: string,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: { token?: string; body?: unknown; raw?: string; contentType?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> & { error?: { code: string } } }> {
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': options.contentType ?? 'application/json' }),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
    },
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as never };
}
