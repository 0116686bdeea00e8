import { randomUUID } from 'node:crypto';
import { bankOperator, demoParties, type RunningBank } from '@mpay/cli';
import { encryptTo, type GeneratedKeyPair, generateSigningKeyPair, signPayload } from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import { verifyReceipt } from '@mpay/merkle';
import { createAmount } from '@mpay/protocol';
import {
  type CustodyTrust,
  CustodyWallet,
  custodyEncryptionKey,
  fetchCustodyTrust,
  type InboxEvent,
  type RefundAnswer,
  type RefundReceipt,
} from '@mpay/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backgroundWorkDeadlineMs, paymentSettledDeadlineMs, waitFor } from '../support/deadlines.ts';
import { expectCode, postRaw, startTestPlatform, type TestPlatform } from './harness.ts';

/**
 * A refund to a customer whose key is in custody (iMS §5), end to end over
 * real HTTP: the customer pays through custody, the merchant refunds part, the
 * FSP's outbox redirects its signed refund receipt to custody (the customer's
 * binding names custody's key), custody verifies it and forwards it to the
 * phone's inbox, and the phone verifies the FSP's signature itself, then reads
 * the refund's evidence from the log through custody. Forged or misplaced
 * receipts are refused at custody and at the phone; a second copy of the
 * redirect changes nothing.
 */
let test: TestPlatform;
let xbank: RunningBank;
let custody: CustodyTrust;
let wallet: CustodyWallet;
const { custodyCustomer, merchant } = demoParties;

beforeAll(async () => {
  test = await startTestPlatform();
  xbank = test.platform.banks.find((bank) => bank.id === 'xbank') as RunningBank;
  custody = await fetchCustodyTrust(test.platform.urls.custody);
  wallet = new CustodyWallet({
    custodyUrl: test.platform.urls.custody,
    custody,
    fsp: test.fsp,
    partyId: custodyCustomer.id,
    deviceToken: test.platform.credentials.custodyCustomer.deviceToken,
  });
});
afterAll(async () => {
  await test?.close();
});

const eur = (minor: bigint) => createAmount('EUR', minor);

async function balanceOf(account: string): Promise<bigint> {
  const { balance } = await bankOperator(xbank, xbank.operatorKey).get<{ balance: string }>(
    `/accounts/${account}`,
  );
  return BigInt(balance);
}

/** Every event of the phone's inbox, from the start. */
async function inbox(): Promise<InboxEvent[]> {
  return wallet.events('0');
}

/** A payment of the custody customer, confirmed on the phone with the PIN (iMS §5 steps 1–10): its id. */
async function paidThroughCustody(amountMinor: bigint): Promise<string> {
  const accepted = await test.merchant.requestPayment({
    customer: custodyCustomer.msisdn,
    amount: { currency: 'EUR', minor: amountMinor },
  });
  const event = await waitFor(
    async () =>
      (await wallet.events('0', 1_000)).find(
        (candidate) => candidate.event === 'payment-request' && candidate.paymentId === accepted.paymentId,
      ),
    { deadlineMs: paymentSettledDeadlineMs, what: `custody to forward payment ${accepted.paymentId}` },
  );
  const opened = await wallet.openForward(event.forward);
  if (opened.event !== 'payment-request') throw new Error('assertion failed: a payment request');
  expect((await wallet.confirm(opened.request, custodyCustomer.pin)).status).toBe('completed');
  return accepted.paymentId;
}

/** The refund once its banks have answered (the POST usually has it already). */
async function settled(answer: RefundAnswer): Promise<RefundAnswer> {
  if (answer.status !== 'requested' && answer.status !== 'ordered') return answer;
  return waitFor(
    async () => {
      const now = await test.merchant.refundStatus(answer.paymentId, answer.refundId);
      return now.status !== 'requested' && now.status !== 'ordered' && now;
    },
    { deadlineMs: paymentSettledDeadlineMs, what: `refund ${answer.refundId} to settle` },
  );
}

