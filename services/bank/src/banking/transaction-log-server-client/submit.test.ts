import { checkpointFollowerOf } from '@mpay/log-client';
import { type LogStack, startLogStack } from '@mpay/log-service';
import { generateCosignerKey, verifyReceipt } from '@mpay/merkle';
import { openTestDatabase } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backgroundWorkDeadlineMs,
  requestDeadlineMs,
  waitFor,
} from '../../../../../test/support/deadlines.ts';
import { startTestBank, type TestBank } from '../../test-helpers.ts';
import {
  type BankingTestCustomer,
  bankingContextOf,
  newBankingCustomer,
  openTestRequest,
} from '../business-logic-server/banking.test-helper.ts';
import { executeBankingRequest } from '../business-logic-server/dispatch.ts';
import type { BankingContext, BankTransactionLogLink } from '../context.ts';
import { selectBankingTransaction } from './store.ts';
import { advanceBankingTransactions, bankingLogSubmission } from './submit.ts';

/**
 * The transaction log server client against a real third-party log and its
 * witness (services/log startLogStack, in this process): a banking transfer's
 * record is submitted by the bank (submitter xbank, its signing key), and its
 * receipt, once stored, verifies offline with the log's and the witness's keys.
 */

let bank: TestBank;
let stack: LogStack;
let link: BankTransactionLogLink;
let logged: BankingContext;
let alice: BankingTestCustomer;
let bob: BankingTestCustomer;

/** The context of the test bank with the log configured (the bank's key had to exist before the log knew it). */
function withLog(context: BankingContext, transactionLog: BankTransactionLogLink): BankingContext {
  return { ...context, banking: { ...context.banking, transactionLog } };
}

beforeAll(async () => {
  bank = await startTestBank({ banking: {} });
  const context = bankingContextOf(bank);
  stack = await startLogStack({
    openDatabase: (name) => openTestDatabase(name),
    submitters: [{ id: 'xbank', signingJwk: context.bank.publicJwk }],
    limits: { integrationIntervalMs: 50, witnessTimeoutMs: Math.min(requestDeadlineMs, 60_000) },
  });
  link = {
    url: stack.logUrl,
    origin: stack.origin,
    logVerifierKey: stack.logVerifierKey,
    witnessVerifierKeys: [stack.witnessVerifierKey],
    witnessesRequired: 1,
  };
  logged = withLog(context, link);
  alice = await newBankingCustomer(bank, { funds: 10_000n, prefix: 'alice' });
  bob = await newBankingCustomer(bank, { prefix: 'bob' });
});

afterAll(async () => {
  await bank?.close();
  await stack?.close();
});

async function transferOf(amount: bigint) {
  const opened = await openTestRequest(bank, alice, {
    kind: 'transfer',
    payeeId: bob.partyId,
    amount,
    currency: 'EUR',
    reference: 'logged',
  });
  await executeBankingRequest(bankingContextOf(bank), opened, bank.now());
  return opened;
}

