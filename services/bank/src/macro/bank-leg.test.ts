import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { decodeUnverified, decryptWith, type PublicJwk, signPayload, verifyPayload } from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import { parsePayAckContent, parsePayConfirmToMerchantContent } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backgroundWorkDeadlineMs, waitFor } from '../../../../test/support/deadlines.ts';
import { startBankPair, type TestBankNode, type TestBankPair } from '../interbank/test-banks.ts';
import { type EnrolledKey, enrolTestCustomer, errorCodeOf, uniquePartyId } from '../test-helpers.ts';
import { macroOrderId } from './approval.ts';
import { contentOf, sha256 } from './approval-request.ts';
import {
  bankRequest,
  type MacroClient,
  newMacroClient,
  newMacroPayment,
  postApproval,
  publishedBankKeys,
  requestAsCaller,
  sealedPAppResp,
  sendPaymentRequest,
} from './macro.test-helper.ts';

/**
 * Seed 002 §4.2 steps 8, 9 and 10 over HTTP between two banks on real
 * databases: xbank is the client bank (CB), ybank the merchant bank (MB); the
 * test plays the MPASP, the client's device and the merchant's system.
 *
 *   (8)  CB → MB: FT[SID_T, ID_M, ID_CB, AmtInfo_c]   (with ID_C)
 *   (9)  MB → M:  Pay_Confirm{SID_T, ID_C, AmtInfo_c}
 *   (10) MB → CB: Pay_Ack{SID_T, ID_C, ID_M, AmtInfo_c}
 */

let pair: TestBankPair;
let x: TestBankNode;
let y: TestBankNode;
let xEncryptionJwk: PublicJwk;
let yJwk: PublicJwk;
let merchantId: string;
let merchantAccountId: string;
let merchantDevice: EnrolledKey;

let ann: MacroClient;

/** Steps 6 and 7 as the MPASP and the device make them; answers the approval (step 7's HTTP answer). */
async function approvedPayment(client: MacroClient, minor: bigint, payee = merchantId) {
  const payment = newMacroPayment(client, payee, minor);
  const asked = await sendPaymentRequest(pair, payment);
  expect(asked.status).toBe(202);
  const answer = await postApproval(x, payment.sessionId, await sealedPAppResp(payment, xEncryptionJwk));
  return { sessionId: payment.sessionId, orderId: macroOrderId('xbank', payment.sessionId), answer };
}

/** The merchant's own system reading its bank (step 9), with a request token of its bound key. */
async function merchantConfirmations(after = '0', device = merchantDevice, party = merchantId) {
  const path = `/macro/merchant-confirmations?after=${after}`;
  const authorization = await signRequest(
    { method: 'GET', path, body: '' },
    { issuer: party, audience: 'ybank', key: device.signing.privateJwk },
  );
  return bankRequest(y, 'GET', path, undefined, { authorization });
}

async function balances() {
  return {
    ann: await x.balance(ann.accountId),
    merchant: (await y.balance(merchantAccountId)).balance,
  };
}

beforeAll(async () => {
  pair = await startBankPair();
  ({ x, y } = pair);
  xEncryptionJwk = (await publishedBankKeys(x)).encryptionJwk;
  yJwk = (await publishedBankKeys(y)).signingJwk;
  merchantId = uniquePartyId('merchant', 'ybank', 'shop');
  merchantAccountId = await y.openAccount('merchant', merchantId);
  merchantDevice = await enrolTestCustomer(y, merchantId, [merchantAccountId]);
  ann = await newMacroClient(x, 'ann', 100_000n);
}, 60_000);

afterAll(async () => {
  await pair?.close();
});

