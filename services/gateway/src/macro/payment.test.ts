import { createHash, hkdfSync, randomUUID } from 'node:crypto';
import { decryptDirect, encryptDirect } from '@mpay/envelope';
import {
  createAmount,
  createTransactionData,
  hashTransactionData,
  macroAmountOf,
  macroSteps,
  parseChallengeContent,
  parseClientBankRequestContent,
  parseFailureMsg1,
  parseMacroPaymentStatus,
} from '@mpay/protocol';
import * as opaque from '@serenity-kit/opaque';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  codeOf,
  enrolDevice,
  type MacroTestGateway,
  mailedCredentials,
  post,
  register,
  registrationOf,
  startMacroTestGateway,
} from './macro.test-helper.ts';
import { findClientBankRequest, macroPaymentEvents } from './payment-store.ts';

/**
 * Steps 1–5 of §4.2 at the MPASP over real HTTP, the device side written here
 * by hand from the documented inputs (node:crypto's HKDF, the OPAQUE client),
 * independently of the SDK.
 */
let gateway: MacroTestGateway;
const sha256 = (data: Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());

beforeAll(async () => {
  await opaque.ready;
  gateway = await startMacroTestGateway({ macroLimits: { secretAnswerFailuresMax: 2 } });
});
afterAll(async () => {
  await gateway?.close();
});

interface Client {
  readonly clientId: string;
  readonly mPin: string;
  readonly deviceSecret: string;
  readonly msisdn: string;
}

async function registeredClient(): Promise<Client> {
  const device = await enrolDevice(gateway.bank);
  const registration = registrationOf(device);
  expect((await register(gateway, device, registration)).status).toBe(201);
  await gateway.service.runBackgroundOnce();
  return {
    ...mailedCredentials(gateway.mails, registration.email),
    deviceSecret: registration.deviceSecret,
    msisdn: registration.msisdn,
  };
}

/** HKDF-SHA-256(ikm = device secret, salt = ID_C, info = 'mpay macro request v1'), as documented. */
function requestKey(client: Client): Uint8Array {
  return new Uint8Array(
    hkdfSync(
      'sha256',
      Buffer.from(client.deviceSecret, 'base64url'),
      client.clientId,
      'mpay macro request v1',
      32,
    ),
  );
}

const amount = createAmount('EUR', 4_990n);
const transactionData = createTransactionData({
  date: new Date('2026-12-02T10:00:00.000Z'),
  amount,
  merchantId: 'merkur.trade@merchant.ybank',
});

function paymentRequest(client: Client, overrides: Record<string, unknown> = {}) {
  return {
    request: {
      kind: 'macro_payment_request',
      from: client.clientId,
      to: gateway.fsp.id,
      requestId: randomUUID(),
      amount: macroAmountOf(amount),
      transactionDataHash: hashTransactionData(transactionData, sha256),
      expiresAt: new Date(gateway.now().getTime() + 60_000).toISOString(),
      ...overrides,
    },
    msisdn: client.msisdn,
  };
}

async function requestPayment(
  client: Client,
  body: unknown = paymentRequest(client),
  key = requestKey(client),
) {
  const jwe = await encryptDirect(JSON.stringify(body), key, { kid: client.clientId });
  return post(`${gateway.url}/macro/payments`, jwe, { 'idempotency-key': `pay-${randomUUID()}` });
}

function json(url: string, body: unknown) {
  return post(url, JSON.stringify(body), {}, 'application/json');
}

