import { randomUUID } from 'node:crypto';
import { bankOperator, demoParties, type RunningBank } from '@mpay/cli';
import { createAmount, createTransactionData, type MacroPaymentStatusContent } from '@mpay/protocol';
import { type MacroApprovalRequest, MacroBankClient, MacroMerchantClient } from '@mpay/sdk';
import type { Database } from '@mpay/storage';
import * as opaque from '@serenity-kit/opaque';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backgroundWorkDeadlineMs, paymentSettledDeadlineMs, waitFor } from '../support/deadlines.ts';
import { expectCode, postRaw, startTestPlatform, type TestPlatform } from './harness.ts';
import { macroSecretAnswer, type RegisteredMacroClient, registerMacroClient } from './macro-support.ts';

/**
 * Seed 002 §4.2 end to end, all twelve steps across two banks: a freshly
 * registered client of xbank pays the demo merchant of ybank. Steps 1–5 at
 * the MPASP (MacroClient.pay); step 6 sent by the MPASP's background sender;
 * the client bank's PApp_Req read, approved and sent back by the device
 * directly to the client bank (MacroBankClient); steps 8–11 between the
 * banks; step 12 learnt by the MPASP, which the client reads in its status.
 * The failure paths by their stable codes, each checking that no money moved.
 */
let test: TestPlatform;
let xbank: RunningBank;
let gatewayDatabase: Database;

beforeAll(async () => {
  await opaque.ready;
  test = await startTestPlatform();
  xbank = test.platform.banks.find((bank) => bank.id === 'xbank') as RunningBank;
  gatewayDatabase = test.platform.gateway.context.database;
});
afterAll(async () => {
  await test?.close();
});

const amount = createAmount('EUR', 129_90n);

interface Registered extends RegisteredMacroClient {
  readonly bank: MacroBankClient;
}

/** A fresh client holding `balanceMinor`, registered at the MPASP, with its device's client of xbank (steps 7, 11). */
async function registeredClient(name: string, balanceMinor: bigint): Promise<Registered> {
  const registered = await registerMacroClient(test, name, balanceMinor);
  const { customer } = registered;
  const bank = new MacroBankClient({
    bankUrl: xbank.url,
    partyId: customer.partyId,
    signingKey: customer.keys.signing.privateJwk,
    encryptionKey: customer.keys.encryption.privateJwk,
  });
  return { ...registered, bank };
}

/** Steps 1–5 through MacroClient.pay; the TransactionData the device keeps for its consent (step 7). */
async function paySteps1To5(registered: Registered, merchantId: string = demoParties.merchant.id) {
  const date = new Date();
  const session = await registered.client.pay(
    {
      clientId: registered.clientId,
      msisdn: registered.msisdn,
      merchantId,
      amount,
      date,
    },
    { mPin: async () => registered.mPin, secretAnswer: async () => macroSecretAnswer },
  );
  const transactionData = createTransactionData({ date, amount, merchantId });
  return { ...session, transactionData };
}

async function accountBalance(account: string): Promise<bigint> {
  const { balance } = await bankOperator(xbank, xbank.operatorKey).get<{ balance: string }>(
    `/accounts/${account}`,
  );
  return BigInt(balance);
}

/** What the client may still spend: a hold left in place would show here, not in the balance. */
async function xbankAvailable(account: string): Promise<bigint> {
  const { available } = await bankOperator(xbank, xbank.operatorKey).get<{ available: string }>(
    `/accounts/${account}`,
  );
  return BigInt(available);
}

async function balancesOf(registered: Registered) {
  return {
    client: await accountBalance(registered.customer.account),
    merchant: (await test.balances()).merchant,
  };
}

/** The client bank's PApp_Req for SID_T, once the MPASP's step 6 reached it. */
function approvalRequestOf(registered: Registered, sessionId: string): Promise<MacroApprovalRequest> {
  return waitFor(
    async () => (await registered.bank.approvalRequests()).find((request) => request.sessionId === sessionId),
    { deadlineMs: backgroundWorkDeadlineMs, what: `the client bank's PApp_Req for ${sessionId}` },
  );
}

