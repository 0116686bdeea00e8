import { randomUUID } from 'node:crypto';
import type { BankingRequest } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBank, type TestBank } from '../../test-helpers.ts';
import type { OpenedBankingRequest } from '../authentication-server/request.ts';
import type { BankingContext } from '../context.ts';
import {
  type BankingTestCustomer,
  balanceOf,
  bankingContextOf,
  bankingTransactionRows,
  newBankingCustomer,
  openTestRequest,
} from './banking.test-helper.ts';
import { executeBankingRequest } from './dispatch.ts';

/**
 * A money request is claimed in its own transaction and executed in
 * another: whatever closes its session in between (the customer's logout,
 * the operator's password reset, a revocation) must refuse it in the debit's
 * transaction, with nothing moved. And logging out ends the session at the
 * bank.
 */

let bank: TestBank;
let context: BankingContext;
let payee: BankingTestCustomer;

const transfer = (amount: bigint): BankingRequest => ({
  kind: 'transfer',
  payeeId: payee.partyId,
  amount,
  currency: 'EUR',
  reference: 'rent',
});

function execute(opened: OpenedBankingRequest, now = bank.now()) {
  return executeBankingRequest(context, opened, now);
}

async function sessionRow(id: string) {
  const { rows } = await bank.database.query<{
    state: string;
    closed_reason: string | null;
    sealed_session_key: string | null;
    code_hash: string | null;
    server_login_state: string | null;
  }>(
    `SELECT state, closed_reason, sealed_session_key, code_hash, server_login_state
     FROM banking_sessions WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/** Nothing moved for `opened`: balances as before, no transfer, no order, no banking transaction. */
async function expectNothingMoved(
  customer: BankingTestCustomer,
  opened: OpenedBankingRequest,
  before: { payer: bigint; payee: bigint },
) {
  expect((await balanceOf(bank, customer.clientId.accountId)).balance).toBe(before.payer);
  expect((await balanceOf(bank, payee.clientId.accountId)).balance).toBe(before.payee);
  expect(await bankingTransactionRows(bank, opened.requestId)).toBe(0);
  const { rows } = await bank.database.query('SELECT id FROM transfers WHERE id = $1', [opened.requestId]);
  expect(rows).toEqual([]);
}

async function balancesOf(customer: BankingTestCustomer) {
  return {
    payer: (await balanceOf(bank, customer.clientId.accountId)).balance,
    payee: (await balanceOf(bank, payee.clientId.accountId)).balance,
  };
}

beforeAll(async () => {
  bank = await startTestBank({ banking: {} });
  context = bankingContextOf(bank);
  payee = await newBankingCustomer(bank, { prefix: 'payee' });
});

afterAll(async () => {
  await bank?.close();
});

describe('logout', () => {
  it('closes the session (logged out, key erased) and answers {sessionId, closedAt}; nothing runs in it after', async () => {
    const customer = await newBankingCustomer(bank, { funds: 10_000n });
    await bank.database.query('UPDATE banking_sessions SET sealed_session_key = $2 WHERE id = $1', [
      customer.sessionId,
      'sealed-key-stand-in',
    ]);
    const now = new Date(bank.now().getTime() + 3_000);
    const result = await execute(await openTestRequest(bank, customer, { kind: 'logout' }), now);
    expect(result).toEqual({ sessionId: customer.sessionId, closedAt: now.toISOString() });
    expect(await sessionRow(customer.sessionId)).toMatchObject({
      state: 'closed',
      closed_reason: 'logged out',
      sealed_session_key: null,
    });
    // A second logout, and any other request claimed before it: the session is gone.
    await expect(execute(await openTestRequest(bank, customer, { kind: 'logout' }))).rejects.toMatchObject({
      code: 'BANKING_SESSION_INVALID',
    });
  });
});

describe('a transfer claimed, then its session closed before it runs', () => {
  it('by the customer’s logout (another request in the session): BANKING_SESSION_INVALID, nothing moved', async () => {
    const customer = await newBankingCustomer(bank, { funds: 10_000n });
    const before = await balancesOf(customer);
    const claimed = await openTestRequest(bank, customer, transfer(2_500n));
    await execute(await openTestRequest(bank, customer, { kind: 'logout' }));
    await expect(execute(claimed)).rejects.toMatchObject({ code: 'BANKING_SESSION_INVALID' });
    await expectNothingMoved(customer, claimed, before);
  });

  it('by the operator’s password reset: BANKING_SESSION_INVALID, nothing moved', async () => {
    const customer = await newBankingCustomer(bank, { funds: 10_000n });
    const before = await balancesOf(customer);
    const claimed = await openTestRequest(bank, customer, transfer(2_500n));
    const reset = await bank.call('POST', `/banking/customers/${customer.partyId}/password-reset`, {});
    expect(reset.status).toBe(200);
    await expect(execute(claimed)).rejects.toMatchObject({ code: 'BANKING_SESSION_INVALID' });
    await expectNothingMoved(customer, claimed, before);
    expect(await sessionRow(customer.sessionId)).toMatchObject({
      state: 'closed',
      closed_reason: 'password reset',
    });
    // With its session open, the same transfer goes through: the refusal was the session's.
    const open = await newBankingCustomer(bank, { funds: 10_000n });
    const sent = await execute(await openTestRequest(bank, open, transfer(2_500n)));
    expect(sent).toMatchObject({ state: 'completed', amount: '2500' });
  });

  it('by the session idling out between claim and debit: BANKING_SESSION_INVALID', async () => {
    const customer = await newBankingCustomer(bank, { funds: 10_000n });
    const before = await balancesOf(customer);
    const claimed = await openTestRequest(bank, customer, transfer(1_000n));
    const idle = new Date(bank.now().getTime() + context.banking.limits.sessionIdleSeconds * 1000);
    await expect(execute(claimed, idle)).rejects.toMatchObject({ code: 'BANKING_SESSION_INVALID' });
    await expectNothingMoved(customer, claimed, before);
  });
});

describe('password reset', () => {
  it('refuses the customer’s logins, closes its sessions, and erases their keys, codes and OPAQUE states', async () => {
    const customer = await newBankingCustomer(bank);
    const other = await newBankingCustomer(bank);
    const now = bank.now();
    const later = new Date(now.getTime() + 300_000).toISOString();
    const started = randomUUID();
    const codeSent = randomUUID();
    const otherActive = other.sessionId;
    await bank.database.query(
      `INSERT INTO banking_sessions (id, party_id, state, server_login_state, expires_at, created_at, updated_at)
       VALUES ($1, $2, 'password_started', 'opaque-state', $3, $4, $4)`,
      [started, customer.partyId, later, now.toISOString()],
    );
    await bank.database.query(
      `INSERT INTO banking_sessions (id, party_id, state, serial, sealed_session_key, code_hash, expires_at,
         created_at, updated_at)
       VALUES ($1, $2, 'code_sent', $3, 'sealed', $4, $5, $6, $6)`,
      [codeSent, customer.partyId, customer.key.serial, 'a'.repeat(64), later, now.toISOString()],
    );
    await bank.database.query(
      'UPDATE banking_sessions SET sealed_session_key = $2, code_hash = $3 WHERE id = ANY($1::uuid[])',
      [[customer.sessionId, otherActive], 'sealed', 'b'.repeat(64)],
    );
    expect(
      (await bank.call('POST', `/banking/customers/${customer.partyId}/password-reset`, {})).status,
    ).toBe(200);
    const erased = { closed_reason: 'password reset', sealed_session_key: null, code_hash: null };
    expect(await sessionRow(started)).toEqual({ state: 'refused', server_login_state: null, ...erased });
    expect(await sessionRow(codeSent)).toEqual({ state: 'refused', server_login_state: null, ...erased });
    expect(await sessionRow(customer.sessionId)).toEqual({
      state: 'closed',
      server_login_state: null,
      ...erased,
    });
    // Another customer's session is not touched.
    expect(await sessionRow(otherActive)).toMatchObject({ state: 'active', sealed_session_key: 'sealed' });
  });
});