/** One opening of the challenge with `mPin`, as a device runs it (a wrong mPIN is told with a null finish). */
async function openChallenge(client: Client, transactionId: string, mPin: string) {
  const start = opaque.client.startLogin({ password: mPin });
  const openings = `${gateway.url}/macro/payments/${transactionId}/challenge/openings`;
  const started = await json(openings, { startLoginRequest: start.startLoginRequest });
  if (started.status !== 201) return { answer: started };
  const finished = opaque.client.finishLogin({
    clientLoginState: start.clientLoginState,
    loginResponse: started.body.loginResponse as string,
    password: mPin,
    identifiers: { client: client.clientId, server: gateway.fsp.id },
  });
  const answer = await json(`${openings}/${started.body.openingId as string}/finish`, {
    finishLoginRequest: finished?.finishLoginRequest ?? null,
  });
  if (answer.status !== 201 || finished === undefined) return { answer };
  const info = `mpay macro E_SP v1\u0000${client.clientId}\u0000${transactionId}`;
  const channelKey = new Uint8Array(
    hkdfSync(
      'sha256',
      Buffer.from(finished.sessionKey, 'base64url'),
      Buffer.from(client.deviceSecret, 'base64url'),
      info,
      32,
    ),
  );
  const plaintext = await decryptDirect(answer.body.challenge, channelKey, { kid: transactionId });
  return {
    answer,
    channelKey,
    challenge: parseChallengeContent(JSON.parse(new TextDecoder().decode(plaintext)), sha256),
  };
}

async function sendAnswer(
  transactionId: string,
  channelKey: Uint8Array,
  content: unknown,
  idempotencyKey = `ans-${randomUUID()}`,
) {
  const jwe = await encryptDirect(JSON.stringify(content), channelKey, { kid: transactionId });
  return post(`${gateway.url}/macro/payments/${transactionId}/secret-answer`, jwe, {
    'idempotency-key': idempotencyKey,
  });
}

function answerTo(challenge: ReturnType<typeof parseChallengeContent>, secretAnswer: string) {
  return {
    kind: 'macro_secret_answer',
    from: challenge.to,
    to: challenge.from,
    transactionId: challenge.transactionId,
    amount: challenge.amount,
    expiresAt: challenge.expiresAt,
    secretAnswer,
  };
}

async function stateOf(transactionId: string) {
  const { rows } = await gateway.database.query<{
    state: string;
    challenge: string | null;
    channel_key: string | null;
  }>('SELECT state, challenge, channel_key FROM macro_payments WHERE transaction_id = $1', [transactionId]);
  return rows[0];
}

function wrongPin(mPin: string): string {
  return ((Number(mPin) + 1) % 1_000_000).toString().padStart(6, '0');
}