describe('steps 8–10 between the banks', () => {
  it("sends FT naming ID_M and ID_C; the MB's answer carries Pay_Ack binding SID_T, ID_C, ID_M and AmtInfo_c", async () => {
    const { sessionId, orderId, answer } = await approvedPayment(ann, 2_500n);
    expect(answer.body).toMatchObject({ state: 'approved', order: { id: orderId, state: 'completed' } });

    // Step 8 as the MB received it: the FT content beside the transfer, under the CB's signature.
    const credit = await y.call('GET', `/interbank/credits/${orderId}`);
    expect(credit.body).toMatchObject({ outcome: 'credited', payeeId: merchantId, amount: '2500' });
    const ft = decodeUnverified(credit.body.message as string)?.payload as Record<string, unknown>;
    expect(ft.macroFundsTransfer).toEqual({
      kind: 'macro_funds_transfer',
      from: 'xbank',
      to: 'ybank',
      sessionId,
      clientId: ann.clientId,
      merchantId,
      amount: { currency: 'EUR', value: '25.00' },
      expiresAt: (ft.fundsTransfer as { deadline: string }).deadline,
    });

    // Step 10 as the CB kept it: the MB's signed answer with Pay_Ack.
    const order = await x.call('GET', `/payment-orders/${orderId}`);
    const answered = await verifyPayload(order.body.answer, () => yJwk, {
      audience: 'xbank',
      issuer: 'ybank',
      transactionId: orderId,
    });
    expect(parsePayAckContent(answered.payload.payAck, sha256)).toMatchObject({
      from: 'ybank',
      to: 'xbank',
      sessionId,
      clientId: ann.clientId,
      merchantId,
      amount: { currency: 'EUR', value: '25.00' },
    });
  });

  it('tells the merchant (step 9): Pay_Confirm signed by its bank, sealed to its key, paged; no one else reads it', async () => {
    const first = await approvedPayment(ann, 1_100n);
    const second = await approvedPayment(ann, 1_200n);
    const page = await merchantConfirmations();
    expect(page.status).toBe(200);
    const listed = page.body.confirmations as { sequence: string; sessionId: string; payConfirm: string }[];
    const mine = listed.filter((entry) => [first.sessionId, second.sessionId].includes(entry.sessionId));
    expect(mine.map((entry) => entry.sessionId)).toEqual([first.sessionId, second.sessionId]);
    const jws = new TextDecoder().decode(
      await decryptWith(mine[0]?.payConfirm, [merchantDevice.encryption.privateJwk]),
    );
    const verified = await verifyPayload(
      jws,
      () => yJwk,
      { audience: merchantId, issuer: 'ybank', transactionId: first.sessionId },
      { maxAgeSeconds: 86_400 },
    );
    expect(parsePayConfirmToMerchantContent(contentOf(verified.payload), sha256)).toMatchObject({
      from: 'ybank',
      to: merchantId,
      sessionId: first.sessionId,
      clientId: ann.clientId,
      amount: { currency: 'EUR', value: '11.00' },
    });
    // After the first: the second only.
    const later = await merchantConfirmations(mine[0]?.sequence);
    expect((later.body.confirmations as { sessionId: string }[]).map((entry) => entry.sessionId)).toContain(
      second.sessionId,
    );
    expect(
      (later.body.confirmations as { sessionId: string }[]).map((entry) => entry.sessionId),
    ).not.toContain(first.sessionId);

    // Another party of the MB, with its own bound key, sees none of them; an unbound key is refused.
    const otherId = uniquePartyId('merchant', 'ybank', 'other');
    const other = await enrolTestCustomer(y, otherId, [await y.openAccount('merchant', otherId)]);
    expect((await merchantConfirmations('0', other, otherId)).body.confirmations).toEqual([]);
    expect(errorCodeOf(await merchantConfirmations('0', other, merchantId))).toBe('AUTHENTICATION_FAILED');
    expect(errorCodeOf(await merchantConfirmations('x'))).toBe('REQUEST_INVALID');
  });

  it('refuses FT naming a merchant unknown at the MB: PAYEE_UNKNOWN, the hold released, no Pay_Ack or Pay_Confirm', async () => {
    const before = await balances();
    const nobody = uniquePartyId('merchant', 'ybank', 'nobody');
    const { sessionId, orderId, answer } = await approvedPayment(ann, 3_300n, nobody);
    expect(answer.body).toMatchObject({
      state: 'approved',
      order: { state: 'refused', refusalCode: 'PAYEE_UNKNOWN' },
    });
    const order = await x.call('GET', `/payment-orders/${orderId}`);
    const answered = decodeUnverified(order.body.answer as string)?.payload as Record<string, unknown>;
    expect(answered.payAck).toBeUndefined();
    expect(await balances()).toEqual(before);
    const listed = (await merchantConfirmations()).body.confirmations as { sessionId: string }[];
    expect(listed.map((entry) => entry.sessionId)).not.toContain(sessionId);
  });
});

