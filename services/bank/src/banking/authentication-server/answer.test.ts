import type { BankingRequest } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodeOf, startTestBank, type TestBank, uniquePartyId } from '../../test-helpers.ts';
import { balanceOf, bankingTransactionRows } from '../business-logic-server/banking.test-helper.ts';
import { executeBankingRequest } from '../business-logic-server/dispatch.ts';
import type { BankingContext } from '../context.ts';
import { answerBankingRequest, type BankingRequestExecutor } from './answer.ts';
import {
  deviceCall,
  loginTestDevice,
  openTestBankingAnswer,
  registerTestBankingCustomer,
  sealTestBankingRequest,
  sendTestBankingRequest,
  type TestBankingDevice,
  type TestBankingSession,
  testBankingContext,
} from './banking.test-helper.ts';

/**
 * A request's outcome is durable with its effect: the answer lost after
 * the money moved (a crash, a cut connection) is answered again to a retry
 * of the same request, which moves nothing more; a retry of a request whose
 * effect never committed runs it once; the same id with other content is a
 * replay.
 */

let bank: TestBank;
let context: BankingContext;
let payeeId: string;
let payeeAccountId: string;

beforeAll(async () => {
  bank = await startTestBank({ banking: {} });
  context = testBankingContext(bank);
  payeeId = uniquePartyId('person', bank.name, 'payee');
  payeeAccountId = await bank.openAccount('customer', 'EUR', payeeId);
});

afterAll(async () => {
  await bank?.close();
});

const transfer = (amount: bigint): BankingRequest => ({
  kind: 'transfer',
  payeeId,
  amount,
  currency: 'EUR',
  reference: 'rent',
});

async function customerWithSession(): Promise<{ device: TestBankingDevice; session: TestBankingSession }> {
  const device = await registerTestBankingCustomer(bank, { funds: 10_000n });
  return { device, session: await loginTestDevice(bank, device) };
}

async function requestRow(id: string) {
  const { rows } = await bank.database.query<{
    outcome: string | null;
    answer: string | null;
    result: string | null;
  }>('SELECT outcome, answer, result FROM banking_requests WHERE id = $1', [id]);
  return rows[0];
}

async function transfersOf(requestId: string): Promise<number> {
  const { rows } = await bank.database.query('SELECT id FROM transfers WHERE id = $1', [requestId]);
  return rows.length;
}

