import { type PublicJwk, verifyPayload } from '@mpay/envelope';
import { isClientBankSessionState } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBankPair, type TestBankNode, type TestBankPair } from '../interbank/test-banks.ts';
import { errorCodeOf, type HttpAnswer, uniquePartyId } from '../test-helpers.ts';
import { macroOrderId } from './approval.ts';
import {
  bankRequest,
  type MacroClient,
  type MacroTestPayment,
  newMacroClient,
  newMacroPayment,
  postApproval,
  publishedBankKeys,
  requestAsCaller,
  sealedPAppResp,
  sendPaymentRequest,
} from './macro.test-helper.ts';

/**
 * GET /macro/sessions/:sessionId/outcome over HTTP on real databases: xbank
 * is the client bank, ybank the merchant bank; the test plays the MPASP
 * (the FSP both banks know, named by x-test-caller) and the client's device.
 * Every end of a session is read back as the bank's signed statement, and
 * only by the MPASP that sent step 6.
 */

let pair: TestBankPair;
let x: TestBankNode;
let bankJwk: PublicJwk;
let bankEncryptionJwk: PublicJwk;
let merchantId: string;

function newClient(prefix: string, balance: bigint): Promise<MacroClient> {
  return newMacroClient(x, prefix, balance);
}

function newPayment(client: MacroClient, minor: bigint): MacroTestPayment {
  return newMacroPayment(client, merchantId, minor);
}

/** Step 7 as the device makes it, straight to the client bank. */
async function answerApproval(
  payment: MacroTestPayment,
  decision: 'approve' | 'decline',
): Promise<HttpAnswer> {
  return postApproval(x, payment.sessionId, await sealedPAppResp(payment, bankEncryptionJwk, { decision }));
}

function outcomeOf(sessionId: string, caller = pair.fsp.id): Promise<HttpAnswer> {
  return requestAsCaller(x, caller, 'GET', `/macro/sessions/${sessionId}/outcome`);
}

/** The answer's statement, verified under xbank's published key for the FSP and SID_T: its `macroSession`. */
async function signedSession(answer: HttpAnswer, sessionId: string): Promise<Record<string, unknown>> {
  expect(answer.status).toBe(200);
  const verified = await verifyPayload(
    answer.body.statement,
    () => bankJwk,
    { issuer: 'xbank', audience: pair.fsp.id, transactionId: sessionId },
    { maxAgeSeconds: 86_400 },
  );
  const session = verified.payload.macroSession as Record<string, unknown>;
  expect(isClientBankSessionState(session.state)).toBe(true);
  // The plain answer says what the statement says.
  const { statement, ...plain } = answer.body;
  expect(plain).toEqual({
    sessionId: session.sessionId,
    state: session.state,
    ...(session.refusalCode === undefined ? {} : { refusalCode: session.refusalCode }),
    ...(session.orderId === undefined ? {} : { orderId: session.orderId }),
  });
  return session;
}

beforeAll(async () => {
  pair = await startBankPair();
  x = pair.x;
  ({ signingJwk: bankJwk, encryptionJwk: bankEncryptionJwk } = await publishedBankKeys(x));
  merchantId = uniquePartyId('merchant', 'ybank', 'shop');
  await pair.y.openAccount('merchant', merchantId);
}, 60_000);

afterAll(async () => {
  await pair?.close();
});

describe('GET /macro/sessions/:sessionId/outcome: the client bank’s signed word on a session', () => {
  it('says approval_requested after step 6, then declined after the client’s decline, signed for the MPASP', async () => {
    const client = await newClient('dana', 10_000n);
    const payment = newPayment(client, 2_500n);
    expect((await sendPaymentRequest(pair, payment)).status).toBe(202);
    expect(await signedSession(await outcomeOf(payment.sessionId), payment.sessionId)).toEqual({
      sessionId: payment.sessionId,
      transactionId: payment.transactionId,
      state: 'approval_requested',
      amount: { currency: 'EUR', value: '25.00' },
      expiresAt: payment.expiresAt,
    });
    expect((await answerApproval(payment, 'decline')).body).toMatchObject({ state: 'declined' });
    const declined = await signedSession(await outcomeOf(payment.sessionId), payment.sessionId);
    expect(declined).toMatchObject({ state: 'declined', transactionId: payment.transactionId });
    expect(declined.refusalCode).toBeUndefined();
    expect(declined.orderId).toBeUndefined();
  });

  it('says approved with the order’s id once the client approved', async () => {
    const client = await newClient('emil', 10_000n);
    const payment = newPayment(client, 1_200n);
    expect((await sendPaymentRequest(pair, payment)).status).toBe(202);
    expect((await answerApproval(payment, 'approve')).body).toMatchObject({ state: 'approved' });
    expect(await signedSession(await outcomeOf(payment.sessionId), payment.sessionId)).toMatchObject({
      state: 'approved',
      orderId: macroOrderId('xbank', payment.sessionId),
      amount: { currency: 'EUR', value: '12.00' },
    });
  });

  it('says refused with the code when the balance fell between step 6 and the hold, and when it was short at step 6', async () => {
    const client = await newClient('fatma', 1_000n);
    // Both fit the balance at step 6; the first approval spends it, so the second's hold is refused.
    const first = newPayment(client, 600n);
    const second = newPayment(client, 600n);
    expect((await sendPaymentRequest(pair, first)).status).toBe(202);
    expect((await sendPaymentRequest(pair, second)).status).toBe(202);
    expect((await answerApproval(first, 'approve')).body).toMatchObject({ state: 'approved' });
    expect(errorCodeOf(await answerApproval(second, 'approve'))).toBe('INSUFFICIENT_FUNDS');
    const atHold = await signedSession(await outcomeOf(second.sessionId), second.sessionId);
    expect(atHold).toMatchObject({ state: 'refused', refusalCode: 'INSUFFICIENT_FUNDS' });
    expect(atHold.orderId).toBeUndefined();

    const short = newPayment(client, 5_000n);
    expect((await sendPaymentRequest(pair, short)).status).toBe(422);
    expect(await signedSession(await outcomeOf(short.sessionId), short.sessionId)).toMatchObject({
      state: 'refused',
      refusalCode: 'INSUFFICIENT_FUNDS',
    });
  });

  it('tells any other caller, and anyone about a session it never saw, MACRO_APPROVAL_UNKNOWN; refuses the unauthenticated', async () => {
    const client = await newClient('goran', 10_000n);
    const payment = newPayment(client, 700n);
    expect((await sendPaymentRequest(pair, payment)).status).toBe(202);
    const other = await outcomeOf(payment.sessionId, 'other.fsp');
    expect({ status: other.status, code: errorCodeOf(other) }).toEqual({
      status: 404,
      code: 'MACRO_APPROVAL_UNKNOWN',
    });
    expect(other.body.statement).toBeUndefined();
    const unknown = await outcomeOf(newPayment(client, 700n).sessionId);
    expect({ status: unknown.status, code: errorCodeOf(unknown) }).toEqual({
      status: 404,
      code: 'MACRO_APPROVAL_UNKNOWN',
    });
    const anonymous = await bankRequest(x, 'GET', `/macro/sessions/${payment.sessionId}/outcome`);
    expect(errorCodeOf(anonymous)).toBe('AUTHENTICATION_FAILED');
    expect(errorCodeOf(await outcomeOf('not-a-session'))).toBe('REQUEST_INVALID');
  });
});
