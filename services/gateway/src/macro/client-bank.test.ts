import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type GeneratedKeyPair, generateSigningKeyPair, signPayload, verifyPayload } from '@mpay/envelope';
import {
  createAmount,
  createChallengeContent,
  createClientBankRequestContent,
  createSecretAnswerContent,
  createSession,
  createTranId,
  createTransactionData,
  hashTransactionData,
  macroAmountOf,
  macroIdRandomBytes,
  macroOrderId,
  parseClientBankRequestContent,
  startMacro,
  stepMacro,
} from '@mpay/protocol';
import { startOutboxLeases } from '@mpay/storage';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requestDeadlineMs, waitFor } from '../../../../test/support/deadlines.ts';
import { createGatewayService } from '../service.ts';
import type { RecordedRequest, StubAnswer } from '../test-helpers.ts';
import {
  claimDueClientBankRequests,
  claimDueOutcomeChecks,
  findClientBankExchange,
  releaseMacroLeases,
} from './client-bank-store.ts';
import {
  enrolDevice,
  type MacroTestGateway,
  mailedCredentials,
  register,
  registrationOf,
  startMacroTestGateway,
  testBankId,
} from './macro.test-helper.ts';
import {
  applyMacroStep,
  findMacroPayment,
  insertClientBankRequest,
  insertMacroPayment,
  macroPaymentEvents,
} from './payment-store.ts';

/**
 * Steps 6 and 12 at the MPASP against a client bank stood in for by an HTTP
 * stub: what the MPASP sends, how each answer steps the payment, and that
 * nothing unsigned or mis-signed is recorded. Steps 1–5 are put in place
 * through the core and the store (payment.test.ts runs them over HTTP).
 */
let gateway: MacroTestGateway;
let clientId: string;
const sha256 = (data: Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());
const amount = createAmount('EUR', 4_990n);
const merchantId = 'merkur.trade@merchant.ybank';

/** How the stub answers the routes of steps 6 and 12 (the registration route keeps its own behaviour). */
let clientBank: (request: RecordedRequest) => StubAnswer | Promise<StubAnswer>;

beforeAll(async () => {
  gateway = await startMacroTestGateway();
  const device = await enrolDevice(gateway.bank);
  const registration = registrationOf(device);
  expect((await register(gateway, device, registration)).status).toBe(201);
  await gateway.service.runBackgroundOnce();
  clientId = mailedCredentials(gateway.mails, registration.email).clientId;
  gateway.bankStub.answer = (request) =>
    request.url === '/macro/clients' ? gateway.bankBehaviour(request) : clientBank(request);
});
afterAll(async () => {
  await gateway?.close();
});
beforeEach(() => {
  clientBank = () => ({ status: 404, json: { error: { code: 'NOT_FOUND', message: 'no such route' } } });
});

/** A payment through steps 1–5 (the core, stored as the routes store it), its step-6 request prepared. */
async function sessionCreated() {
  const now = gateway.now();
  const data = createTransactionData({ date: now, amount, merchantId });
  const requested = startMacro(
    {
      kind: 'payment_request',
      receivedBy: 'MPASP',
      content: {
        kind: 'macro_payment_request',
        from: clientId,
        to: gateway.fsp.id,
        requestId: randomUUID(),
        amount: macroAmountOf(amount),
        transactionDataHash: hashTransactionData(data, sha256),
        expiresAt: new Date(now.getTime() + 60_000).toISOString(),
      },
    },
    now,
  );
  const transactionId = createTranId(clientId, now, randomBytes(macroIdRandomBytes));
  const challenged = stepMacro(requested.payment, { kind: 'challenge_created', transactionId }, now);
  const challenge = createChallengeContent(challenged.payment, 'Name of your first school?');
  const sessionId = createSession(transactionId, randomBytes(macroIdRandomBytes));
  await gateway.database.transaction(async (sql) => {
    await insertMacroPayment(sql, [requested, challenged], challenge, now);
    let payment = challenged.payment;
    for (const event of [
      { kind: 'challenge_opened', transactionId } as const,
      {
        kind: 'secret_answer',
        receivedBy: 'MPASP',
        content: createSecretAnswerContent(challenge, 'Saint Mary'),
      } as const,
      { kind: 'secret_checked', sessionId, clientBankId: testBankId } as const,
    ]) {
      const result = stepMacro(payment, event, now);
      await applyMacroStep(sql, transactionId, result, now);
      payment = result.payment;
    }
    await insertClientBankRequest(sql, createClientBankRequestContent(payment), now);
  });
  return { transactionId, sessionId, orderId: macroOrderId(testBankId, sessionId, sha256) };
}