async function rejection(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

/**
 * An Sql whose statements matching `pattern` fail before they leave, inside transactions too: what a
 * step that cannot build its statement does. Where the COMMIT leaves with the last statements
 * (commitWithLastStatements), the others must not commit without it.
 */
function cutOn<T extends Sql>(sql: T, pattern: RegExp): T {
  return new Proxy(sql, {
    get(target, property) {
      if (property === 'query') {
        return (text: string, params?: unknown[]) => {
          if (pattern.test(text)) return Promise.reject(new Error('connection cut'));
          return target.query(text, params);
        };
      }
      if (property === 'transaction') {
        return <R>(work: (inner: Sql) => Promise<R>) =>
          (target as unknown as Database).transaction((inner) => work(cutOn(inner, pattern)));
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function expectedResult(requestId: string, amount: string) {
  return { orderId: requestId, state: 'completed', payeeId, amount, currency: 'EUR', reference: 'rent' };
}

describe('a transfer whose answer was lost after the money moved', () => {
  it('cut after the effect committed: the retry is answered the same outcome, the money moved once', async () => {
    const { device, session } = await customerWithSession();
    const before = await balanceOf(bank, device.clientId.accountId);
    const payeeBefore = await balanceOf(bank, payeeAccountId);
    const sealed = await sealTestBankingRequest(bank, device, session, transfer(1_500n));
    let runs = 0;
    const cutAfterCommit: BankingRequestExecutor = async (executeContext, opened, now) => {
      runs += 1;
      await executeBankingRequest(executeContext, opened, now);
      throw new Error('connection cut');
    };
    expect(await rejection(answerBankingRequest(context, sealed.body, cutAfterCommit))).toMatchObject({
      message: 'connection cut',
    });
    expect(runs).toBe(1);
    expect((await balanceOf(bank, device.clientId.accountId)).balance).toBe(before.balance - 1_500n);
    // The outcome committed with the debit, the signed answer never came to be.
    const recorded = await requestRow(sealed.requestId);
    expect(recorded).toMatchObject({ outcome: 'OK', answer: null });
    expect(JSON.parse(recorded?.result ?? 'null')).toEqual(expectedResult(sealed.requestId, '1500'));

    // The same sealed request again, byte for byte (a copy someone saw on the way): nothing.
    const copied = await deviceCall(bank, '/banking/requests', sealed.body);
    expect(copied.status).toBe(409);
    expect(errorCodeOf(copied)).toBe('BANKING_REQUEST_REPLAYED');
    // The device signs it again under the same request id (as the SDK does): the recorded answer.
    const resigned = await sendTestBankingRequest(bank, device, session, transfer(1_500n), {
      requestId: sealed.requestId,
    });
    expect(resigned.answer.status).toBe(200);
    expect(resigned.content).toMatchObject({
      requestId: sealed.requestId,
      sessionId: session.sessionId,
      kind: 'transfer',
      result: expectedResult(sealed.requestId, '1500'),
    });
    // Answered from the record: the executor does not run again; a copy of the retry gets nothing.
    const counting: BankingRequestExecutor = async (executeContext, opened, now) => {
      runs += 1;
      return executeBankingRequest(executeContext, opened, now);
    };
    const again = await sealTestBankingRequest(bank, device, session, transfer(1_500n), {
      requestId: sealed.requestId,
    });
    const fromRecord = await answerBankingRequest(context, again.body, counting);
    const recordedContent = await openTestBankingAnswer(bank, device, session, fromRecord.answer);
    expect(recordedContent.result).toEqual(expectedResult(sealed.requestId, '1500'));
    expect(await rejection(answerBankingRequest(context, again.body, counting))).toMatchObject({
      code: 'BANKING_REQUEST_REPLAYED',
    });

    expect(runs).toBe(1);
    expect((await balanceOf(bank, device.clientId.accountId)).balance).toBe(before.balance - 1_500n);
    expect((await balanceOf(bank, payeeAccountId)).balance).toBe(payeeBefore.balance + 1_500n);
    expect(await transfersOf(sealed.requestId)).toBe(1);
    expect(await bankingTransactionRows(bank, sealed.requestId)).toBe(1);
    // The retry's signed answer is the evidence now.
    expect((await requestRow(sealed.requestId))?.answer).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('cut while the answer is recorded: the retry is answered the same outcome, the money moved once', async () => {
    const { device, session } = await customerWithSession();
    const before = await balanceOf(bank, device.clientId.accountId);
    const sealed = await sealTestBankingRequest(bank, device, session, transfer(700n));
    const cutContext: BankingContext = {
      ...context,
      database: cutOn(context.database, /SET outcome = 'OK', answer/),
    };
    expect(
      await rejection(answerBankingRequest(cutContext, sealed.body, executeBankingRequest)),
    ).toMatchObject({ message: 'connection cut' });
    expect((await balanceOf(bank, device.clientId.accountId)).balance).toBe(before.balance - 700n);
    expect(await requestRow(sealed.requestId)).toMatchObject({ outcome: 'OK', answer: null });

    const retried = await sendTestBankingRequest(bank, device, session, transfer(700n), {
      requestId: sealed.requestId,
    });
    expect(retried.answer.status).toBe(200);
    expect(retried.content?.result).toEqual(expectedResult(sealed.requestId, '700'));
    expect((await balanceOf(bank, device.clientId.accountId)).balance).toBe(before.balance - 700n);
    expect(await transfersOf(sealed.requestId)).toBe(1);
  });

  it('a cut transaction commits neither the debit nor the outcome: the retry runs the request, once', async () => {
    const { device, session } = await customerWithSession();
    const before = await balanceOf(bank, device.clientId.accountId);
    const sealed = await sealTestBankingRequest(bank, device, session, transfer(300n));
    // The connection drops inside the order's transaction, after the debit and the outcome were written.
    const cutContext: BankingContext = {
      ...context,
      database: cutOn(context.database, /INSERT INTO payment_orders/),
    };
    expect(
      await rejection(answerBankingRequest(cutContext, sealed.body, executeBankingRequest)),
    ).toMatchObject({ message: 'connection cut' });
    expect((await balanceOf(bank, device.clientId.accountId)).balance).toBe(before.balance);
    expect(await requestRow(sealed.requestId)).toEqual({ outcome: null, answer: null, result: null });
    expect(await transfersOf(sealed.requestId)).toBe(0);

    // A copy of the request, replayed by whoever saw it, runs nothing, even with no outcome recorded.
    const copied = await deviceCall(bank, '/banking/requests', sealed.body);
    expect(copied.status).toBe(409);
    expect(errorCodeOf(copied)).toBe('BANKING_REQUEST_REPLAYED');
    expect(await transfersOf(sealed.requestId)).toBe(0);
    // The device, signing it again, runs it; signing it again once more, gets the same answer.
    const retried = await sendTestBankingRequest(bank, device, session, transfer(300n), {
      requestId: sealed.requestId,
    });
    expect(retried.answer.status).toBe(200);
    expect(retried.content?.result).toEqual(expectedResult(sealed.requestId, '300'));
    const again = await sendTestBankingRequest(bank, device, session, transfer(300n), {
      requestId: sealed.requestId,
    });
    expect(again.answer.status).toBe(200);
    expect(again.content?.result).toEqual(expectedResult(sealed.requestId, '300'));
    expect((await balanceOf(bank, device.clientId.accountId)).balance).toBe(before.balance - 300n);
    expect(await transfersOf(sealed.requestId)).toBe(1);
  });

  it('a retry while the first try is still running: one debit, both answered the same order', async () => {
    const { device, session } = await customerWithSession();
    const before = await balanceOf(bank, device.clientId.accountId);
    const sealed = await sealTestBankingRequest(bank, device, session, transfer(200n));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reached: () => void = () => undefined;
    const waiting = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const slow: BankingRequestExecutor = async (executeContext, opened, now) => {
      reached();
      await released;
      return executeBankingRequest(executeContext, opened, now);
    };
    const first = answerBankingRequest(context, sealed.body, slow);
    await waiting;
    // Claimed, no outcome yet: the retry (signed again) runs it.
    const retried = await sendTestBankingRequest(bank, device, session, transfer(200n), {
      requestId: sealed.requestId,
    });
    expect(retried.answer.status).toBe(200);
    expect(retried.content?.result).toEqual(expectedResult(sealed.requestId, '200'));
    release();
    const answered = await first;
    const content = await openTestBankingAnswer(bank, device, session, answered.answer);
    expect(content.result).toEqual(expectedResult(sealed.requestId, '200'));
    expect((await balanceOf(bank, device.clientId.accountId)).balance).toBe(before.balance - 200n);
    expect(await transfersOf(sealed.requestId)).toBe(1);
    expect(await bankingTransactionRows(bank, sealed.requestId)).toBe(1);
  });
});

describe('the same request id with other content', () => {
  it('is BANKING_REQUEST_REPLAYED, after an answer and after a cut alike, and moves nothing', async () => {
    const { device, session } = await customerWithSession();
    const before = await balanceOf(bank, device.clientId.accountId);
    const sent = await sendTestBankingRequest(bank, device, session, transfer(100n));
    expect(sent.answer.status).toBe(200);
    const otherAmount = await sendTestBankingRequest(bank, device, session, transfer(101n), {
      requestId: sent.requestId,
    });
    expect(otherAmount.answer.status).toBe(409);
    expect(errorCodeOf(otherAmount.answer)).toBe('BANKING_REQUEST_REPLAYED');

    const sealed = await sealTestBankingRequest(bank, device, session, transfer(50n));
    const cut: BankingRequestExecutor = async () => {
      throw new Error('connection cut');
    };
    await rejection(answerBankingRequest(context, sealed.body, cut));
    const otherPayee = await sendTestBankingRequest(
      bank,
      device,
      session,
      { ...transfer(50n), reference: 'other' } as BankingRequest,
      { requestId: sealed.requestId },
    );
    expect(errorCodeOf(otherPayee.answer)).toBe('BANKING_REQUEST_REPLAYED');
    expect((await balanceOf(bank, device.clientId.accountId)).balance).toBe(before.balance - 100n);
    expect(await transfersOf(sealed.requestId)).toBe(0);
  });
});
