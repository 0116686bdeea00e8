import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type GeneratedKeyPair, generateSigningKeyPair, publicJwkSet, verifyPayload } from '@mpay/envelope';
import { type ErrorCode, MpayError, type RefundStatus } from '@mpay/protocol';
import { MerchantClient } from '@mpay/sdk';
import { type Database, openTestDatabase } from '@mpay/storage';
import { createMerchantShop, type MerchantShop } from '../service.ts';
import {
  paymentStatusAnswer,
  type StandInFsp,
  startStandInFsp,
  testCustomer,
  testFspId,
  testMerchantId,
  testMerchantToken,
} from '../test-helpers.ts';
import type { TillLimits } from './limits.ts';

/**
 * Test-only: the shop with its till on a real database, its MerchantClient
 * talking over real HTTP to a stand-in for the FSP. The shop's stand-in
 * (test-helpers.ts) decrypts and verifies the payment requests; in front of
 * it, this one answers what the till asks besides: a payment's status (with
 * its payer and amount, as the gateway does), the merchant's cancellation,
 * and refunds, whose signed refund it verifies with the merchant's key. The
 * real gateway runs in test/browser/till.test.ts.
 */

/** A refund the stand-in accepted: the merchant's signed content, verified. */
export interface ReceivedRefund {
  readonly refundId: string;
  readonly paymentId: string;
  readonly amount: { readonly currency: string; readonly value: string };
  readonly reason: string | undefined;
  status: RefundStatus;
  readonly createdAt: string;
}

export interface TillFsp {
  readonly url: string;
  readonly payments: StandInFsp;
  /** The status GET /payments/:id answers per payment (default awaiting_customer). */
  readonly statuses: Map<string, string>;
  readonly refunds: Map<string, ReceivedRefund>;
  /** Every POST …/refunds that arrived, whatever the answer. */
  readonly refundAttempts: number;
  /** The next answers to POST …/refunds: an error code instead of processing it. */
  readonly refundScript: ErrorCode[];
  readonly cancellations: string[];
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

const statusOfCode: Partial<Record<ErrorCode, number>> = {
  SERVICE_UNAVAILABLE: 503,
  REFUND_NOT_ALLOWED: 409,
};

function sendError(response: ServerResponse, code: ErrorCode): void {
  send(response, statusOfCode[code] ?? 404, { error: new MpayError(code).toJSON() });
}

function refundAnswer(refund: ReceivedRefund) {
  return {
    refundId: refund.refundId,
    paymentId: refund.paymentId,
    status: refund.status,
    amount: refund.amount,
    createdAt: refund.createdAt,
    updatedAt: new Date().toISOString(),
    history: [],
  };
}

async function startTillFsp(merchantKey: GeneratedKeyPair): Promise<TillFsp> {
  const payments = await startStandInFsp(merchantKey);
  const statuses = new Map<string, string>();
  const refunds = new Map<string, ReceivedRefund>();
  const refundScript: ErrorCode[] = [];
  const cancellations: string[] = [];
  let refundAttempts = 0;
  const accepted = (paymentId: string) =>
    payments.accepted.find((entry) => entry.message.transactionId === paymentId)?.message;

  const receiveRefund = async (paymentId: string, body: string) => {
    const { refund, reason } = JSON.parse(body) as { refund: string; reason?: string };
    const verified = await verifyPayload(refund, async () => merchantKey.publicJwk, {
      issuer: testMerchantId,
      audience: testFspId,
    });
    const content = verified.payload as {
      refundId: string;
      paymentId: string;
      amount: { currency: string; value: string };
    };
    if (content.paymentId !== paymentId) throw new Error('stand-in FSP: the refund names another payment');
    const known = refunds.get(content.refundId);
    if (known !== undefined) return known;
    const received: ReceivedRefund = {
      refundId: content.refundId,
      paymentId,
      amount: content.amount,
      reason,
      status: 'ordered',
      createdAt: new Date().toISOString(),
    };
    refunds.set(received.refundId, received);
    return received;
  };

  const server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://fsp');
      const refund = /^\/payments\/([^/]+)\/refunds(?:\/([^/]+))?$/.exec(url.pathname);
      if (refund !== null && request.method === 'POST' && refund[2] === undefined) {
        refundAttempts += 1;
        const body = await readBody(request);
        const next = refundScript.shift();
        if (next !== undefined) return sendError(response, next);
        return send(response, 201, refundAnswer(await receiveRefund(refund[1] ?? '', body)));
      }
      if (refund !== null && request.method === 'GET' && refund[2] !== undefined) {
        const found = refunds.get(refund[2]);
        return found === undefined
          ? sendError(response, 'REFUND_UNKNOWN')
          : send(response, 200, refundAnswer(found));
      }
      const cancellation = /^\/payments\/([^/]+)\/cancellation$/.exec(url.pathname);
      if (cancellation !== null && request.method === 'POST') {
        const id = cancellation[1] ?? '';
        if (accepted(id) === undefined) return sendError(response, 'PAYMENT_UNKNOWN');
        cancellations.push(id);
        statuses.set(id, 'cancelled');
        return send(response, 200, { paymentId: id, status: 'cancelled' });
      }
      const status = /^\/payments\/([^/]+)$/.exec(url.pathname);
      if (status !== null && request.method === 'GET') {
        const message = accepted(status[1] ?? '');
        if (message === undefined) return sendError(response, 'PAYMENT_UNKNOWN');
        return send(
          response,
          200,
          paymentStatusAnswer(message, statuses.get(message.transactionId) ?? 'awaiting_customer'),
        );
      }
      // Everything else (payment requests, aliases) is the shop's own stand-in's.
      const body = request.method === 'GET' ? undefined : await readBody(request);
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'idempotency-key', 'authorization']) {
        const value = request.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const answer = await fetch(`${payments.url}${url.pathname}`, {
        method: request.method ?? 'GET',
        headers,
        ...(body === undefined ? {} : { body }),
      });
      response.writeHead(answer.status, { 'content-type': 'application/json' });
      response.end(await answer.text());
    })().catch((error: unknown) => {
      send(response, 500, { error: { code: 'INTERNAL', message: String(error) } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    payments,
    statuses,
    refunds,
    get refundAttempts() {
      return refundAttempts;
    },
    refundScript,
    cancellations,
    close: async () => {
      await new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      });
      await payments.close();
    },
  };
}