describe('advanceBankingTransactions', () => {
  it('does nothing without a configured log: the transaction waits, recorded', async () => {
    const opened = await transferOf(100n);
    expect(await advanceBankingTransactions(bankingContextOf(bank), bank.now())).toBe(0);
    const stored = await selectBankingTransaction(bank.database, opened.requestId);
    expect(stored).toMatchObject({ attempts: 0, logIndex: null, receipt: null });
  });

  it('submits a transfer’s record to the log and stores a receipt that verifies; the statement line carries it', async () => {
    const opened = await transferOf(250n);
    // Each pass is told a later time, so that the backoff of "not proved yet" never holds the entry back.
    let pass = 0;
    const stored = await waitFor(
      async () => {
        pass += 1;
        const later = new Date(bank.now().getTime() + pass * (bankingLogSubmission.retryDelayMsMax + 1_000));
        await advanceBankingTransactions(logged, later);
        const record = await selectBankingTransaction(bank.database, opened.requestId);
        return record?.receipt === null ? undefined : record;
      },
      { deadlineMs: backgroundWorkDeadlineMs, what: 'the banking transfer’s receipt from the log' },
    );
    expect(stored?.logIndex).not.toBeNull();
    const receipt = stored?.receipt ?? '';
    const policy = {
      logVerifierKey: stack.logVerifierKey,
      witnessVerifierKeys: [stack.witnessVerifierKey],
      witnessesRequired: 1,
    };
    const verified = await verifyReceipt(receipt, policy);
    expect(verified.receipt.transactionId).toBe(opened.requestId);
    expect(verified.receipt.messages).toEqual(stored?.messages);
    expect(verified.receipt.messages[0]).toBe(opened.jws);
    expect(verified.receipt.entry).toMatchObject({ kind: 'banking.transfer', submitter: 'xbank' });
    expect(verified.proof.index).toBe(stored?.logIndex);

    const evidence = await bank.call('GET', `/banking/transactions/${opened.requestId}`);
    expect(evidence.body).toMatchObject({ receipt, logIndex: Number(stored?.logIndex) });

    const statement = await executeBankingRequest(
      bankingContextOf(bank),
      await openTestRequest(bank, alice, { kind: 'statement' }),
      bank.now(),
    );
    const line = (statement.lines as { transferId: string; requestId?: string; receipt?: string }[]).find(
      (candidate) => candidate.transferId === opened.requestId,
    );
    expect(line).toMatchObject({ requestId: opened.requestId, receipt });
  });

  it("holds the last stored receipt's checkpoint before its first receipt after a start; one it cannot read only warns", async () => {
    const { rows } = await bank.database.query<{ receipt: string }>(
      'SELECT receipt FROM banking_transactions WHERE receipt IS NOT NULL ORDER BY log_index DESC LIMIT 1',
    );
    const last = rows[0]?.receipt ?? '';
    const policy = {
      logVerifierKey: stack.logVerifierKey,
      witnessVerifierKeys: [stack.witnessVerifierKey],
      witnessesRequired: 1,
    };
    const stored = (await verifyReceipt(last, policy)).proof.checkpoint;
    // A start is a new link, and so a new follower; a pass at the epoch finds nothing due.
    const restarted = { ...link };
    expect(checkpointFollowerOf(restarted).held).toBeUndefined();
    expect(await advanceBankingTransactions(withLog(bankingContextOf(bank), restarted), new Date(0))).toBe(0);
    expect(checkpointFollowerOf(restarted).held?.checkpoint).toEqual(stored);
    // Under a witness key that did not cosign it, the stored receipt is not taken: a warning, and the pass goes on.
    const otherWitness = await generateCosignerKey('witness.log.mpay.example');
    const rekeyed = { ...link, witnessVerifierKeys: [otherWitness.verifierKey] };
    const warnings: string[] = [];
    const context = withLog(bankingContextOf(bank), rekeyed);
    const watched = {
      ...context,
      log: { info: () => undefined, warn: (_: object, message: string) => warnings.push(message) },
    };
    expect(await advanceBankingTransactions(watched, new Date(0))).toBe(0);
    expect(checkpointFollowerOf(rekeyed).held).toBeUndefined();
    expect(warnings).toEqual([
      expect.stringContaining('the last stored banking receipt could not be read again'),
    ]);
  });

  it('records a failed attempt and backs off: not due again before next_attempt_at', async () => {
    // A fresh bank: no other transaction is due there.
    const other = await startTestBank({ banking: {} });
    try {
      const payer = await newBankingCustomer(other, { funds: 1_000n, prefix: 'payer' });
      const payee = await newBankingCustomer(other, { prefix: 'payee' });
      const opened = await openTestRequest(other, payer, {
        kind: 'transfer',
        payeeId: payee.partyId,
        amount: 10n,
        currency: 'EUR',
        reference: 'unlogged',
      });
      await executeBankingRequest(bankingContextOf(other), opened, other.now());
      // Nothing listens on the log's URL: the submission fails.
      const unreachable = withLog(bankingContextOf(other), { ...link, url: 'http://127.0.0.1:9/' });
      const now = other.now();
      expect(await advanceBankingTransactions(unreachable, now)).toBe(1);
      const failed = await selectBankingTransaction(other.database, opened.requestId);
      expect(failed).toMatchObject({ attempts: 1, logIndex: null, receipt: null });
      expect(failed?.lastError).toEqual(expect.any(String));
      expect(failed?.nextAttemptAt.getTime()).toBe(now.getTime() + bankingLogSubmission.retryDelayMsBase);
      expect(await advanceBankingTransactions(unreachable, now)).toBe(0);
      const later = new Date(now.getTime() + bankingLogSubmission.retryDelayMsBase);
      expect(await advanceBankingTransactions(unreachable, later)).toBe(1);
      const again = await selectBankingTransaction(other.database, opened.requestId);
      expect(again?.attempts).toBe(2);
      expect(again?.nextAttemptAt.getTime()).toBe(
        later.getTime() + 2 * bankingLogSubmission.retryDelayMsBase,
      );
      // A log that stays down (or never proves what it indexed) reaches the operator, once per stretch.
      const alarms: Record<string, unknown>[] = [];
      const watched = { ...unreachable, alarm: (event: Record<string, unknown>) => alarms.push(event) };
      let at = later;
      for (let attempt = 3; attempt <= bankingLogSubmission.alarmAfterAttempts; attempt += 1) {
        at = new Date(at.getTime() + bankingLogSubmission.retryDelayMsMax);
        expect(await advanceBankingTransactions(watched, at)).toBe(1);
        expect(alarms.length).toBe(attempt === bankingLogSubmission.alarmAfterAttempts ? 1 : 0);
      }
      expect(alarms[0]).toMatchObject({
        requestId: opened.requestId,
        attempts: bankingLogSubmission.alarmAfterAttempts,
      });
    } finally {
      await other.close();
    }
  });
});