async function stateOf(transactionId: string): Promise<string | undefined> {
  return (await findMacroPayment(gateway.database, transactionId))?.payment.state;
}

function requestsTo(path: string): RecordedRequest[] {
  return gateway.bankStub.requests.filter((request) => request.url === path);
}

/** The claims and content of the step-6 JWS in a recorded request, read without verifying. */
function signedContentOf(request: RecordedRequest): Record<string, unknown> {
  const jws = (JSON.parse(request.body) as { request: string }).request;
  return JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** The step-6 requests sent for SID_T, in order. */
function sentFor(sessionId: string): RecordedRequest[] {
  return requestsTo('/macro/payment-requests').filter(
    (request) => signedContentOf(request).txn === sessionId,
  );
}

/** The client bank's answers to step 6, as services/bank answers them. */
const approvalRequested = (sessionId: string): StubAnswer => ({
  status: 202,
  json: { state: 'approval_requested', sessionId },
});

async function failureMsg2(
  payment: { transactionId: string; sessionId: string },
  key: GeneratedKeyPair = gateway.bank.key,
  change: Record<string, unknown> = {},
): Promise<StubAnswer> {
  const stored = await findMacroPayment(gateway.database, payment.transactionId);
  const failure = await signPayload(
    {
      kind: 'macro_failure_msg2',
      from: testBankId,
      to: gateway.fsp.id,
      sessionId: payment.sessionId,
      transactionId: payment.transactionId,
      amount: macroAmountOf(amount),
      expiresAt: stored!.payment.expiresAt.toISOString(),
      ...change,
    },
    {
      issuer: testBankId,
      audience: gateway.fsp.id,
      transactionId: payment.sessionId,
      expiresInSeconds: 3_600,
    },
    key.privateJwk,
  );
  return {
    status: 422,
    json: {
      state: 'refused',
      sessionId: payment.sessionId,
      code: 'INSUFFICIENT_FUNDS',
      failure,
      error: { code: 'INSUFFICIENT_FUNDS', message: 'insufficient funds' },
    },
  };
}

/** The client bank's GET /payment-orders/:id answer for a finished order, signed as services/bank signs it. */
async function finishedOrder(
  orderId: string,
  state: 'completed' | 'refused',
  change: Record<string, unknown> = {},
  key: GeneratedKeyPair = gateway.bank.key,
): Promise<StubAnswer> {
  const paymentOrder = {
    id: orderId,
    state,
    payerId: 'ann@person.xbank',
    payeeId: merchantId,
    amount: amount.minor.toString(),
    currency: 'EUR',
    ...(state === 'refused' ? { refusalCode: 'PAYEE_UNKNOWN' } : {}),
    ...change,
  };
  const bankAnswer = await signPayload(
    { paymentOrder },
    { issuer: testBankId, audience: gateway.fsp.id, transactionId: orderId, expiresInSeconds: 600 },
    key.privateJwk,
  );
  return { status: 200, json: { ...paymentOrder, creditBankId: 'ybank', attempts: 1, bankAnswer } };
}

const noOrder: StubAnswer = {
  status: 404,
  json: { error: { code: 'TRANSFER_UNKNOWN', message: 'unknown transfer' } },
};

type SessionState = 'approval_requested' | 'declined' | 'refused' | 'approved';

/** The client bank's GET /macro/sessions/:sessionId/outcome answer, signed as services/bank signs it. */
async function sessionOutcome(
  payment: { transactionId: string; sessionId: string; orderId: string },
  state: SessionState,
  change: Record<string, unknown> = {},
  key: GeneratedKeyPair = gateway.bank.key,
  /** When the bank signs it: the gateway's clock by default (the bank's and the MPASP's agree). */
  signedAt: Date = gateway.now(),
): Promise<StubAnswer> {
  const stored = await findMacroPayment(gateway.database, payment.transactionId);
  const facts = {
    ...(state === 'refused' ? { refusalCode: 'INSUFFICIENT_FUNDS' } : {}),
    ...(state === 'approved' ? { orderId: payment.orderId } : {}),
  };
  const macroSession = {
    sessionId: payment.sessionId,
    transactionId: payment.transactionId,
    state,
    amount: macroAmountOf(amount),
    expiresAt: stored!.payment.expiresAt.toISOString(),
    ...facts,
    ...change,
  };
  const statement = await signPayload(
    { macroSession },
    {
      issuer: testBankId,
      audience: gateway.fsp.id,
      transactionId: payment.sessionId,
      expiresInSeconds: 600,
      now: () => signedAt.getTime(),
    },
    key.privateJwk,
  );
  return { status: 200, json: { sessionId: payment.sessionId, state, ...facts, statement } };
}

const statementOf = (answer: StubAnswer) => (answer as { json: { statement: string } }).json.statement;

describe('step 6 at the MPASP: the Payment Request to the client bank', () => {
  it('sends the stored content signed by the MPASP to the bank ID_C names, and steps to approval_requested on 202', async () => {
    const payment = await sessionCreated();
    let session: StubAnswer = noOrder;
    clientBank = (request) =>
      request.url === '/macro/payment-requests'
        ? approvalRequested(payment.sessionId)
        : request.url === `/macro/sessions/${payment.sessionId}/outcome`
          ? session
          : noOrder;
    session = await sessionOutcome(payment, 'approval_requested');
    await gateway.service.runBackgroundOnce();
    expect(await stateOf(payment.transactionId)).toBe('approval_requested');
    const [sent] = sentFor(payment.sessionId);
    expect(sent?.headers.authorization).toMatch(/^MPay /);
    const jws = (JSON.parse(sent!.body) as { request: string }).request;
    const verified = await verifyPayload(jws, () => gateway.fsp.signing.publicJwk, {
      issuer: gateway.fsp.id,
      audience: testBankId,
      transactionId: payment.sessionId,
    });
    const { iss, aud, txn, iat, exp, nonce, ...content } = verified.payload;
    expect(Number(exp) - Number(iat)).toBeLessThanOrEqual(60);
    expect(parseClientBankRequestContent(content, sha256)).toMatchObject({
      kind: 'macro_client_bank_request',
      from: gateway.fsp.id,
      to: testBankId,
      sessionId: payment.sessionId,
      transactionId: payment.transactionId,
      clientId,
      amount: macroAmountOf(amount),
    });
    const exchange = await findClientBankExchange(gateway.database, payment.transactionId);
    // The step-12 watch began in the same round: the bank's signed word is that the client has not answered yet.
    expect(exchange).toMatchObject({ attempts: 1, failureMsg2: null, lastError: 'approval_requested' });
    expect(exchange?.sentAt).not.toBeNull();
    const events = await macroPaymentEvents(gateway.database, payment.transactionId);
    expect(events.at(-1)).toMatchObject({
      step: 6,
      transition: 'balance_checked',
      toState: 'approval_requested',
    });
    // Sent once: a later round does not send it again.
    await gateway.service.runBackgroundOnce();
    expect(sentFor(payment.sessionId)).toHaveLength(1);
  });

  it('is taken back at once by the next start of the instance whose killed start was sending it, with its step-12 check', async () => {
    const payment = await sessionCreated();
    const leases = (name: string) =>
      startOutboxLeases(gateway.database, name, gateway.now(), { alsoRelease: releaseMacroLeases });
    const ownerOf = async () =>
      (
        await gateway.database.query<{ request: string | null; check: string | null }>(
          `SELECT request_lease_owner::text AS request, check_lease_owner::text AS check
           FROM macro_client_bank_requests WHERE transaction_id = $1`,
          [payment.transactionId],
        )
      ).rows[0];
    // The instance `gateway` claims the step-6 request and is killed before it sends it.
    const killed = await leases('gateway');
    const leaseUntil = new Date(gateway.now().getTime() + gateway.service.context.limits.outboxLeaseMs);
    const claimed = await claimDueClientBankRequests(
      gateway.database,
      gateway.now(),
      leaseUntil,
      10,
      killed.bootId,
    );
    expect(claimed.map((request) => request.sessionId)).toEqual([payment.sessionId]);
    expect(await ownerOf()).toEqual({ request: killed.bootId, check: null });
    clientBank = (request) =>
      request.url === '/macro/payment-requests' ? approvalRequested(payment.sessionId) : noOrder;
    // Leased: nobody sends it meanwhile.
    await gateway.service.runBackgroundOnce();
    expect(sentFor(payment.sessionId)).toHaveLength(0);
    // `gateway` starts again: the request is due now, not a lease later (and another instance's would not be).
    const restarted = await leases('gateway');
    expect(restarted.released).toBe(1);
    expect(await ownerOf()).toEqual({ request: null, check: null });
    await gateway.service.runBackgroundOnce();
    expect(sentFor(payment.sessionId)).toHaveLength(1);
    expect(await stateOf(payment.transactionId)).toBe('approval_requested');
    // The step-12 check the next start claims and is killed in: the start after it hands it back.
    gateway.advanceSeconds(120);
    const watched = await claimDueOutcomeChecks(
      gateway.database,
      gateway.now(),
      new Date(gateway.now().getTime() + gateway.service.context.limits.outboxLeaseMs),
      10,
      restarted.bootId,
    );
    // (The earlier tests' payments still watched are claimed with it.)
    expect(watched.map((entry) => entry.sessionId)).toContain(payment.sessionId);
    expect(await ownerOf()).toEqual({ request: null, check: restarted.bootId });
    expect((await leases('gateway-2')).released).toBe(0);
    expect((await leases('gateway')).released).toBe(watched.length);
    expect(await ownerOf()).toEqual({ request: null, check: null });
  });

  it('is sent at once by the next start of a named instance killed while sending it (the service wires its leases)', async () => {
    const payment = await sessionCreated();
    // The bank holds the first start's request unanswered: that start is killed while it waits.
    let releaseHeld: (answer: StubAnswer) => void = () => undefined;
    const held = new Promise<StubAnswer>((resolve) => {
      releaseHeld = resolve;
    });
    let asked = 0;
    clientBank = (request) => {
      if (request.url !== '/macro/payment-requests') return noOrder;
      asked += 1;
      return asked === 1 ? held : approvalRequested(payment.sessionId);
    };
    const killed = await createGatewayService({ ...gateway.serviceOptions, instanceName: 'gateway' });
    const killedRound = killed.runBackgroundOnce();
    try {
      await waitFor(() => asked === 1, {
        deadlineMs: requestDeadlineMs,
        what: 'the first start to send step 6',
      });
      const due = async () =>
        (
          await gateway.database.query<{ due: boolean }>(
            'SELECT next_attempt_at <= $2 AS due FROM macro_client_bank_requests WHERE transaction_id = $1',
            [payment.transactionId, gateway.now().toISOString()],
          )
        ).rows[0]?.due;
      expect(await due()).toBe(false);
      // Its instance starts again: the request it held is due now, and that start sends it.
      const restarted = await createGatewayService({ ...gateway.serviceOptions, instanceName: 'gateway' });
      try {
        expect(await due()).toBe(true);
        await restarted.runBackgroundOnce();
        expect(asked).toBe(2);
        expect(await stateOf(payment.transactionId)).toBe('approval_requested');
      } finally {
        await restarted.close();
      }
    } finally {
      releaseHeld(approvalRequested(payment.sessionId));
      await killedRound;
      await killed.close();
    }
  });

  it('retries after a failure with a backoff, the same content each time, and changes nothing before an answer', async () => {
    const payment = await sessionCreated();
    let answers = 0;
    clientBank = (request) => {
      if (request.url !== '/macro/payment-requests') return noOrder;
      answers += 1;
      return answers === 1
        ? { status: 503, json: { error: { code: 'SERVICE_UNAVAILABLE', message: 'down' } } }
        : approvalRequested(payment.sessionId);
    };
    await gateway.service.runBackgroundOnce();
    expect(await stateOf(payment.transactionId)).toBe('session_created');
    expect(await findClientBankExchange(gateway.database, payment.transactionId)).toMatchObject({
      attempts: 1,
      sentAt: null,
      lastError: 'SERVICE_UNAVAILABLE',
    });
    // Not due again at once: the backoff holds it back.
    await gateway.service.runBackgroundOnce();
    expect(answers).toBe(1);
    gateway.advanceSeconds(2);
    await gateway.service.runBackgroundOnce();
    expect(answers).toBe(2);
    expect(await stateOf(payment.transactionId)).toBe('approval_requested');
    const contents = sentFor(payment.sessionId).map((request) => {
      const { iat, exp, nonce, ...rest } = signedContentOf(request);
      return rest;
    });
    expect(contents).toHaveLength(2);
    expect(contents[1]).toEqual(contents[0]);
  });

  it('records failure_msg2 signed by the client bank: final, declined with INSUFFICIENT_FUNDS, nothing asked after', async () => {
    const payment = await sessionCreated();
    const answer = await failureMsg2(payment);
    clientBank = (request) => (request.url === '/macro/payment-requests' ? answer : noOrder);
    await gateway.service.runBackgroundOnce();
    const stored = await findMacroPayment(gateway.database, payment.transactionId);
    expect(stored?.payment).toMatchObject({ state: 'failed_balance', outcome: 'INSUFFICIENT_FUNDS' });
    const exchange = await findClientBankExchange(gateway.database, payment.transactionId);
    expect(exchange?.failureMsg2).toBe((answer as { json: { failure: string } }).json.failure);
    expect((await macroPaymentEvents(gateway.database, payment.transactionId)).at(-1)).toMatchObject({
      step: 6,
      transition: 'failure_msg2',
    });
    await gateway.service.runBackgroundOnce();
    expect(requestsTo(`/macro/sessions/${payment.sessionId}/outcome`)).toHaveLength(0);
    expect(requestsTo(`/payment-orders/${payment.orderId}`)).toHaveLength(0);
  });

  it('records no failure_msg2 signed by another key or naming another amount: retried, the payment unchanged', async () => {
    const payment = await sessionCreated();
    const forged = await failureMsg2(payment, await generateSigningKeyPair());
    const otherAmount = await failureMsg2(payment, gateway.bank.key, {
      amount: macroAmountOf(createAmount('EUR', 1n)),
    });
    for (const answer of [forged, otherAmount]) {
      clientBank = (request) => (request.url === '/macro/payment-requests' ? answer : noOrder);
      gateway.advanceSeconds(5);
      await gateway.service.runBackgroundOnce();
      expect(await stateOf(payment.transactionId)).toBe('session_created');
    }
    expect(await findClientBankExchange(gateway.database, payment.transactionId)).toMatchObject({
      attempts: 2,
      sentAt: null,
      lastError: 'BANK_ANSWER_INVALID',
    });
  });

  it('sends nothing for a payment the sweep expired at T_EXP', async () => {
    const payment = await sessionCreated();
    gateway.advanceSeconds(301);
    clientBank = (request) =>
      request.url === '/macro/payment-requests' ? approvalRequested(payment.sessionId) : noOrder;
    await gateway.service.runBackgroundOnce();
    expect(await stateOf(payment.transactionId)).toBe('expired');
    expect(sentFor(payment.sessionId)).toHaveLength(0);
  });
});

describe('step 12 at the MPASP: the client bank’s outcome', () => {
  async function approvalRequestedPayment() {
    const payment = await sessionCreated();
    let session: StubAnswer = noOrder;
    let order: StubAnswer = noOrder;
    clientBank = (request) =>
      request.url === '/macro/payment-requests'
        ? approvalRequested(payment.sessionId)
        : request.url === `/macro/sessions/${payment.sessionId}/outcome`
          ? session
          : request.url === `/payment-orders/${payment.orderId}`
            ? order
            : noOrder;
    session = await sessionOutcome(payment, 'approval_requested');
    await gateway.service.runBackgroundOnce();
    expect(await stateOf(payment.transactionId)).toBe('approval_requested');
    return {
      ...payment,
      answerSession: (next: StubAnswer) => {
        session = next;
      },
      answerOrder: (next: StubAnswer) => {
        order = next;
      },
    };
  }

  /** One more round, due again (the checks back off to at most 5 s). */
  async function nextRound(): Promise<void> {
    gateway.advanceSeconds(6);
    await gateway.service.runBackgroundOnce();
  }

  it('asks for the session first and waits while the client has not answered; once approved, asks for the order the client bank derives from SID_T, waits while it is sending, completes on its signed statement', async () => {
    const payment = await approvalRequestedPayment();
    const sessionAsked = () => requestsTo(`/macro/sessions/${payment.sessionId}/outcome`);
    const orderAsked = () => requestsTo(`/payment-orders/${payment.orderId}`);
    await nextRound();
    expect(sessionAsked().length).toBeGreaterThanOrEqual(2);
    expect(sessionAsked()[0]?.method).toBe('GET');
    expect(sessionAsked()[0]?.headers.authorization).toMatch(/^MPay /);
    expect(orderAsked()).toHaveLength(0);
    expect(await stateOf(payment.transactionId)).toBe('approval_requested');
    payment.answerSession(await sessionOutcome(payment, 'approved'));
    payment.answerOrder({ status: 200, json: { id: payment.orderId, state: 'sending' } });
    await nextRound();
    expect(orderAsked()).toHaveLength(1);
    expect(orderAsked()[0]?.headers.authorization).toMatch(/^MPay /);
    expect(await stateOf(payment.transactionId)).toBe('approval_requested');
    const finished = await finishedOrder(payment.orderId, 'completed');
    payment.answerOrder(finished);
    await nextRound();
    const stored = await findMacroPayment(gateway.database, payment.transactionId);
    expect(stored?.payment).toMatchObject({
      state: 'completed',
      outcome: null,
      merchantId,
      merchantBankId: 'ybank',
    });
    expect((await macroPaymentEvents(gateway.database, payment.transactionId)).at(-1)).toMatchObject({
      step: 12,
      transition: 'pay_confirm_received',
      fromState: 'approval_requested',
      toState: 'completed',
    });
    const exchange = await findClientBankExchange(gateway.database, payment.transactionId);
    expect(exchange?.outcomeStatement).toBe((finished as { json: { bankAnswer: string } }).json.bankAnswer);
    const count = sessionAsked().length;
    await nextRound();
    expect(sessionAsked()).toHaveLength(count);
  });

  it('closes as declined_by_client with PAYMENT_DECLINED on the bank’s signed word that the client declined, long before T_EXP, asking for no order', async () => {
    const payment = await approvalRequestedPayment();
    const declined = await sessionOutcome(payment, 'declined');
    payment.answerSession(declined);
    await nextRound();
    const stored = await findMacroPayment(gateway.database, payment.transactionId);
    expect(stored?.payment).toMatchObject({ state: 'declined_by_client', outcome: 'PAYMENT_DECLINED' });
    expect(gateway.now().getTime()).toBeLessThan(stored!.payment.expiresAt.getTime());
    expect((await macroPaymentEvents(gateway.database, payment.transactionId)).at(-1)).toMatchObject({
      step: 7,
      transition: 'papp_resp_declined_received',
      fromState: 'approval_requested',
      toState: 'declined_by_client',
    });
    const exchange = await findClientBankExchange(gateway.database, payment.transactionId);
    expect(exchange?.outcomeStatement).toBe(statementOf(declined));
    expect(requestsTo(`/payment-orders/${payment.orderId}`)).toHaveLength(0);
  });

  it('closes as failed_balance with the bank’s code when the client bank refused the approved payment’s order', async () => {
    for (const code of ['INSUFFICIENT_FUNDS', 'LIMIT_EXCEEDED']) {
      const payment = await approvalRequestedPayment();
      payment.answerSession(await sessionOutcome(payment, 'refused', { refusalCode: code }));
      await nextRound();
      expect((await findMacroPayment(gateway.database, payment.transactionId))?.payment).toMatchObject({
        state: 'failed_balance',
        outcome: code,
      });
      expect((await macroPaymentEvents(gateway.database, payment.transactionId)).at(-1)).toMatchObject({
        step: 8,
        transition: 'failure_msg2_received',
      });
      expect(requestsTo(`/payment-orders/${payment.orderId}`)).toHaveLength(0);
    }
  });

  it('takes no session statement signed by another key, or naming another session, payment, amount, T_EXP or order', async () => {
    const payment = await approvalRequestedPayment();
    const stored = await findMacroPayment(gateway.database, payment.transactionId);
    const otherSessionId = randomUUID();
    const answers = [
      await sessionOutcome(payment, 'declined', {}, await generateSigningKeyPair()),
      await sessionOutcome(payment, 'declined', { sessionId: otherSessionId }),
      await sessionOutcome(payment, 'declined', { transactionId: randomUUID() }),
      await sessionOutcome(payment, 'declined', { amount: macroAmountOf(createAmount('EUR', 1n)) }),
      await sessionOutcome(payment, 'declined', { amount: { currency: 'EUR', value: 'x' } }),
      await sessionOutcome(payment, 'declined', {
        expiresAt: new Date(stored!.payment.expiresAt.getTime() + 1_000).toISOString(),
      }),
      await sessionOutcome(payment, 'refused', { refusalCode: 7 }),
      await sessionOutcome(payment, 'completed' as SessionState),
      await sessionOutcome(payment, 'approved', {
        orderId: macroOrderId(testBankId, otherSessionId, sha256),
      }),
      { status: 200, json: { sessionId: payment.sessionId, state: 'declined' } },
    ];
    payment.answerOrder(await finishedOrder(payment.orderId, 'completed'));
    for (const answer of answers) {
      payment.answerSession(answer);
      await nextRound();
      expect(await stateOf(payment.transactionId)).toBe('approval_requested');
    }
    const exchange = await findClientBankExchange(gateway.database, payment.transactionId);
    expect(exchange).toMatchObject({ outcomeAt: null, lastError: 'BANK_ANSWER_INVALID' });
    expect(requestsTo(`/payment-orders/${payment.orderId}`)).toHaveLength(0);
  });

  it('takes no order statement signed by another key, or for another amount or order', async () => {
    const payment = await approvalRequestedPayment();
    payment.answerSession(await sessionOutcome(payment, 'approved'));
    for (const answer of [
      noOrder,
      await finishedOrder(payment.orderId, 'completed', {}, await generateSigningKeyPair()),
      await finishedOrder(payment.orderId, 'completed', { amount: '1' }),
      await finishedOrder(macroOrderId(testBankId, randomUUID(), sha256), 'completed'),
    ]) {
      payment.answerOrder(answer);
      await nextRound();
      expect(await stateOf(payment.transactionId)).toBe('approval_requested');
    }
    expect((await findClientBankExchange(gateway.database, payment.transactionId))?.outcomeAt).toBeNull();
  });

  it('closes as refused_by_mb with the bank’s code when the merchant bank refused the funds transfer', async () => {
    const payment = await approvalRequestedPayment();
    payment.answerSession(await sessionOutcome(payment, 'approved'));
    payment.answerOrder(await finishedOrder(payment.orderId, 'refused'));
    await nextRound();
    expect((await findMacroPayment(gateway.database, payment.transactionId))?.payment).toMatchObject({
      state: 'refused_by_mb',
      outcome: 'PAYEE_UNKNOWN',
    });
  });

  it('does not expire at T_EXP while the client bank may still take an approval, and expires once the grace has passed with the session unanswered', async () => {
    const payment = await approvalRequestedPayment();
    gateway.advanceSeconds(301);
    await gateway.service.runBackgroundOnce();
    expect(await stateOf(payment.transactionId)).toBe('approval_requested');
    const unanswered = await sessionOutcome(payment, 'approval_requested');
    payment.answerSession(unanswered);
    gateway.advanceSeconds(120);
    // A statement the bank signed before T_EXP (replayed, or delayed) may predate an approval: not enough.
    const early = await sessionOutcome(
      payment,
      'approval_requested',
      {},
      gateway.bank.key,
      new Date(gateway.now().getTime() - 200_000),
    );
    payment.answerSession(early);
    await gateway.service.runBackgroundOnce();
    expect(await stateOf(payment.transactionId)).toBe('approval_requested');
    payment.answerSession(unanswered);
    gateway.advanceSeconds(5);
    await gateway.service.runBackgroundOnce();
    expect((await findMacroPayment(gateway.database, payment.transactionId))?.payment).toMatchObject({
      state: 'expired',
      outcome: 'PAYMENT_EXPIRED',
    });
    // The bank's word that the session stayed unanswered is kept as the evidence of the expiry.
    const exchange = await findClientBankExchange(gateway.database, payment.transactionId);
    expect(exchange?.outcomeStatement).toBe(statementOf(unanswered));
  });

  it('does not expire past the grace while the client bank does not say the session is unanswered', async () => {
    const payment = await approvalRequestedPayment();
    payment.answerSession({
      status: 404,
      json: { error: { code: 'MACRO_APPROVAL_UNKNOWN', message: 'unknown approval request' } },
    });
    gateway.advanceSeconds(301 + 120);
    await gateway.service.runBackgroundOnce();
    expect(await stateOf(payment.transactionId)).toBe('approval_requested');
    expect(await findClientBankExchange(gateway.database, payment.transactionId)).toMatchObject({
      outcomeAt: null,
      lastError: 'MACRO_APPROVAL_UNKNOWN',
    });
  });

  it('completes after T_EXP when the bank’s session and order show the client approved in time', async () => {
    const payment = await approvalRequestedPayment();
    gateway.advanceSeconds(301);
    payment.answerSession(await sessionOutcome(payment, 'approved'));
    payment.answerOrder(await finishedOrder(payment.orderId, 'completed'));
    await gateway.service.runBackgroundOnce();
    expect(await stateOf(payment.transactionId)).toBe('completed');
  });

  it('takes a decline learnt after T_EXP: the client bank took it in time', async () => {
    const payment = await approvalRequestedPayment();
    gateway.advanceSeconds(301 + 120);
    payment.answerSession(await sessionOutcome(payment, 'declined'));
    await gateway.service.runBackgroundOnce();
    expect(await stateOf(payment.transactionId)).toBe('declined_by_client');
  });
});