/** The phone's refund receipts of a payment, opened (every forward verified) from the inbox. */
async function refundReceiptsOf(paymentId: string): Promise<RefundReceipt[]> {
  const receipts: RefundReceipt[] = [];
  for (const event of await inbox()) {
    if (event.event !== 'refund-receipt' || event.paymentId !== paymentId) continue;
    const opened = await wallet.openForward(event.forward);
    if (opened.event !== 'refund-receipt') throw new Error(`assertion failed: ${opened.event}`);
    receipts.push(opened.refundReceipt);
  }
  return receipts;
}

/** Waits until the phone holds `count` refund receipts of the payment, and returns them. */
async function awaitRefundReceipts(paymentId: string, count: number): Promise<RefundReceipt[]> {
  return waitFor(
    async () => {
      const receipts = await refundReceiptsOf(paymentId);
      return receipts.length >= count && receipts;
    },
    { deadlineMs: backgroundWorkDeadlineMs, what: `${count} refund receipt(s) of ${paymentId} on the phone` },
  );
}

/** The FSP's redirect of a refund receipt to custody, as the gateway sends it (or as a test crafts it). */
async function redirectRefundReceipt(
  paymentId: string,
  refundId: string,
  jws: string,
  signer: { key: GeneratedKeyPair['privateJwk'] } = { key: test.platform.fsp.signing.privateJwk },
) {
  const data = await encryptTo(jws, custodyEncryptionKey(custody));
  const body = JSON.stringify({ event: 'refund-receipt', paymentId, refundId, data });
  const authorization = await signRequest(
    { method: 'POST', path: '/fsp/messages', body },
    { issuer: test.platform.fsp.id, audience: custody.id, key: signer.key },
  );
  return postRaw(`${test.platform.urls.custody}/fsp/messages`, body, 'application/json', { authorization });
}

/** A forward signed by custody's own key (what a custody that lies could put in the inbox). */
async function custodyForward(paymentId: string, receipt: string): Promise<string> {
  const { custody: identity } = test.platform.custody.context;
  return signPayload(
    { forward: { event: 'refund-receipt', receipt } },
    { issuer: identity.id, audience: custodyCustomer.id, transactionId: paymentId, expiresInSeconds: 600 },
    identity.signing.privateJwk,
  );
}