/** A merchant bank that answers with its real key but a Pay_Ack of its own making. */
async function rogueMerchantBank(
  port: number,
  payAckChange: Record<string, unknown> | 'none',
): Promise<Server> {
  const server = createServer((incoming, reply) => {
    let text = '';
    incoming.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    incoming.on('end', () => {
      if (incoming.method !== 'POST' || incoming.url !== '/interbank/funds-transfers') {
        reply.writeHead(404).end();
        return;
      }
      void (async () => {
        const { message } = JSON.parse(text) as { message: string };
        const payload = decodeUnverified(message)?.payload as {
          fundsTransfer: { id: string; deadline: string };
          macroFundsTransfer: Record<string, unknown>;
        };
        const ft = payload.macroFundsTransfer;
        const payAck = {
          kind: 'macro_pay_ack',
          from: 'ybank',
          to: 'xbank',
          sessionId: ft.sessionId,
          clientId: ft.clientId,
          merchantId: ft.merchantId,
          amount: ft.amount,
          expiresAt: new Date(Date.now() + 300_000).toISOString(),
          ...(payAckChange === 'none' ? {} : payAckChange),
        };
        const answer = await signPayload(
          {
            fundsTransferAnswer: { id: payload.fundsTransfer.id, outcome: 'credited' },
            ...(payAckChange === 'none' ? {} : { payAck }),
          },
          {
            issuer: 'ybank',
            audience: 'xbank',
            transactionId: payload.fundsTransfer.id,
            expiresInSeconds: 300,
          },
          pair.keys.y,
        );
        reply.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ answer }));
      })();
    });
  });
  await new Promise<void>((listening) => server.listen(port, '127.0.0.1', listening));
  return server;
}

/** Closes a server and the keep-alive connections the client bank holds to it. */
function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((done) => server.close(() => done()));
  server.closeAllConnections();
  return closed;
}

describe('a Pay_Ack that does not name the FT', () => {
  for (const [name, change] of [
    ['another amount', { amount: { currency: 'EUR', value: '44.01' } }],
    ['another client', { clientId: 'C000000000001.xbank' }],
    ['no Pay_Ack at all', 'none'],
  ] as const) {
    it(`${name}: MACRO_PAY_ACK_INVALID, the hold kept, nothing posted, the order still being delivered`, async () => {
      const before = await balances();
      const port = Number(new URL(y.url).port);
      await y.stop();
      let yRunning = false;
      const rogue = await rogueMerchantBank(port, change);
      try {
        const { orderId, answer } = await approvedPayment(ann, 4_400n);
        expect(answer.status).toBe(202);
        expect(answer.body).toMatchObject({ state: 'approved', order: { id: orderId, state: 'sending' } });
        const { rows } = await x.database.query<{ state: string; last_error: string | null }>(
          'SELECT state, last_error FROM payment_orders WHERE id = $1',
          [orderId],
        );
        expect(rows[0]).toEqual({ state: 'sending', last_error: 'MACRO_PAY_ACK_INVALID' });
        // Held, not posted: the balance is the same, only the available amount is reserved.
        const during = await x.balance(ann.accountId);
        expect(during.balance).toBe(before.ann.balance);
        expect(during.available).toBe(before.ann.available - 4_400n);
        await closeServer(rogue);
        // The real MB back: the next delivery is credited with a true Pay_Ack, and the hold posted.
        await y.start();
        yRunning = true;
        await waitFor(
          async () => {
            // The client bank's worker, as `mpay up` runs it: the due delivery, once its backoff passed.
            await x.service.worker.runOnce();
            return (await x.call('GET', `/payment-orders/${orderId}`)).body.state === 'completed'
              ? true
              : undefined;
          },
          {
            deadlineMs: backgroundWorkDeadlineMs,
            what: `order ${orderId} completed by the real merchant bank`,
          },
        );
        const after = await balances();
        expect(after.ann.balance).toBe(before.ann.balance - 4_400n);
        expect(after.merchant).toBe(before.merchant + 4_400n);
      } finally {
        if (rogue.listening) await closeServer(rogue);
        if (!yRunning) await y.start();
      }
    });
  }
});

describe('a macro order placed by anyone but its approval', () => {
  it('is refused at POST /payment-orders: the FSP cannot name an order as a macro payment’s (REQUEST_INVALID)', async () => {
    const answer = await requestAsCaller(x, pair.fsp.id, 'POST', '/payment-orders', {
      id: randomUUID(),
      payerId: ann.partyId,
      debitAccountId: ann.accountId,
      payeeId: merchantId,
      creditBankId: 'ybank',
      amount: '100',
      currency: 'EUR',
      reference: `macro ${randomUUID()}`,
    });
    expect(errorCodeOf(answer)).toBe('REQUEST_INVALID');
  });
});
