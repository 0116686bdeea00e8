import { createHash } from 'node:crypto';
import { demoParties, type RunningBank } from '@mpay/cli';
import {
  createAmount,
  hashTransactionData,
  macroAmountOf,
  macroSteps,
  parseClientBankRequestContent,
} from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import * as opaque from '@serenity-kit/opaque';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode, postRaw, startTestPlatform, type TestPlatform } from './harness.ts';
import { type RegisteredMacroClient, registerMacroClient } from './macro-support.ts';

/**
 * Seed 002 §4.2, steps 1–5, end to end over real HTTP: a freshly registered
 * client (its client id and mPIN read from the platform's mail server) asks
 * the MPASP to pay a merchant of ybank, opens the challenge with the mPIN,
 * answers the secret question; the MPASP creates SID_T and prepares step 6's
 * Payment Request for xbank. The failure paths by their stable codes.
 */
let test: TestPlatform;
let _xbank: RunningBank;
let gatewayDatabase: Database;
/** The gateway's clock runs this far ahead of the wall clock (the expiry test moves it). */
let gatewayOffsetMs = 0;

beforeAll(async () => {
  await opaque.ready;
  test = await startTestPlatform({ gatewayClock: () => new Date(Date.now() + gatewayOffsetMs) });
  _xbank = test.platform.banks.find((bank) => bank.id === 'xbank') as RunningBank;
  gatewayDatabase = test.platform.gateway.context.database;
});
afterAll(async () => {
  await test?.close();
});

const sha256 = (data: Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());
const amount = createAmount('EUR', 129_90n);

type Registered = RegisteredMacroClient;
const registeredClient = (name: string) => registerMacroClient(test, name);

function paymentInput(registered: Registered) {
  return {
    clientId: registered.clientId,
    msisdn: registered.msisdn,
    merchantId: demoParties.merchant.id,
    amount,
  };
}

function wrongPin(mPin: string): string {
  return ((Number(mPin) + 1) % 1_000_000).toString().padStart(6, '0');
}

/** After step 5: the session created, or step 6 already answered by xbank (these customers have no funds). */
const stepFiveOrSix = ['session_created', 'failed_balance'];

async function stateOf(transactionId: string): Promise<string | undefined> {
  const { rows } = await gatewayDatabase.query<{ state: string }>(
    'SELECT state FROM macro_payments WHERE transaction_id = $1',
    [transactionId],
  );
  return rows[0]?.state;
}

async function preparedRequestOf(transactionId: string) {
  const { rows } = await gatewayDatabase.query<{ content: string; sent_at: Date | null }>(
    'SELECT content, sent_at FROM macro_client_bank_requests WHERE transaction_id = $1',
    [transactionId],
  );
  return rows;
}

