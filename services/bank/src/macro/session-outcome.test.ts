import { randomUUID } from 'node:crypto';
import { encryptTo, type PublicJwk, parsePublicJwk, signPayload, verifyPayload } from '@mpay/envelope';
import {
  createAmount,
  createSession,
  createTranId,
  createTransactionData,
  hashTransactionData,
  isClientBankSessionState,
  macroAmountOf,
} from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBankPair, type TestBankNode, type TestBankPair } from '../interbank/test-banks.ts';
import {
  type EnrolledKey,
  enrolTestCustomer,
  errorCodeOf,
  type HttpAnswer,
  testBearerToken,
  uniquePartyId,
} from '../test-helpers.ts';
import { macroOrderId } from './approval.ts';
import { sha256 } from './approval-request.ts';

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

interface Client {
  readonly partyId: string;
  readonly clientId: string;
  readonly accountId: string;
  readonly device: EnrolledKey;
}

interface Payment {
  readonly client: Client;
  readonly sessionId: string;
  readonly transactionId: string;
  readonly minor: bigint;
  readonly date: Date;
  readonly expiresAt: string;
}

async function request(
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<HttpAnswer> {
  const response = await fetch(`${x.url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** A request authenticated as `caller` by the test verifier (the FSP unless told otherwise). */
function asCaller(method: 'GET' | 'POST', path: string, body?: unknown, caller = pair.fsp.id) {
  return request(method, path, body, { authorization: `Bearer ${testBearerToken}`, 'x-test-caller': caller });
}

async function newClient(prefix: string, balance: bigint): Promise<Client> {
  const partyId = uniquePartyId('person', 'xbank', prefix);
  const accountId = await x.openAccount('customer', partyId);
  const funding = await x.openAccount('funding');
  const funded = await x.call('POST', '/transfers', {
    id: randomUUID(),
    debitAccountId: funding,
    creditAccountId: accountId,
    amount: `${balance}`,
    currency: 'EUR',
  });
  if (funded.status !== 201) throw new Error(`fund: ${JSON.stringify(funded.body)}`);
  const device = await enrolTestCustomer(x, partyId, [accountId]);
  const issued = await x.call('POST', '/macro/clients', {
    partyId,
    msisdn: `+4916${String(Math.floor(Math.random() * 1e9)).padStart(9, '0')}`,
    bindingSerial: device.serial,
  });
  if (issued.status !== 201) throw new Error(`client id: ${JSON.stringify(issued.body)}`);
  return { partyId, accountId, device, clientId: issued.body.clientId as string };
}

function newPayment(client: Client, minor: bigint): Payment {
  const date = new Date(Math.floor(Date.now() / 1000) * 1000);
  const random16 = () => crypto.getRandomValues(new Uint8Array(16));
  const transactionId = createTranId(client.clientId, date, random16());
  return {
    client,
    sessionId: createSession(transactionId, random16()),
    transactionId,
    minor,
    date,
    expiresAt: new Date(date.getTime() + 300_000).toISOString(),
  };
}

function transactionDataOf(payment: Payment) {
  return createTransactionData({
    date: payment.date,
    amount: createAmount('EUR', payment.minor),
    merchantId,
  });
}

/** Step 6 as the MPASP sends it. */
async function sendPaymentRequest(payment: Payment): Promise<HttpAnswer> {
  const content = {
    kind: 'macro_client_bank_request',
    from: pair.fsp.id,
    to: 'xbank',
    sessionId: payment.sessionId,
    transactionId: payment.transactionId,
    clientId: payment.client.clientId,
    amount: macroAmountOf(createAmount('EUR', payment.minor)),
    transactionDataHash: hashTransactionData(transactionDataOf(payment), sha256),
    expiresAt: payment.expiresAt,
  };
  const jws = await signPayload(
    content,
    { issuer: pair.fsp.id, audience: 'xbank', transactionId: payment.sessionId, expiresInSeconds: 300 },
    pair.fsp.signingKey,
  );
  return asCaller('POST', '/macro/payment-requests', { request: jws });
}

/** Step 7 as the device makes it, straight to the client bank. */
async function answerApproval(payment: Payment, decision: 'approve' | 'decline'): Promise<HttpAnswer> {
  const data = transactionDataOf(payment);
  const pappResp = await signPayload(
    {
      kind: 'macro_papp_resp',
      from: payment.client.clientId,
      to: 'xbank',
      sessionId: payment.sessionId,
      transactionId: payment.transactionId,
      amount: macroAmountOf(createAmount('EUR', payment.minor)),
      transactionDate: data.date,
      merchantId,
      merchantBankId: 'ybank',
      transactionDataHash: hashTransactionData(data, sha256),
      expiresAt: payment.expiresAt,
      decision,
    },
    {
      issuer: payment.client.partyId,
      audience: 'xbank',
      transactionId: payment.sessionId,
      expiresInSeconds: 120,
    },
    payment.client.device.signing.privateJwk,
  );
  const approval = await encryptTo(JSON.stringify({ pappResp }), bankEncryptionJwk);
  return request('POST', `/macro/approvals/${payment.sessionId}`, { approval }, {});
}

function outcomeOf(sessionId: string, caller?: string): Promise<HttpAnswer> {
  return asCaller('GET', `/macro/sessions/${sessionId}/outcome`, undefined, caller);
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
  const published = await x.call('GET', '/bank');
  bankJwk = parsePublicJwk((published.body.keys as { keys: unknown[] }).keys[0]);
  bankEncryptionJwk = parsePublicJwk(published.body.encryptionJwk);
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
    expect((await sendPaymentRequest(payment)).status).toBe(202);
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
    expect((await sendPaymentRequest(payment)).status).toBe(202);
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
    expect((await sendPaymentRequest(first)).status).toBe(202);
    expect((await sendPaymentRequest(second)).status).toBe(202);
    expect((await answerApproval(first, 'approve')).body).toMatchObject({ state: 'approved' });
    expect(errorCodeOf(await answerApproval(second, 'approve'))).toBe('INSUFFICIENT_FUNDS');
    const atHold = await signedSession(await outcomeOf(second.sessionId), second.sessionId);
    expect(atHold).toMatchObject({ state: 'refused', refusalCode: 'INSUFFICIENT_FUNDS' });
    expect(atHold.orderId).toBeUndefined();

    const short = newPayment(client, 5_000n);
    expect((await sendPaymentRequest(short)).status).toBe(422);
    expect(await signedSession(await outcomeOf(short.sessionId), short.sessionId)).toMatchObject({
      state: 'refused',
      refusalCode: 'INSUFFICIENT_FUNDS',
    });
  });

  it('tells any other caller, and anyone about a session it never saw, MACRO_APPROVAL_UNKNOWN; refuses the unauthenticated', async () => {
    const client = await newClient('goran', 10_000n);
    const payment = newPayment(client, 700n);
    expect((await sendPaymentRequest(payment)).status).toBe(202);
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
    const anonymous = await request('GET', `/macro/sessions/${payment.sessionId}/outcome`, undefined, {});
    expect(errorCodeOf(anonymous)).toBe('AUTHENTICATION_FAILED');
    expect(errorCodeOf(await outcomeOf('not-a-session'))).toBe('REQUEST_INVALID');
  });
});
