import { verifyPayload } from '@mpay/envelope';
import type { BankingRequest } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBank, type TestBank, uniquePartyId } from '../../test-helpers.ts';
import type { OpenedBankingRequest } from '../authentication-server/request.ts';
import type { BankingContext } from '../context.ts';
import { bankingRecordLifetimeSeconds } from '../transaction-log-server-client/record.ts';
import { bankingStatementResultCharsMax } from './account-views.ts';
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
 * The business logic server on a real bank (PGlite): each request is opened
 * and claimed as the authentication server would (a real key binding, a
 * session, a banking_requests row), then executed with executeBankingRequest.
 */

let bank: TestBank;
let context: BankingContext;
let alice: BankingTestCustomer;
let bob: BankingTestCustomer;
let merchantId: string;
let merchantAccountId: string;

const transfer = (payeeId: string, amount: bigint, reference = 'rent march'): BankingRequest => ({
  kind: 'transfer',
  payeeId,
  amount,
  currency: 'EUR',
  reference,
});

async function execute(opened: OpenedBankingRequest) {
  return executeBankingRequest(context, opened, bank.now());
}

async function run(customer: BankingTestCustomer, request: BankingRequest, accountId?: string) {
  return execute(
    await openTestRequest(bank, customer, request, accountId === undefined ? {} : { accountId }),
  );
}

/** The outcome recorded on the request's row, and its result parsed. */
async function outcomeOf(requestId: string): Promise<{ outcome: string | null; result: unknown }> {
  const { rows } = await bank.database.query<{ outcome: string | null; result: string | null }>(
    'SELECT outcome, result FROM banking_requests WHERE id = $1',
    [requestId],
  );
  const row = rows[0];
  if (row === undefined) throw new Error('assertion failed: a claimed request has its row');
  return { outcome: row.outcome, result: row.result === null ? null : (JSON.parse(row.result) as unknown) };
}

beforeAll(async () => {
  bank = await startTestBank({ banking: {} });
  context = bankingContextOf(bank);
  alice = await newBankingCustomer(bank, { funds: 100_000n, prefix: 'alice' });
  bob = await newBankingCustomer(bank, { prefix: 'bob' });
  merchantId = uniquePartyId('merchant', 'xbank', 'power');
  merchantAccountId = await bank.openAccount('merchant', 'EUR', merchantId);
  const biller = await bank.call('POST', '/banking/billers', {
    id: 'power-co',
    name: 'Power Co',
    payeeId: merchantId,
  });
  expect(biller.status).toBe(201);
});

afterAll(async () => {
  await bank?.close();
});

describe('balance', () => {
  it('answers the balances of ID_C’s account', async () => {
    const result = await run(alice, { kind: 'balance' });
    const { balance, available } = await balanceOf(bank, alice.clientId.accountId);
    expect(result).toEqual({
      accountId: alice.clientId.accountId,
      currency: 'EUR',
      balance: balance.toString(),
      available: available.toString(),
    });
    expect(balance).toBeGreaterThan(0n);
  });

  it('refuses an account that is not the customer’s (ACCOUNT_UNKNOWN)', async () => {
    await expect(run(alice, { kind: 'balance' }, bob.accountIds[0])).rejects.toMatchObject({
      code: 'ACCOUNT_UNKNOWN',
    });
  });
});