describe('macro payment, steps 1–5 of §4.2, end to end', () => {
  it('runs steps 1–5: the session is created and the step-6 Payment Request stored for the client bank', async () => {
    const registered = await registeredClient('ana');
    const asked: string[] = [];
    const started = await registered.client.requestPayment(paymentInput(registered));
    const opened = await registered.client.openChallenge(started.transactionId, registered.mPin);
    asked.push(opened.challenge.secretQuestion);
    const session = await registered.client.answerSecret(started.transactionId, 'marija petrovska');
    expect(asked).toEqual(['Name of your first teacher?']);
    expect(session).toEqual({
      transactionId: started.transactionId,
      sessionId: session.sessionId,
      status: 'requested',
    });
    // Step 6 runs in the background from here (macro-e2e.test.ts): this customer has no funds.
    expect(stepFiveOrSix).toContain(await stateOf(started.transactionId));

    const rows = await preparedRequestOf(started.transactionId);
    expect(rows).toHaveLength(1);
    const content = parseClientBankRequestContent(JSON.parse(rows[0]!.content), sha256);
    expect(content).toEqual({
      kind: 'macro_client_bank_request',
      from: test.fsp.id,
      to: 'xbank',
      sessionId: session.sessionId,
      transactionId: started.transactionId,
      clientId: registered.clientId,
      amount: macroAmountOf(amount),
      transactionDataHash: hashTransactionData(started.transactionData, sha256),
      expiresAt: started.expiresAt,
    });
    // h(TransactionData) names the merchant and its bank; the MPASP saw only the hash.
    expect(started.transactionData).toMatchObject({
      merchantId: demoParties.merchant.id,
      merchantBankId: 'ybank',
    });

    // The steps run so far are §4.2's steps 1–5, in the table's order.
    const { rows: events } = await gatewayDatabase.query<{ step: number }>(
      'SELECT step FROM macro_payment_events WHERE transaction_id = $1 ORDER BY id',
      [started.transactionId],
    );
    expect(events.map((event) => Number(event.step)).filter((step) => step <= 5)).toEqual(
      macroSteps.filter((step) => step.number <= 5).map((step) => step.number),
    );

    const status = await registered.client.paymentStatus(registered.clientId, started.transactionId);
    expect(status).toMatchObject({ sessionId: session.sessionId });
    expect([
      { status: 'requested', step: 5, outcome: null },
      { status: 'declined', step: 6, outcome: 'INSUFFICIENT_FUNDS' },
    ]).toContainEqual({ status: status.status, step: status.step, outcome: status.outcome });
  });

  it('pay() drives steps 1–5 with callbacks, asking the mPIN again after a wrong one', async () => {
    const registered = await registeredClient('bora');
    const pins = [wrongPin(registered.mPin), registered.mPin];
    const questions: string[] = [];
    const session = await registered.client.pay(paymentInput(registered), {
      mPin: async () => pins.shift() as string,
      secretAnswer: async (question) => {
        questions.push(question);
        return 'Marija Petrovska';
      },
    });
    expect(pins).toEqual([]);
    expect(questions).toEqual(['Name of your first teacher?']);
    expect(stepFiveOrSix).toContain(await stateOf(session.transactionId));
    // The wrong mPIN was counted, and the right one reset the count.
    const { rows } = await gatewayDatabase.query<{ failed_tries: number }>(
      'SELECT failed_tries FROM macro_login_tries WHERE client_id = $1',
      [registered.clientId],
    );
    expect(rows[0]?.failed_tries).toBe(0);
  });

  it('answers a wrong secret answer with failure_msg1 (AUTHENTICATION_FAILED), and nothing further happens', async () => {
    const registered = await registeredClient('cveta');
    const started = await registered.client.requestPayment(paymentInput(registered));
    await registered.client.openChallenge(started.transactionId, registered.mPin);
    expect(await expectCode(registered.client.answerSecret(started.transactionId, 'Elena Ilievska'))).toBe(
      'AUTHENTICATION_FAILED',
    );
    expect(await stateOf(started.transactionId)).toBe('failed_secret');
    expect(await preparedRequestOf(started.transactionId)).toEqual([]);
    const status = await registered.client.paymentStatus(registered.clientId, started.transactionId);
    expect(status).toMatchObject({
      status: 'declined',
      step: 5,
      outcome: 'AUTHENTICATION_FAILED',
      sessionId: null,
    });
    // The device forgot the payment; the MPASP takes no other answer or opening for it.
    expect(await expectCode(registered.client.answerSecret(started.transactionId, 'Marija Petrovska'))).toBe(
      'PAYMENT_UNKNOWN',
    );
    expect(await openingStartCode(started.transactionId)).toBe('PAYMENT_STATE_INVALID');
  });

  it('deletes the challenge after three failed openings: the device deletes its copy, and a 4th try is refused', async () => {
    const registered = await registeredClient('dara');
    const started = await registered.client.requestPayment(paymentInput(registered));
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      expect({
        attempt,
        code: await expectCode(
          registered.client.openChallenge(started.transactionId, wrongPin(registered.mPin)),
        ),
      }).toEqual({ attempt, code: 'MACRO_MPIN_REFUSED' });
    }
    expect(
      await expectCode(registered.client.openChallenge(started.transactionId, wrongPin(registered.mPin))),
    ).toBe('MACRO_CHALLENGE_DELETED');
    expect(await stateOf(started.transactionId)).toBe('tries_exhausted');
    // The device's copy is gone: even the right mPIN is refused there, without asking the MPASP.
    expect(await expectCode(registered.client.openChallenge(started.transactionId, registered.mPin))).toBe(
      'MACRO_CHALLENGE_DELETED',
    );
    // The MPASP refuses a 4th opening too, whoever asks.
    expect(await openingStartCode(started.transactionId)).toBe('MACRO_CHALLENGE_DELETED');
    // Each wrong mPIN counted against the client's mPIN as well (3 of 5).
    const { rows } = await gatewayDatabase.query<{ failed_tries: number }>(
      'SELECT failed_tries FROM macro_login_tries WHERE client_id = $1',
      [registered.clientId],
    );
    expect(rows[0]?.failed_tries).toBe(3);
  });

  it('expires a payment answered after T_EXP (PAYMENT_EXPIRED), with no step-6 request', async () => {
    const registered = await registeredClient('ema');
    const started = await registered.client.requestPayment(paymentInput(registered));
    await registered.client.openChallenge(started.transactionId, registered.mPin);
    gatewayOffsetMs += Date.parse(started.expiresAt) - Date.parse(started.challengedAt);
    try {
      expect(
        await expectCode(registered.client.answerSecret(started.transactionId, 'Marija Petrovska')),
      ).toBe('PAYMENT_EXPIRED');
      expect(await stateOf(started.transactionId)).toBe('expired');
      expect(await preparedRequestOf(started.transactionId)).toEqual([]);
    } finally {
      gatewayOffsetMs = 0;
    }
  });
});

/** A raw opening start with a well-formed OPAQUE message: the MPASP's stable code, whoever asks. */
async function openingStartCode(transactionId: string): Promise<string | undefined> {
  const start = opaque.client.startLogin({ password: '000000' });
  const answer = await postRaw(
    `${test.platform.urls.gateway}/macro/payments/${transactionId}/challenge/openings`,
    JSON.stringify({ startLoginRequest: start.startLoginRequest }),
    'application/json',
  );
  return answer.code;
}