describe('macro payment steps 1–5 at the MPASP', () => {
  it('runs steps 1–5: challenge opened with the mPIN, SAns checked, SID_T created, the step-6 request stored', async () => {
    const client = await registeredClient();
    const body = paymentRequest(client);
    const requested = await requestPayment(client, body);
    expect(requested.status).toBe(201);
    const transactionId = requested.body.transactionId as string;
    expect(requested.body).toEqual({
      transactionId,
      requestId: body.request.requestId,
      status: 'awaiting_customer',
      step: 2,
      challengedAt: gateway.now().toISOString(),
      expiresAt: new Date(gateway.now().getTime() + 300_000).toISOString(),
      challengeOpenings: `/macro/payments/${transactionId}/challenge/openings`,
    });
    expect(transactionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);

    const opened = await openChallenge(client, transactionId, client.mPin);
    expect(opened.answer.status).toBe(201);
    expect(opened.challenge).toEqual({
      kind: 'macro_challenge',
      from: gateway.fsp.id,
      to: client.clientId,
      requestId: body.request.requestId,
      transactionId,
      challengedAt: requested.body.challengedAt,
      expiresAt: requested.body.expiresAt,
      amount: macroAmountOf(amount),
      secretQuestion: 'Name of your first school?',
    });

    const answered = await sendAnswer(
      transactionId,
      opened.channelKey!,
      answerTo(opened.challenge!, '  saint MARY '),
    );
    expect(answered.status).toBe(202);
    const sessionId = answered.body.sessionId as string;
    expect(answered.body).toEqual({ transactionId, sessionId, status: 'requested', step: 5 });
    expect(sessionId).not.toBe(transactionId);
    expect((await stateOf(transactionId))?.state).toBe('session_created');

    const prepared = await findClientBankRequest(gateway.database, transactionId, (value) =>
      parseClientBankRequestContent(value, sha256),
    );
    expect(prepared?.sentAt).toBeNull();
    expect(prepared?.content).toEqual({
      kind: 'macro_client_bank_request',
      from: gateway.fsp.id,
      to: 'xbank',
      sessionId,
      transactionId,
      clientId: client.clientId,
      amount: macroAmountOf(amount),
      transactionDataHash: body.request.transactionDataHash,
      expiresAt: requested.body.expiresAt,
    });

    // The history is §4.2's steps 1–5, in order, each with the transition the table names.
    const events = await macroPaymentEvents(gateway.database, transactionId);
    expect(events.map((event) => event.step)).toEqual(
      macroSteps.filter((step) => step.number <= 5).map((step) => step.number),
    );
    expect(events.map((event) => event.transition)).toEqual([
      'payment_request',
      'challenge_created',
      'challenge_opened',
      'secret_answer',
      'secret_checked',
    ]);

    // The status, sealed to the client under its request key.
    const status = await fetch(`${gateway.url}/macro/payments/${transactionId}`);
    const statusBody = (await status.json()) as { statusMessage: string };
    const statusContent = parseMacroPaymentStatus(
      JSON.parse(
        new TextDecoder().decode(
          await decryptDirect(statusBody.statusMessage, requestKey(client), { kid: client.clientId }),
        ),
      ),
    );
    expect(statusContent).toMatchObject({
      transactionId,
      status: 'requested',
      step: 5,
      sessionId,
      outcome: null,
    });

    // The same answer again under the same key: the first answer, nothing more.
    const again = await sendAnswer(
      transactionId,
      opened.channelKey!,
      answerTo(opened.challenge!, 'Saint Mary'),
    );
    expect(codeOf(again)).toBe('PAYMENT_STATE_INVALID');
  });

  it('leaves nothing to check an mPIN guess against offline: the captured messages open under no key made from the mPIN, not even the true one', async () => {
    const client = await registeredClient();
    const body = paymentRequest(client);
    const capturedRequest = await encryptDirect(JSON.stringify(body), requestKey(client), {
      kid: client.clientId,
    });
    const requested = await post(`${gateway.url}/macro/payments`, capturedRequest, {
      'idempotency-key': `pay-${randomUUID()}`,
    });
    const transactionId = requested.body.transactionId as string;
    const opened = await openChallenge(client, transactionId, client.mPin);
    const capturedChallenge = opened.answer.body.challenge as string;
    const capturedAnswer = await encryptDirect(
      JSON.stringify(answerTo(opened.challenge!, 'Saint Mary')),
      opened.channelKey!,
      { kid: transactionId },
    );
    // What an eavesdropper knows: the three messages, the ids, and (at best) the true mPIN among its guesses.
    const captured = [
      { jwe: capturedRequest, kid: client.clientId },
      { jwe: capturedChallenge, kid: transactionId },
      { jwe: capturedAnswer, kid: transactionId },
    ];
    const keysFrom = (mPin: string): Uint8Array[] => {
      const pin = Buffer.from(mPin, 'utf8');
      const hkdf = (ikm: Buffer, salt: Buffer | string, info: string) =>
        new Uint8Array(hkdfSync('sha256', ikm, salt, info, 32));
      return [
        // The paper's E_SP: a key from the shared mPIN alone.
        sha256(pin),
        hkdf(pin, client.clientId, 'mpay macro request v1'),
        // mpay's derivations with the mPIN standing in for the secrets it does not have.
        hkdf(pin, Buffer.alloc(32), `mpay macro E_SP v1\u0000${client.clientId}\u0000${transactionId}`),
        hkdf(Buffer.alloc(32), pin, `mpay macro E_SP v1\u0000${client.clientId}\u0000${transactionId}`),
      ];
    };
    const opens = async (key: Uint8Array, message: { jwe: string; kid: string }) =>
      decryptDirect(message.jwe, key, { kid: message.kid }).then(
        () => true,
        () => false,
      );
    const guesses = [client.mPin, wrongPin(client.mPin), '000000', '123456'];
    for (const guess of guesses)
      for (const key of keysFrom(guess))
        for (const message of captured)
          expect(await opens(key, message), `${guess} opens a message`).toBe(false);
    // The real keys do open them: the check above is not vacuous.
    expect(await opens(requestKey(client), captured[0]!)).toBe(true);
    expect(await opens(opened.channelKey!, captured[1]!)).toBe(true);
    expect(await opens(opened.channelKey!, captured[2]!)).toBe(true);
    // The only test of a guess is an online opening, which the MPASP counts (three, then the challenge is deleted).
  });

  it('refuses a step 1 under another key, for another MSISDN or another client, alike (AUTHENTICATION_FAILED)', async () => {
    const client = await registeredClient();
    const other = await registeredClient();
    expect(codeOf(await requestPayment(client, paymentRequest(client), requestKey(other)))).toBe(
      'AUTHENTICATION_FAILED',
    );
    expect(codeOf(await requestPayment(client, { ...paymentRequest(client), msisdn: other.msisdn }))).toBe(
      'AUTHENTICATION_FAILED',
    );
    expect(codeOf(await requestPayment(client, paymentRequest(other)))).toBe('AUTHENTICATION_FAILED');
    const unknown = { ...client, clientId: 'C999999999999.xbank' };
    expect(codeOf(await requestPayment(unknown, paymentRequest(client), requestKey(client)))).toBe(
      'AUTHENTICATION_FAILED',
    );
    expect(codeOf(await requestPayment(client, paymentRequest(client, { to: 'other.fsp' })))).toBe(
      'PARTY_ID_INVALID',
    );
    // A replayed request id under another Idempotency-Key.
    const body = paymentRequest(client);
    expect((await requestPayment(client, body)).status).toBe(201);
    expect(codeOf(await requestPayment(client, body))).toBe('MESSAGE_REPLAYED');
  });

  it('answers the same step 1 under the same Idempotency-Key with the first answer', async () => {
    const client = await registeredClient();
    const jwe = await encryptDirect(JSON.stringify(paymentRequest(client)), requestKey(client), {
      kid: client.clientId,
    });
    const first = await post(`${gateway.url}/macro/payments`, jwe, { 'idempotency-key': 'same-key' });
    const second = await post(`${gateway.url}/macro/payments`, jwe, { 'idempotency-key': 'same-key' });
    expect(first.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(codeOf(await post(`${gateway.url}/macro/payments`, jwe))).toBe('IDEMPOTENCY_KEY_INVALID');
  });

  it('deletes the challenge after three failed openings, refuses a fourth, and counts each against the mPIN', async () => {
    const client = await registeredClient();
    const transactionId = (await requestPayment(client)).body.transactionId as string;
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      const { answer } = await openChallenge(client, transactionId, wrongPin(client.mPin));
      expect({ attempt, code: codeOf(answer) }).toEqual({ attempt, code: 'MACRO_MPIN_REFUSED' });
    }
    const third = await openChallenge(client, transactionId, wrongPin(client.mPin));
    expect(codeOf(third.answer)).toBe('MACRO_CHALLENGE_DELETED');
    expect(third.answer.status).toBe(410);
    expect(await stateOf(transactionId)).toEqual({
      state: 'tries_exhausted',
      challenge: null,
      channel_key: null,
    });
    // The fourth try, with the right mPIN: refused before any login starts.
    const fourth = await openChallenge(client, transactionId, client.mPin);
    expect(codeOf(fourth.answer)).toBe('MACRO_CHALLENGE_DELETED');
    const { rows } = await gateway.database.query<{ failed_tries: number }>(
      'SELECT failed_tries FROM macro_login_tries WHERE client_id = $1',
      [client.clientId],
    );
    expect(rows[0]?.failed_tries).toBe(3);
  });

  it('counts an opening started and never finished as a failed try', async () => {
    const client = await registeredClient();
    const transactionId = (await requestPayment(client)).body.transactionId as string;
    const openings = `${gateway.url}/macro/payments/${transactionId}/challenge/openings`;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const start = opaque.client.startLogin({ password: client.mPin });
      expect((await json(openings, { startLoginRequest: start.startLoginRequest })).status).toBe(201);
    }
    const start = opaque.client.startLogin({ password: client.mPin });
    expect(codeOf(await json(openings, { startLoginRequest: start.startLoginRequest }))).toBe(
      'MACRO_CHALLENGE_DELETED',
    );
  });

  it('sends failure_msg1 for a wrong answer, ends the payment, and blocks the client at the limit of wrong answers', async () => {
    const client = await registeredClient();
    for (let payment = 1; payment <= 2; payment += 1) {
      const transactionId = (await requestPayment(client)).body.transactionId as string;
      const opened = await openChallenge(client, transactionId, client.mPin);
      const wrong = await sendAnswer(
        transactionId,
        opened.channelKey!,
        answerTo(opened.challenge!, 'Saint Paul'),
      );
      expect(wrong.status).toBe(401);
      expect(codeOf(wrong)).toBe('AUTHENTICATION_FAILED');
      const failure = parseFailureMsg1(
        JSON.parse(
          new TextDecoder().decode(
            await decryptDirect(wrong.body.failureMsg1, opened.channelKey!, { kid: transactionId }),
          ),
        ),
        sha256,
      );
      expect(failure).toEqual({
        kind: 'macro_failure_msg1',
        from: gateway.fsp.id,
        to: client.clientId,
        transactionId,
        amount: macroAmountOf(amount),
        expiresAt: opened.challenge!.expiresAt,
      });
      expect(await stateOf(transactionId)).toEqual({
        state: 'failed_secret',
        challenge: null,
        channel_key: null,
      });
      const { rows } = await gateway.database.query(
        'SELECT 1 FROM macro_client_bank_requests WHERE transaction_id = $1',
        [transactionId],
      );
      expect(rows).toEqual([]);
      // Nothing further: the right answer now is refused.
      expect(
        codeOf(
          await sendAnswer(transactionId, opened.channelKey!, answerTo(opened.challenge!, 'Saint Mary')),
        ),
      ).toBe('PAYMENT_STATE_INVALID');
    }
    // The limit (2 here) reached: no new payment.
    expect(codeOf(await requestPayment(client))).toBe('MACRO_SECRET_ANSWER_BLOCKED');
  });

  it('expires a payment whose answer comes after T_EXP, and then refuses every step', async () => {
    const client = await registeredClient();
    const transactionId = (await requestPayment(client)).body.transactionId as string;
    const opened = await openChallenge(client, transactionId, client.mPin);
    gateway.advanceSeconds(300);
    const late = await sendAnswer(
      transactionId,
      opened.channelKey!,
      answerTo(opened.challenge!, 'Saint Mary'),
    );
    expect(codeOf(late)).toBe('PAYMENT_EXPIRED');
    expect((await stateOf(transactionId))?.state).toBe('expired');
    expect(
      codeOf(await sendAnswer(transactionId, opened.channelKey!, answerTo(opened.challenge!, 'Saint Mary'))),
    ).toBe('PAYMENT_EXPIRED');
    expect(codeOf((await openChallenge(client, transactionId, client.mPin)).answer)).toBe('PAYMENT_EXPIRED');
  });

  it('expires an unopened payment in the background sweep after T_EXP', async () => {
    const client = await registeredClient();
    const transactionId = (await requestPayment(client)).body.transactionId as string;
    gateway.advanceSeconds(299);
    await gateway.service.runBackgroundOnce();
    expect((await stateOf(transactionId))?.state).toBe('challenged');
    gateway.advanceSeconds(1);
    await gateway.service.runBackgroundOnce();
    expect(await stateOf(transactionId)).toEqual({ state: 'expired', challenge: null, channel_key: null });
  });

  it('refuses an answer sealed under another key, or naming another amount, without changing the payment', async () => {
    const client = await registeredClient();
    const transactionId = (await requestPayment(client)).body.transactionId as string;
    const opened = await openChallenge(client, transactionId, client.mPin);
    const content = answerTo(opened.challenge!, 'Saint Mary');
    expect(codeOf(await sendAnswer(transactionId, requestKey(client), content))).toBe(
      'AUTHENTICATION_FAILED',
    );
    expect(
      codeOf(
        await sendAnswer(transactionId, opened.channelKey!, {
          ...content,
          amount: { currency: 'EUR', value: '49.91' },
        }),
      ),
    ).toBe('PAYMENT_MESSAGE_MISMATCH');
    expect((await stateOf(transactionId))?.state).toBe('challenge_opened');
    expect((await sendAnswer(transactionId, opened.channelKey!, content)).status).toBe(202);
  });
});