export interface TillTestShop {
  readonly shop: MerchantShop;
  readonly url: string;
  readonly fsp: TillFsp;
  readonly merchantKey: GeneratedKeyPair;
  readonly database: Database;
  readonly warnings: object[];
  advanceMs(milliseconds: number): void;
  /** Back to the wall clock (the SDK signs till codes with the wall clock's expiry). */
  resetClock(): void;
  close(): Promise<void>;
}

/** The shop with its till, the till's stand-in FSP, on loopback; the background runs only when a test asks. */
export async function openTillTestShop(limits: Partial<TillLimits> = {}): Promise<TillTestShop> {
  const database = await openTestDatabase('till');
  const merchantKey = await generateSigningKeyPair();
  const fsp = await startTillFsp(merchantKey);
  let offsetMs = 0;
  const merchant = new MerchantClient({
    gatewayUrl: fsp.url,
    merchantId: testMerchantId,
    signingKey: merchantKey.privateJwk,
    fsp: {
      id: testFspId,
      keys: publicJwkSet([fsp.payments.signing.publicJwk, fsp.payments.encryption.publicJwk]),
    },
  });
  const shop = await createMerchantShop({
    database,
    merchant,
    merchantToken: testMerchantToken,
    till: { merchantName: 'Merkur Trade', city: 'Skopje', limits },
    backgroundIntervalMs: 3_600_000,
    clock: () => new Date(Date.now() + offsetMs),
  });
  const warnings: object[] = [];
  const record = (object: object) => void warnings.push(object);
  Object.assign(shop.context.log, { warn: record, error: record });
  const url = await shop.listen(0, '127.0.0.1');
  return {
    shop,
    url,
    fsp,
    merchantKey,
    database,
    warnings,
    advanceMs: (milliseconds) => {
      offsetMs += milliseconds;
    },
    resetClock: () => {
      offsetMs = 0;
    },
    close: async () => {
      await shop.close();
      await fsp.close();
      await database.close();
    },
  };
}

export { testCustomer, testMerchantToken };
