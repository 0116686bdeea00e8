import {
  decryptWith,
  encryptTo,
  type PrivateJwk,
  type PublicJwk,
  publicPart,
  signPayload,
  verifyPayload,
} from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import { parseFailureMsg2, parsePAppReqContent, parsePayConfirmToClientContent } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBankPair, type TestBankNode, type TestBankPair } from '../interbank/test-banks.ts';
import { type EnrolledKey, enrolTestCustomer, errorCodeOf, uniquePartyId } from '../test-helpers.ts';
import { macroOrderId } from './approval.ts';
import { contentOf, sha256 } from './approval-request.ts';
import {
  bankRequest,
  type MacroClient,
  type MacroTestPayment,
  newMacroClient,
  newMacroPayment,
  postApproval,
  postPaymentRequest,
  publishedBankKeys,
  sealedPAppResp,
  sendPaymentRequest,
  transactionDataHashOf,
} from './macro.test-helper.ts';

/**
 * Seed 002 §4.2 steps 6, 7 (and 8, 10, 11 as far as the client bank goes)
 * over HTTP between two banks on real databases: xbank is the client bank
 * (CB), ybank the merchant bank (MB); the test plays the MPASP (the FSP both
 * banks know) and the client's device.
 */

let pair: TestBankPair;
let x: TestBankNode;
let y: TestBankNode;
let bankJwk: PublicJwk;
let bankEncryptionJwk: PublicJwk;
const initialBalance = 100_000n;
/** The bank's statements verify for a day (macroBankLimits.statementLifetimeSeconds). */
const statementLifetime = { maxAgeSeconds: 86_400 };

let ann: MacroClient;
let bob: MacroClient;
let merchantId: string;
let merchantAccountId: string;

/** A payment of `client` to this file's merchant. */
function newPayment(client: MacroClient, minor: bigint, lifetimeSeconds?: number): MacroTestPayment {
  return newMacroPayment(client, merchantId, minor, lifetimeSeconds);
}

/** A request of the device, authenticated by a request token signed with `key` (the device's by default). */
async function deviceCall(
  client: MacroClient,
  path: string,
  key: PrivateJwk = client.device.signing.privateJwk,
) {
  const authorization = await signRequest(
    { method: 'GET', path, body: '' },
    { issuer: client.partyId, audience: 'xbank', key },
  );
  return bankRequest(x, 'GET', path, undefined, { authorization });
}

async function pendingSessions(client: MacroClient): Promise<string[]> {
  const answer = await deviceCall(client, '/macro/approval-requests');
  expect(answer.status).toBe(200);
  return (answer.body.approvalRequests as { sessionId: string }[]).map((entry) => entry.sessionId);
}

interface ConsentOptions {
  readonly decision?: 'approve' | 'decline';
  /** Changes to the signed content (another amount, session, client), the hash recomputed to match. */
  readonly change?: { minor?: bigint; sessionId?: string; from?: string; expiresAt?: string };
  readonly signer?: EnrolledKey;
  readonly issuer?: string;
}

/** Step 7 as the device makes it: PApp_Resp signed with its bound key, sealed to the bank. */
function sealedConsent(payment: MacroTestPayment, options: ConsentOptions = {}): Promise<string> {
  const change = options.change ?? {};
  const changed: MacroTestPayment = {
    ...payment,
    client: change.from === undefined ? payment.client : { ...payment.client, clientId: change.from },
    minor: change.minor ?? payment.minor,
    sessionId: change.sessionId ?? payment.sessionId,
    expiresAt: change.expiresAt ?? payment.expiresAt,
  };
  return sealedPAppResp(changed, bankEncryptionJwk, options);
}

async function balances() {
  return {
    ann: (await x.balance(ann.accountId)).balance,
    bob: (await x.balance(bob.accountId)).balance,
    merchant: (await y.balance(merchantAccountId)).balance,
  };
}

beforeAll(async () => {
  pair = await startBankPair();
  ({ x, y } = pair);
  ({ signingJwk: bankJwk, encryptionJwk: bankEncryptionJwk } = await publishedBankKeys(x));
  merchantId = uniquePartyId('merchant', 'ybank', 'shop');
  merchantAccountId = await y.openAccount('merchant', merchantId);
  ann = await newMacroClient(x, 'ann', initialBalance);
  bob = await newMacroClient(x, 'bob', initialBalance);
}, 60_000);

afterAll(async () => {
  await pair?.close();
});