/** The MPASP's status for the client, once it is `status`. */
function statusOnceIt(
  registered: Registered,
  transactionId: string,
  status: MacroPaymentStatusContent['status'],
): Promise<MacroPaymentStatusContent> {
  return waitFor(
    async () => {
      const current = await registered.client.paymentStatus(registered.clientId, transactionId);
      return current.status === status ? current : undefined;
    },
    { deadlineMs: paymentSettledDeadlineMs, what: `the MPASP's status ${status} for ${transactionId}` },
  );
}

async function stateOf(transactionId: string): Promise<string | undefined> {
  const { rows } = await gatewayDatabase.query<{ state: string }>(
    'SELECT state FROM macro_payments WHERE transaction_id = $1',
    [transactionId],
  );
  return rows[0]?.state;
}

/**
 * The MPASP's state once it is `state`. The MPASP records xbank's answer to step 6 after xbank
 * has made PApp_Req, so a test that saw the request may still read the state before it.
 */
function stateOnceItIs(transactionId: string, state: string): Promise<string> {
  return waitFor(async () => ((await stateOf(transactionId)) === state ? state : undefined), {
    deadlineMs: backgroundWorkDeadlineMs,
    what: `the MPASP's state ${state} for ${transactionId}`,
  });
}

describe('macro payment, the twelve steps of §4.2 across two banks', () => {
  it('pays the merchant at ybank once the client approved at xbank; the MPASP learns Pay_Confirm (step 12)', async () => {
    const registered = await registeredClient('ana', 1_000_00n);
    const before = await balancesOf(registered);
    const session = await paySteps1To5(registered);

    // Step 6: the MPASP's background sender reaches xbank, which makes PApp_Req for the device.
    const request = await approvalRequestOf(registered, session.sessionId);
    expect(request.content).toMatchObject({
      kind: 'macro_papp_req',
      from: 'xbank',
      to: registered.clientId,
      transactionId: session.transactionId,
      amount: { currency: 'EUR', value: '129.90' },
    });
    expect(await stateOnceItIs(session.transactionId, 'approval_requested')).toBe('approval_requested');
    // Asked, not yet approved: nothing moved.
    expect(await balancesOf(registered)).toEqual(before);

    // Step 7 straight to the client bank; 8–10 between the banks.
    const outcome = await registered.bank.approve(request, {
      decision: 'approve',
      transactionData: session.transactionData,
    });
    expect(outcome.state).toBe('approved');
    expect(['completed', 'sending']).toContain(outcome.order?.state);

    // Step 12: the MPASP learns it from xbank; the client reads it from the MPASP.
    const status = await statusOnceIt(registered, session.transactionId, 'completed');
    expect(status).toMatchObject({ step: 12, outcome: null, sessionId: session.sessionId });

    // Step 11: xbank's own Pay_Confirm to the device.
    const confirmation = await registered.bank.confirmation(session.sessionId);
    expect(confirmation).toMatchObject({
      state: 'completed',
      payConfirm: {
        kind: 'macro_pay_confirm_to_client',
        from: 'xbank',
        to: registered.clientId,
        merchantId: demoParties.merchant.id,
        amount: { currency: 'EUR', value: '129.90' },
      },
    });

    // Step 9: ybank's Pay_Confirm to the merchant, read by the merchant's system from its own bank.
    const merchantBank = test.platform.banks.find((bank) => bank.id === 'ybank') as RunningBank;
    const merchant = new MacroMerchantClient({
      bankUrl: merchantBank.url,
      partyId: demoParties.merchant.id,
      signingKey: test.platform.credentials.merchantKeys.signing.privateJwk,
      encryptionKey: test.platform.credentials.merchantKeys.encryption.privateJwk,
    });
    const toMerchant = await waitFor(
      async () => {
        let after = '0';
        for (;;) {
          const page = await merchant.confirmations(after);
          const found = page.confirmations.find((entry) => entry.sessionId === session.sessionId);
          if (found !== undefined || page.next === undefined) return found;
          after = page.next;
        }
      },
      {
        deadlineMs: backgroundWorkDeadlineMs,
        what: `ybank's Pay_Confirm to the merchant for ${session.sessionId}`,
      },
    );
    expect(toMerchant.content).toEqual({
      kind: 'macro_pay_confirm_to_merchant',
      from: 'ybank',
      to: demoParties.merchant.id,
      sessionId: session.sessionId,
      clientId: registered.clientId,
      amount: { currency: 'EUR', value: '129.90' },
      expiresAt: expect.any(String),
    });

    // The money moved exactly once, and a replayed PApp_Resp moves nothing more.
    expect(await balancesOf(registered)).toEqual({
      client: before.client - amount.minor,
      merchant: before.merchant + amount.minor,
    });
    expect(
      await expectCode(
        registered.bank.approve(request, { decision: 'approve', transactionData: session.transactionData }),
      ),
    ).toBe('MACRO_APPROVAL_REPLAYED');
    expect(await balancesOf(registered)).toEqual({
      client: before.client - amount.minor,
      merchant: before.merchant + amount.minor,
    });

    const { rows } = await gatewayDatabase.query<{ step: number; transition: string }>(
      'SELECT step, transition FROM macro_payment_events WHERE transaction_id = $1 ORDER BY id',
      [session.transactionId],
    );
    expect(rows.slice(-2).map((row) => [Number(row.step), row.transition])).toEqual([
      [6, 'balance_checked'],
      [12, 'pay_confirm_received'],
    ]);
  });

  it('answers an insufficient balance with failure_msg2 before any approval request, and moves nothing', async () => {
    const registered = await registeredClient('bora', 50_00n);
    const before = await balancesOf(registered);
    const session = await paySteps1To5(registered);
    const status = await statusOnceIt(registered, session.transactionId, 'declined');
    expect(status).toMatchObject({ step: 6, outcome: 'INSUFFICIENT_FUNDS', sessionId: session.sessionId });
    expect(await stateOf(session.transactionId)).toBe('failed_balance');
    // xbank's signed failure_msg2 is kept by the MPASP; no PApp_Req was ever made for the device.
    const { rows } = await gatewayDatabase.query<{ failure_msg2: string | null }>(
      'SELECT failure_msg2 FROM macro_client_bank_requests WHERE transaction_id = $1',
      [session.transactionId],
    );
    expect(rows[0]?.failure_msg2).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect((await registered.bank.approvalRequests()).map((request) => request.sessionId)).not.toContain(
      session.sessionId,
    );
    expect(await expectCode(registered.bank.confirmation(session.sessionId))).toBe('MACRO_APPROVAL_UNKNOWN');
    expect(await balancesOf(registered)).toEqual(before);
  });

  it('shows the client’s decline at the CB as declined at the MPASP (PAYMENT_DECLINED) long before T_EXP, and nothing moves', async () => {
    const registered = await registeredClient('dragana', 1_000_00n);
    const before = await balancesOf(registered);
    const session = await paySteps1To5(registered);
    const request = await approvalRequestOf(registered, session.sessionId);

    // Step 7: the client declines, straight to its bank.
    const outcome = await registered.bank.approve(request, {
      decision: 'decline',
      transactionData: session.transactionData,
    });
    expect(outcome.state).toBe('declined');

    // Step 12: the MPASP learns it from xbank's signed word on the session, not from T_EXP passing.
    const status = await waitFor(
      async () => {
        const current = await registered.client.paymentStatus(registered.clientId, session.transactionId);
        return current.status === 'awaiting_customer' ? undefined : current;
      },
      {
        deadlineMs: backgroundWorkDeadlineMs,
        what: `the MPASP's outcome for the declined ${session.transactionId}`,
      },
    );
    expect(status).toMatchObject({
      status: 'declined',
      outcome: 'PAYMENT_DECLINED',
      step: 7,
      sessionId: session.sessionId,
    });
    expect(Date.parse(status.at)).toBeLessThan(Date.parse(status.expiresAt));
    expect(await stateOf(session.transactionId)).toBe('declined_by_client');
    const { rows } = await gatewayDatabase.query<{ step: number; transition: string }>(
      'SELECT step, transition FROM macro_payment_events WHERE transaction_id = $1 ORDER BY id',
      [session.transactionId],
    );
    expect(rows.slice(-2).map((row) => [Number(row.step), row.transition])).toEqual([
      [6, 'balance_checked'],
      [7, 'papp_resp_declined_received'],
    ]);
    // xbank's signed statement of the session is what the MPASP keeps for it.
    const exchange = await gatewayDatabase.query<{ outcome_statement: string | null }>(
      'SELECT outcome_statement FROM macro_client_bank_requests WHERE transaction_id = $1',
      [session.transactionId],
    );
    expect(exchange.rows[0]?.outcome_statement).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);

    // The decline is final at the bank too, and no money moved.
    expect(await registered.bank.confirmation(session.sessionId)).toMatchObject({ state: 'declined' });
    expect(
      await expectCode(
        registered.bank.approve(request, { decision: 'approve', transactionData: session.transactionData }),
      ),
    ).toBe('MACRO_APPROVAL_REPLAYED');
    expect(await balancesOf(registered)).toEqual(before);
  });

  it('refuses FT naming a merchant unknown at the MB (PAYEE_UNKNOWN): the hold released, the MPASP told, nothing moves', async () => {
    const registered = await registeredClient('emil', 1_000_00n);
    const before = await balancesOf(registered);
    // The MPASP never learns ID_M before step 7 (only h(TransactionData)): the MB is the first to know it is unknown.
    const nobody = `nobody-${randomUUID().slice(0, 8)}@merchant.ybank`;
    const session = await paySteps1To5(registered, nobody);
    const request = await approvalRequestOf(registered, session.sessionId);
    const outcome = await registered.bank.approve(request, {
      decision: 'approve',
      transactionData: session.transactionData,
    });
    expect(outcome.order).toMatchObject({ state: 'refused', refusalCode: 'PAYEE_UNKNOWN' });
    const status = await statusOnceIt(registered, session.transactionId, 'declined');
    expect(status).toMatchObject({ outcome: 'PAYEE_UNKNOWN', step: 8, sessionId: session.sessionId });
    expect(await stateOf(session.transactionId)).toBe('refused_by_mb');
    expect(await registered.bank.confirmation(session.sessionId)).toMatchObject({
      state: 'refused',
      refusalCode: 'PAYEE_UNKNOWN',
    });
    expect(await balancesOf(registered)).toEqual(before);
    expect(await xbankAvailable(registered.customer.account)).toBe(before.client);
  });

  it('refuses PApp_Resp sent to the MPASP instead of the CB, and nothing moves', async () => {
    const registered = await registeredClient('cveta', 1_000_00n);
    const before = await balancesOf(registered);
    const session = await paySteps1To5(registered);
    const request = await approvalRequestOf(registered, session.sessionId);
    const prepared = await registered.bank.prepareApproval(request, {
      decision: 'approve',
      transactionData: session.transactionData,
    });
    const atMpasp = await postRaw(
      `${test.platform.urls.gateway}/macro/approvals/${session.sessionId}`,
      JSON.stringify({ approval: prepared.approval }),
      'application/json',
    );
    expect(atMpasp).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    // The MPASP has no say in the approval: the payment still waits for the client at its bank.
    expect(await stateOnceItIs(session.transactionId, 'approval_requested')).toBe('approval_requested');
    expect((await registered.bank.approvalRequests()).map((entry) => entry.sessionId)).toContain(
      session.sessionId,
    );
    expect(await registered.bank.confirmation(session.sessionId)).toMatchObject({
      state: 'approval_requested',
    });
    expect(await balancesOf(registered)).toEqual(before);
    // Declined at the bank, where it belongs: still nothing moves.
    expect(
      (
        await registered.bank.approve(request, {
          decision: 'decline',
          transactionData: session.transactionData,
        })
      ).state,
    ).toBe('declined');
    expect(await balancesOf(registered)).toEqual(before);
  });
});