describe('transfer to a customer of this bank', () => {
  it('posts one transfer, answers completed and records the banking transaction signed by the bank', async () => {
    const before = await balanceOf(bank, alice.clientId.accountId);
    const payeeBefore = await balanceOf(bank, bob.clientId.accountId);
    const opened = await openTestRequest(bank, alice, transfer(bob.partyId, 2_500n));
    const result = await execute(opened);
    expect(result).toEqual({
      orderId: opened.requestId,
      state: 'completed',
      payeeId: bob.partyId,
      amount: '2500',
      currency: 'EUR',
      reference: 'rent march',
    });
    expect((await balanceOf(bank, alice.clientId.accountId)).balance).toBe(before.balance - 2_500n);
    expect((await balanceOf(bank, bob.clientId.accountId)).balance).toBe(payeeBefore.balance + 2_500n);
    // The request's outcome committed with the debit: what the device is answered, even after a cut.
    expect(await outcomeOf(opened.requestId)).toEqual({ outcome: 'OK', result });
    const { rows } = await bank.database.query<{ reference: string; amount: string }>(
      'SELECT reference, amount::text AS amount FROM transfers WHERE id = $1',
      [opened.requestId],
    );
    expect(rows).toEqual([{ reference: `banking ${opened.requestId}`, amount: '2500' }]);

    const evidence = await bank.call('GET', `/banking/transactions/${opened.requestId}`);
    expect(evidence.status).toBe(200);
    expect(evidence.body).toMatchObject({
      id: opened.requestId,
      partyId: alice.partyId,
      kind: 'transfer',
      transferId: opened.requestId,
    });
    expect(evidence.body.logIndex).toBeUndefined();
    expect(evidence.body.receipt).toBeUndefined();
    const messages = evidence.body.messages as string[];
    expect(messages).toHaveLength(2);
    expect(messages[0]).toBe(opened.jws);
    const { payload } = await verifyPayload(
      messages[1] as string,
      (kid) => context.bank.resolveKey(kid),
      { audience: alice.partyId, issuer: 'xbank', transactionId: opened.requestId },
      { maxAgeSeconds: bankingRecordLifetimeSeconds, now: () => bank.now().getTime() },
    );
    expect(payload.bankingTransaction).toEqual({
      requestId: opened.requestId,
      kind: 'transfer',
      partyId: alice.partyId,
      clientId: alice.clientId,
      orderId: opened.requestId,
      payeeId: bob.partyId,
      creditBankId: 'xbank',
      amount: '2500',
      currency: 'EUR',
      reference: 'rent march',
      orderReference: `banking ${opened.requestId}`,
    });
  });

  it('refuses a debit beyond the funds: INSUFFICIENT_FUNDS, nothing moved, nothing recorded', async () => {
    const before = await balanceOf(bank, alice.clientId.accountId);
    const opened = await openTestRequest(bank, alice, transfer(bob.partyId, before.available + 1n));
    await expect(execute(opened)).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    expect(await balanceOf(bank, alice.clientId.accountId)).toEqual(before);
    expect(await bankingTransactionRows(bank, opened.requestId)).toBe(0);
    // Rolled back with the debit: no outcome (the authentication server records the refusal).
    expect(await outcomeOf(opened.requestId)).toEqual({ outcome: null, result: null });
  });

  it('refuses a debit beyond the daily limit (LIMIT_EXCEEDED) after one within it', async () => {
    const carol = await newBankingCustomer(bank, { funds: 50_000n, prefix: 'carol' });
    const limits = await bank.call('POST', `/accounts/${carol.clientId.accountId}/limits`, {
      dailyDebitMax: '3000',
    });
    expect(limits.status).toBe(200);
    await expect(run(carol, transfer(bob.partyId, 2_000n))).resolves.toMatchObject({ state: 'completed' });
    const before = await balanceOf(bank, carol.clientId.accountId);
    const opened = await openTestRequest(bank, carol, transfer(bob.partyId, 1_001n));
    await expect(execute(opened)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(await balanceOf(bank, carol.clientId.accountId)).toEqual(before);
    expect(await bankingTransactionRows(bank, opened.requestId)).toBe(0);
    await expect(run(carol, transfer(bob.partyId, 1_000n))).resolves.toMatchObject({ state: 'completed' });
  });

  it('refuses a payee without an account here (PAYEE_UNKNOWN)', async () => {
    const nobody = uniquePartyId('person', 'xbank', 'nobody');
    const opened = await openTestRequest(bank, alice, transfer(nobody, 100n));
    await expect(execute(opened)).rejects.toMatchObject({ code: 'PAYEE_UNKNOWN' });
    expect(await bankingTransactionRows(bank, opened.requestId)).toBe(0);
  });

  it('refuses a debit of an account the binding does not name (BANKING_REQUEST_INVALID), even the party’s own', async () => {
    // Opened after the enrolment: the party's, funded, but not in the device's binding.
    const unbound = await bank.openAccount('customer', 'EUR', alice.partyId);
    await bank.fund(unbound, 5_000n);
    for (const accountId of [unbound, bob.clientId.accountId]) {
      const opened = await openTestRequest(bank, alice, transfer(bob.partyId, 100n), { accountId });
      await expect(execute(opened)).rejects.toMatchObject({ code: 'BANKING_REQUEST_INVALID' });
      expect(await bankingTransactionRows(bank, opened.requestId)).toBe(0);
    }
    expect(await balanceOf(bank, unbound)).toEqual({ balance: 5_000n, available: 5_000n });
  });

  it('refuses a binding revoked between the claim and the debit: nothing moved, nothing recorded', async () => {
    const dan = await newBankingCustomer(bank, { funds: 10_000n, prefix: 'dan' });
    const opened = await openTestRequest(bank, dan, transfer(bob.partyId, 1_000n));
    const revoked = await bank.call('POST', `/key-bindings/${dan.key.serial}/revocation`, { reason: 'lost' });
    expect(revoked.status).toBe(201);
    const payeeBefore = await balanceOf(bank, bob.clientId.accountId);
    await expect(execute(opened)).rejects.toMatchObject({ code: 'BANKING_REQUEST_INVALID' });
    expect(await balanceOf(bank, dan.clientId.accountId)).toEqual({ balance: 10_000n, available: 10_000n });
    expect(await balanceOf(bank, bob.clientId.accountId)).toEqual(payeeBefore);
    expect(await bankingTransactionRows(bank, opened.requestId)).toBe(0);
    const { rows } = await bank.database.query('SELECT id FROM payment_orders WHERE id = $1', [
      opened.requestId,
    ]);
    expect(rows).toEqual([]);
  });
});

describe('bill payment', () => {
  it('pays the biller’s payee with the reference `bill <billerId> <customerReference>`', async () => {
    const before = await balanceOf(bank, merchantAccountId);
    const opened = await openTestRequest(bank, alice, {
      kind: 'bill_payment',
      billerId: 'power-co',
      customerReference: 'INV-2024/0042',
      amount: 4_200n,
      currency: 'EUR',
    });
    const result = await execute(opened);
    expect(result).toEqual({
      orderId: opened.requestId,
      state: 'completed',
      billerId: 'power-co',
      billerName: 'Power Co',
      customerReference: 'INV-2024/0042',
      amount: '4200',
      currency: 'EUR',
    });
    expect((await balanceOf(bank, merchantAccountId)).balance).toBe(before.balance + 4_200n);
    const { rows } = await bank.database.query<{ reference: string }>(
      'SELECT reference FROM transfers WHERE id = $1',
      [opened.requestId],
    );
    expect(rows).toEqual([{ reference: 'bill power-co INV-2024/0042' }]);
    const { rows: recorded } = await bank.database.query<{ kind: string; transfer_id: string }>(
      'SELECT kind, transfer_id::text AS transfer_id FROM banking_transactions WHERE id = $1',
      [opened.requestId],
    );
    expect(recorded).toEqual([{ kind: 'bill_payment', transfer_id: opened.requestId }]);
  });

  it('refuses a biller that is not registered (BANKING_BILLER_UNKNOWN): nothing moved', async () => {
    const before = await balanceOf(bank, alice.clientId.accountId);
    const opened = await openTestRequest(bank, alice, {
      kind: 'bill_payment',
      billerId: 'water-co',
      customerReference: 'A1',
      amount: 100n,
      currency: 'EUR',
    });
    await expect(execute(opened)).rejects.toMatchObject({ code: 'BANKING_BILLER_UNKNOWN' });
    expect(await balanceOf(bank, alice.clientId.accountId)).toEqual(before);
    expect(await bankingTransactionRows(bank, opened.requestId)).toBe(0);
  });
});

describe('statement', () => {
  interface Line {
    transferId: string;
    direction: string;
    amount: string;
    reference?: string;
    at: string;
    requestId?: string;
    receipt?: string;
  }

  it('pages ID_C’s ledger newest first; banking lines carry their request id, the payee’s do not', async () => {
    const erin = await newBankingCustomer(bank, { funds: 10_000n, prefix: 'erin' });
    const payee = await newBankingCustomer(bank, { prefix: 'payee' });
    const requestIds: string[] = [];
    for (const amount of [100n, 200n, 300n]) {
      const opened = await openTestRequest(bank, erin, transfer(payee.partyId, amount));
      await execute(opened);
      requestIds.push(opened.requestId);
    }
    const first = await run(erin, { kind: 'statement', pageSize: 2 });
    expect(first).toMatchObject({ accountId: erin.clientId.accountId, currency: 'EUR', balance: '9400' });
    const firstLines = first.lines as Line[];
    expect(firstLines.map((line) => [line.amount, line.direction, line.requestId])).toEqual([
      ['300', 'debit', requestIds[2]],
      ['200', 'debit', requestIds[1]],
    ]);
    expect(firstLines[0]).toMatchObject({ transferId: requestIds[2], reference: `banking ${requestIds[2]}` });
    expect(firstLines[0]?.receipt).toBeUndefined();
    expect(typeof first.nextCursor).toBe('string');
    const second = await run(erin, { kind: 'statement', pageSize: 2, cursor: first.nextCursor as string });
    const secondLines = second.lines as Line[];
    expect(secondLines.map((line) => [line.amount, line.direction, line.requestId])).toEqual([
      ['100', 'debit', requestIds[0]],
      ['10000', 'credit', undefined],
    ]);
    expect(second.nextCursor).toBeUndefined();

    // The payee sees the credits, never the payer's request (its signed ID_C) nor its receipt.
    const credited = await run(payee, { kind: 'statement' });
    const creditLines = credited.lines as Line[];
    expect(creditLines.map((line) => [line.amount, line.direction])).toEqual([
      ['300', 'credit'],
      ['200', 'credit'],
      ['100', 'credit'],
    ]);
    expect(creditLines.every((line) => line.requestId === undefined && line.receipt === undefined)).toBe(
      true,
    );
  });

  it('is the statement of ID_C’s account, not of the binding’s first account', async () => {
    const frank = await newBankingCustomer(bank, { funds: 1_000n, accounts: 2, prefix: 'frank' });
    const [, savings] = frank.accountIds;
    if (savings === undefined) throw new Error('assertion failed: two accounts');
    await bank.fund(savings, 777n);
    const statement = await run(frank, { kind: 'statement' }, savings);
    expect(statement).toMatchObject({ accountId: savings, balance: '777' });
    expect((statement.lines as Line[]).map((line) => line.amount)).toEqual(['777']);
    await expect(run(frank, { kind: 'statement' }, bob.accountIds[0])).rejects.toMatchObject({
      code: 'ACCOUNT_UNKNOWN',
    });
  });

  it('answers fewer lines when their receipts would make the answer too long, and the next page goes on', async () => {
    const gina = await newBankingCustomer(bank, { funds: 10_000n, prefix: 'gina' });
    const requestIds: string[] = [];
    for (let index = 0; index < 10; index += 1) {
      const opened = await openTestRequest(bank, gina, transfer(bob.partyId, BigInt(index + 1)));
      await execute(opened);
      requestIds.push(opened.requestId);
    }
    // Stands for receipts of a big log: each line then carries about 20 000 characters.
    const receipt = 'r'.repeat(20_000);
    await bank.database.query('UPDATE banking_transactions SET receipt = $2 WHERE id = ANY($1::uuid[])', [
      requestIds,
      receipt,
    ]);
    const first = await run(gina, { kind: 'statement', pageSize: 10 });
    expect(JSON.stringify(first).length).toBeLessThanOrEqual(bankingStatementResultCharsMax);
    const firstLines = first.lines as Line[];
    expect(firstLines.length).toBeGreaterThan(1);
    expect(firstLines.length).toBeLessThan(10);
    expect(firstLines.every((line) => line.receipt === receipt)).toBe(true);
    const rest = await run(gina, { kind: 'statement', pageSize: 10, cursor: first.nextCursor as string });
    const all = [...firstLines, ...(rest.lines as Line[])];
    expect(all.map((line) => line.requestId)).toEqual([...requestIds.reverse(), undefined]);
  });

  it('refuses a page beyond statementPageSizeMax and a forged cursor (REQUEST_INVALID)', async () => {
    const max = context.banking.limits.statementPageSizeMax;
    await expect(run(alice, { kind: 'statement', pageSize: max + 1 })).rejects.toMatchObject({
      code: 'REQUEST_INVALID',
    });
    await expect(run(alice, { kind: 'statement', pageSize: max })).resolves.toMatchObject({
      accountId: alice.clientId.accountId,
    });
    await expect(run(alice, { kind: 'statement', cursor: 'djEuMDA' })).rejects.toMatchObject({
      code: 'REQUEST_INVALID',
    });
  });
});