describe('step 6: the MPASP asks the client bank', () => {
  it('makes PApp_Req, signed by the bank and sealed to the client device, when ABal_C is sufficient', async () => {
    const payment = newPayment(ann, 2_500n);
    const answer = await sendPaymentRequest(pair, payment);
    expect(answer).toEqual({
      status: 202,
      body: { state: 'approval_requested', sessionId: payment.sessionId },
    });
    const listed = await deviceCall(ann, '/macro/approval-requests');
    const entry = (listed.body.approvalRequests as { sessionId: string; pappReq: string }[]).find(
      (candidate) => candidate.sessionId === payment.sessionId,
    );
    expect(entry).toBeDefined();
    const jws = new TextDecoder().decode(
      await decryptWith(entry!.pappReq, [ann.device.encryption.privateJwk]),
    );
    const verified = await verifyPayload(jws, () => bankJwk, {
      audience: ann.partyId,
      issuer: 'xbank',
      transactionId: payment.sessionId,
    });
    expect(parsePAppReqContent(contentOf(verified.payload), sha256)).toEqual({
      kind: 'macro_papp_req',
      from: 'xbank',
      to: ann.clientId,
      sessionId: payment.sessionId,
      transactionId: payment.transactionId,
      amount: { currency: 'EUR', value: '25.00' },
      transactionDataHash: transactionDataHashOf(payment),
      expiresAt: payment.expiresAt,
    });
    // Another party's device sees none of it, and a key bound nowhere is not a device.
    expect(await pendingSessions(bob)).not.toContain(payment.sessionId);
    const stranger = await deviceCall(ann, '/macro/approval-requests', bob.device.signing.privateJwk);
    expect(stranger.status).toBe(401);
    // A device's token is used once: a copy sent again is refused and shows nothing.
    const authorization = await signRequest(
      { method: 'GET', path: '/macro/approval-requests', body: '' },
      { issuer: ann.partyId, audience: 'xbank', key: ann.device.signing.privateJwk },
    );
    const once = await bankRequest(x, 'GET', '/macro/approval-requests', undefined, { authorization });
    expect(once.status).toBe(200);
    const copy = await bankRequest(x, 'GET', '/macro/approval-requests', undefined, { authorization });
    expect([copy.status, (copy.body.error as { code?: string } | undefined)?.code]).toEqual([
      409,
      'MESSAGE_REPLAYED',
    ]);
    expect(copy.body.approvalRequests).toBeUndefined();
  });

  it('answers send_failure_msg2 when ABal_C is short, and never asks for an approval', async () => {
    const before = await balances();
    const payment = newPayment(ann, initialBalance + 1n);
    const answer = await sendPaymentRequest(pair, payment);
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({
      state: 'refused',
      code: 'INSUFFICIENT_FUNDS',
      sessionId: payment.sessionId,
    });
    expect(errorCodeOf(answer)).toBe('INSUFFICIENT_FUNDS');
    const verified = await verifyPayload(
      answer.body.failure,
      () => bankJwk,
      {
        audience: pair.fsp.id,
        issuer: 'xbank',
        transactionId: payment.sessionId,
      },
      statementLifetime,
    );
    expect(parseFailureMsg2(contentOf(verified.payload), sha256)).toMatchObject({
      from: 'xbank',
      to: pair.fsp.id,
      sessionId: payment.sessionId,
      amount: { currency: 'EUR', value: '1000.01' },
    });
    expect(await pendingSessions(ann)).not.toContain(payment.sessionId);
    // The same request again: the same answer; still no approval request, and none can be answered.
    const again = await sendPaymentRequest(pair, payment);
    expect(again).toEqual(answer);
    expect(await pendingSessions(ann)).not.toContain(payment.sessionId);
    const consent = await postApproval(x, payment.sessionId, await sealedConsent(payment));
    expect(errorCodeOf(consent)).toBe('MACRO_APPROVAL_UNKNOWN');
    expect(await balances()).toEqual(before);
  });

  it('is idempotent per SID_T and refuses another content under it', async () => {
    const payment = newPayment(ann, 700n);
    const first = await sendPaymentRequest(pair, payment);
    const retried = await sendPaymentRequest(pair, payment);
    expect(retried).toEqual(first);
    expect(first.status).toBe(202);
    expect((await pendingSessions(ann)).filter((id) => id === payment.sessionId)).toHaveLength(1);
    const other = await sendPaymentRequest(pair, payment, { amount: { currency: 'EUR', value: '7.01' } });
    expect(other.status).toBe(409);
    expect(errorCodeOf(other)).toBe('MACRO_SESSION_REUSED');
  });

  it('refuses an unknown ID_C, a request signed by another key, and one past T_EXP', async () => {
    const unknown = newPayment({ ...ann, clientId: 'C000000000001.xbank' }, 100n);
    const answer = await sendPaymentRequest(pair, unknown);
    expect(answer.status).toBe(404);
    expect(errorCodeOf(answer)).toBe('MACRO_CLIENT_UNKNOWN');
    const payment = newPayment(ann, 100n);
    const forged = await signPayload(
      { kind: 'macro_client_bank_request' },
      { issuer: pair.fsp.id, audience: 'xbank', transactionId: payment.sessionId, expiresInSeconds: 300 },
      ann.device.signing.privateJwk,
    );
    const refused = await postPaymentRequest(pair, { request: forged });
    expect(errorCodeOf(refused)).toBe('CRYPTO_VERIFICATION_FAILED');
    const late = await sendPaymentRequest(pair, payment, {
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    expect(errorCodeOf(late)).toBe('MESSAGE_EXPIRED');
    expect(await pendingSessions(ann)).not.toContain(payment.sessionId);
  });
});

describe('step 7: the client answers the client bank', () => {
  it('pays the merchant at the other bank on an approval, the hold posted on the MB answer', async () => {
    const before = await balances();
    const payment = newPayment(ann, 4_200n);
    expect((await sendPaymentRequest(pair, payment)).status).toBe(202);
    const answer = await postApproval(x, payment.sessionId, await sealedConsent(payment));
    expect(answer.status).toBe(201);
    const orderId = macroOrderId('xbank', payment.sessionId);
    expect(answer.body).toMatchObject({
      sessionId: payment.sessionId,
      state: 'approved',
      order: { id: orderId, state: 'completed' },
    });
    const statement = await verifyPayload(
      answer.body.statement,
      () => bankJwk,
      {
        audience: ann.partyId,
        issuer: 'xbank',
        transactionId: payment.sessionId,
      },
      statementLifetime,
    );
    expect(statement.payload.macroApproval).toMatchObject({
      state: 'approved',
      clientId: ann.clientId,
      orderId,
      orderState: 'completed',
      merchantId,
      amount: { currency: 'EUR', value: '42.00' },
    });
    expect(await balances()).toEqual({
      ...before,
      ann: before.ann - 4_200n,
      merchant: before.merchant + 4_200n,
    });
    expect((await x.balance(ann.accountId)).available).toBe(before.ann - 4_200n);
    const order = await x.call('GET', `/payment-orders/${orderId}`);
    expect(order.body).toMatchObject({ state: 'completed', payeeId: merchantId, creditBankId: 'ybank' });
    expect(await pendingSessions(ann)).not.toContain(payment.sessionId);

    // Step 11: Pay_Confirm for the client, sealed to the device.
    const confirmation = await deviceCall(ann, `/macro/confirmations/${payment.sessionId}`);
    expect(confirmation.body).toMatchObject({ sessionId: payment.sessionId, state: 'completed' });
    const jws = new TextDecoder().decode(
      await decryptWith(confirmation.body.payConfirm, [ann.device.encryption.privateJwk]),
    );
    const confirmed = await verifyPayload(
      jws,
      () => bankJwk,
      { audience: ann.partyId, issuer: 'xbank', transactionId: payment.sessionId },
      statementLifetime,
    );
    expect(parsePayConfirmToClientContent(contentOf(confirmed.payload), sha256)).toMatchObject({
      to: ann.clientId,
      sessionId: payment.sessionId,
      merchantId,
      amount: { currency: 'EUR', value: '42.00' },
    });
    const otherParty = await deviceCall(bob, `/macro/confirmations/${payment.sessionId}`);
    expect(errorCodeOf(otherParty)).toBe('MACRO_APPROVAL_UNKNOWN');

    // The same PApp_Resp again, or a new one for the same SID_T: refused, paid once.
    const replayed = await postApproval(x, payment.sessionId, await sealedConsent(payment));
    expect(replayed.status).toBe(409);
    expect(errorCodeOf(replayed)).toBe('MACRO_APPROVAL_REPLAYED');
    expect(await balances()).toEqual({
      ...before,
      ann: before.ann - 4_200n,
      merchant: before.merchant + 4_200n,
    });
  });

  it('refuses a PApp_Resp for another amount, session or client, or signed by a key of another party', async () => {
    const before = await balances();
    const payment = newPayment(ann, 1_000n);
    const other = newPayment(ann, 1_000n);
    expect((await sendPaymentRequest(pair, payment)).status).toBe(202);
    expect((await sendPaymentRequest(pair, other)).status).toBe(202);
    const cases: readonly [string, ConsentOptions][] = [
      ['another amount', { change: { minor: 999n } }],
      ['another session', { change: { sessionId: other.sessionId } }],
      ['another client', { change: { from: bob.clientId } }],
      [
        'another T_EXP',
        { change: { expiresAt: new Date(Date.parse(payment.expiresAt) + 1000).toISOString() } },
      ],
      ['a key of another party', { signer: bob.device }],
      ['a key of another party claiming the client', { signer: bob.device, issuer: ann.partyId }],
    ];
    for (const [name, options] of cases) {
      const answer = await postApproval(x, payment.sessionId, await sealedConsent(payment, options));
      expect({ name, status: answer.status, code: errorCodeOf(answer) }).toEqual({
        name,
        status: 403,
        code: 'MACRO_APPROVAL_INVALID',
      });
    }
    expect(await balances()).toEqual(before);
    // Nothing was used up: the client's own approval still goes through afterwards (here: a decline).
    expect(await pendingSessions(ann)).toContain(payment.sessionId);
    const declined = await postApproval(
      x,
      payment.sessionId,
      await sealedConsent(payment, { decision: 'decline' }),
    );
    expect(declined.status).toBe(200);
    expect(declined.body).toMatchObject({ state: 'declined', sessionId: payment.sessionId });
    expect(declined.body.order).toBeUndefined();
    // Decline is final: an approval after it is a replay, and nothing moved.
    const approvedLater = await postApproval(x, payment.sessionId, await sealedConsent(payment));
    expect(errorCodeOf(approvedLater)).toBe('MACRO_APPROVAL_REPLAYED');
    expect(await balances()).toEqual(before);
    const confirmation = await deviceCall(ann, `/macro/confirmations/${payment.sessionId}`);
    expect(confirmation.body).toEqual({ sessionId: payment.sessionId, state: 'declined' });
  });

  it('refuses a PApp_Resp after T_EXP', async () => {
    const before = await balances();
    const payment = newPayment(ann, 300n, 30);
    expect((await sendPaymentRequest(pair, payment)).status).toBe(202);
    const consent = await sealedConsent(payment);
    x.offsetMs = 31_000;
    try {
      const answer = await postApproval(x, payment.sessionId, consent);
      expect(answer.status).toBe(422);
      expect(errorCodeOf(answer)).toBe('MACRO_APPROVAL_EXPIRED');
      expect(await pendingSessions(ann)).not.toContain(payment.sessionId);
    } finally {
      x.offsetMs = 0;
    }
    expect(await balances()).toEqual(before);
  });

  it('refuses a PApp_Resp signed under a revoked binding', async () => {
    const before = await balances();
    const lost = await enrolTestCustomer(x, ann.partyId, [ann.accountId]);
    const payment = newPayment(ann, 500n);
    expect((await sendPaymentRequest(pair, payment)).status).toBe(202);
    const sealed = await sealedConsent(payment, { signer: lost });
    const revoked = await x.call('POST', `/key-bindings/${lost.serial}/revocation`, { reason: 'lost phone' });
    expect(revoked.status).toBe(201);
    const answer = await postApproval(x, payment.sessionId, sealed);
    expect(errorCodeOf(answer)).toBe('MACRO_APPROVAL_INVALID');
    expect(await balances()).toEqual(before);
    expect(await pendingSessions(ann)).toContain(payment.sessionId);
  });

  it('refuses what the bank cannot open, and a session it never asked about', async () => {
    const payment = newPayment(ann, 100n);
    const early = await postApproval(x, payment.sessionId, await sealedConsent(payment));
    expect(errorCodeOf(early)).toBe('MACRO_APPROVAL_UNKNOWN');
    expect((await sendPaymentRequest(pair, payment)).status).toBe(202);
    const garbage = await encryptTo('not json', bankEncryptionJwk);
    expect(errorCodeOf(await postApproval(x, payment.sessionId, garbage))).toBe('REQUEST_INVALID');
    const toDevice = await encryptTo(
      JSON.stringify({ pappResp: 'a.b.c' }),
      publicPart(ann.device.encryption.privateJwk),
    );
    expect(errorCodeOf(await postApproval(x, payment.sessionId, toDevice))).toBe('CRYPTO_DECRYPTION_FAILED');
  });
});