describe('a refund to a customer whose key is in custody', () => {
  it('reaches the phone through custody as the FSP’s receipt, verified on the phone, with its evidence from the log', async () => {
    const before = await balanceOf(custodyCustomer.account);
    const paymentId = await paidThroughCustody(20_00n);
    expect(await balanceOf(custodyCustomer.account)).toBe(before - 20_00n);

    const part = await settled(
      await test.merchant.refund(paymentId, { amount: eur(8_00n), reason: 'one item returned' }),
    );
    expect(part).toMatchObject({ status: 'completed', amount: { currency: 'EUR', value: '8.00' } });
    expect(await balanceOf(custodyCustomer.account)).toBe(before - 12_00n);

    const [receipt] = await awaitRefundReceipts(paymentId, 1);
    expect(receipt).toMatchObject({
      refundId: part.refundId,
      paymentId,
      payer: merchant.id,
      amount: { currency: 'EUR', value: '8.00' },
    });
    expect((receipt!.payload.refundReceipt as { payee: string }).payee).toBe(custodyCustomer.id);
    // The FSP's outbox delivered the redirect once: custody acknowledged it. The gateway records that
    // after custody's answer, which the phone may beat to custody's inbox: waited for, not read once (a
    // CI run on 6 December read it a moment before).
    const redirects = async () =>
      (
        await test.platform.gateway.context.database.query<{ delivered: boolean; attempts: number }>(
          `SELECT delivered_at IS NOT NULL AS delivered, attempts FROM outbox
           WHERE kind = 'device_push' AND payload::json->>'refundId' = $1`,
          [part.refundId],
        )
      ).rows;
    const rows = await waitFor(
      async () => {
        const found = await redirects();
        return found.length > 0 && found.every((row) => row.delivered) ? found : undefined;
      },
      {
        deadlineMs: backgroundWorkDeadlineMs,
        what: `the gateway to record refund ${part.refundId}'s redirect`,
      },
    );
    expect(rows).toEqual([{ delivered: true, attempts: 1 }]);

    // The log's evidence of the refund, fetched by custody with the customer's key, verified here.
    const file = await waitFor(() => wallet.refundEvidence(paymentId, part.refundId), {
      deadlineMs: backgroundWorkDeadlineMs,
      what: `the log's evidence of refund ${part.refundId} through custody`,
    });
    const evidence = await verifyReceipt(file, {
      logVerifierKey: test.platform.log.logVerifierKey,
      witnessVerifierKeys: [test.platform.log.witnessVerifierKey],
      witnessesRequired: 1,
    });
    expect(evidence.receipt.transactionId).toBe(part.refundId);
    expect(evidence.receipt.messages).toContain(receipt!.jws);
    // Not for a refund custody forwarded none of, nor for a payment custody holds none of.
    expect(await expectCode(wallet.refundEvidence(paymentId, randomUUID()))).toBe('REFUND_UNKNOWN');
    expect(await expectCode(wallet.refundEvidence(randomUUID(), part.refundId))).toBe('PAYMENT_UNKNOWN');

    // The rest: a second receipt of the same payment, and the money all back.
    const rest = await settled(await test.merchant.refund(paymentId, { amount: eur(12_00n) }));
    expect(rest.status).toBe('completed');
    const receipts = await awaitRefundReceipts(paymentId, 2);
    expect(receipts.map((each) => [each.refundId, each.amount.value])).toEqual([
      [part.refundId, '8.00'],
      [rest.refundId, '12.00'],
    ]);
    expect(await balanceOf(custodyCustomer.account)).toBe(before);
    expect((await test.merchant.paymentStatus(paymentId)).status).toBe('refunded');
  });

  it('takes a second copy of the redirect as the first, and refuses forged or misplaced receipts at custody and at the phone', async () => {
    const paymentId = await paidThroughCustody(5_00n);
    const other = await paidThroughCustody(3_00n);
    const refund = await settled(await test.merchant.refund(paymentId, { amount: eur(2_00n) }));
    const [receipt] = await awaitRefundReceipts(paymentId, 1);
    const jws = receipt!.jws;
    const inboxBefore = await inbox();

    // The FSP's outbox sends the same receipt again: acknowledged, and nothing new for the phone.
    const again = await redirectRefundReceipt(paymentId, refund.refundId, jws);
    expect([again.status, again.body.status]).toEqual([200, 'accepted']);
    expect(await inbox()).toEqual(inboxBefore);

    // At custody: the genuine receipt under another payment of the same customer, or a payment
    // custody never held; a receipt the FSP did not sign; a redirect the FSP did not sign.
    expect((await redirectRefundReceipt(other, refund.refundId, jws)).code).toBe('CUSTODY_SOURCE_INVALID');
    expect((await redirectRefundReceipt(randomUUID(), refund.refundId, jws)).code).toBe(
      'CUSTODY_MESSAGE_UNKNOWN',
    );
    const impostor = await generateSigningKeyPair('ES256');
    const forgedRefundId = randomUUID();
    const forged = await signPayload(
      { refundReceipt: { ...(receipt!.payload.refundReceipt as object), refundId: forgedRefundId } },
      { issuer: test.fsp.id, audience: custodyCustomer.id, transactionId: paymentId, expiresInSeconds: 600 },
      // Another key under the FSP's kid: only the signature tells them apart.
      { ...impostor.privateJwk, kid: test.platform.fsp.signing.privateJwk.kid },
    );
    expect((await redirectRefundReceipt(paymentId, forgedRefundId, forged)).code).toBe(
      'CUSTODY_SOURCE_INVALID',
    );
    expect(
      (await redirectRefundReceipt(paymentId, refund.refundId, jws, { key: impostor.privateJwk })).code,
    ).toBe('CUSTODY_SOURCE_INVALID');
    expect(await inbox()).toEqual(inboxBefore);

    // At the phone, custody's word is not enough: a forward custody signed of a receipt the FSP
    // did not sign, or of the genuine receipt under another payment, is refused.
    expect(await expectCode(wallet.openForward(await custodyForward(paymentId, forged)))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
    expect(await expectCode(wallet.openForward(await custodyForward(other, jws)))).toBe('CLAIMS_INVALID');
    // The genuine forward of it still opens: the refusals were about what they changed.
    expect((await wallet.openForward(await custodyForward(paymentId, jws))).event).toBe('refund-receipt');
  });
});
