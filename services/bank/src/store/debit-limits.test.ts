import { randomUUID } from 'node:crypto';
import type { TransferRequest } from '@mpay/ledger';
import { isMpayError } from '@mpay/protocol';
import { type Database, openTestDatabase, testBackend } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBankLimits } from '../limits.ts';
import { migrateBank } from '../migrations.ts';
import { type BankLedger, createBankLedger } from './bank-ledger.ts';
import { checkDebitLimits, createTransferWithinLimits, debitsOfDay, utcDayOf } from './debit-limits.ts';
import { setAccountLimits } from './limits.ts';

let database: Database;
let ledger: BankLedger;

beforeAll(async () => {
  database = await openTestDatabase('bank_limits');
  await migrateBank(database);
  ledger = createBankLedger(database, { bankName: 'xbank', limits: createBankLimits() });
});
afterAll(() => database.close());

const noon = new Date('2026-03-10T12:00:00.000Z');
const hoursAfter = (hours: number) => new Date(noon.getTime() + hours * 3_600_000);

async function accounts(funds: bigint): Promise<{ customer: string; merchant: string }> {
  const [funding, customer, merchant] = [randomUUID(), randomUUID(), randomUUID()];
  await ledger.openAccount({ id: funding, ledger: 'EUR', owner: 'xbank', kind: 'funding' }, noon);
  await ledger.openAccount(
    { id: customer, ledger: 'EUR', owner: 'ann@person.xbank', kind: 'customer' },
    noon,
  );
  await ledger.openAccount(
    { id: merchant, ledger: 'EUR', owner: 'shop@merchant.xbank', kind: 'merchant' },
    noon,
  );
  const fund = {
    kind: 'posted',
    id: randomUUID(),
    debitAccountId: funding,
    creditAccountId: customer,
  } as const;
  await ledger.createTransfer({ ...fund, amount: funds, ledger: 'EUR', reference: '' }, hoursAfter(-48));
  return { customer, merchant };
}

function debit(
  from: string,
  to: string,
  amount: bigint,
  kind: 'posted' | 'pending' = 'posted',
  timeoutSeconds = 7_200,
): TransferRequest {
  const movement = {
    id: randomUUID(),
    debitAccountId: from,
    creditAccountId: to,
    amount,
    ledger: 'EUR',
    reference: '',
  } as const;
  return kind === 'posted' ? { ...movement, kind } : { ...movement, kind, timeoutSeconds };
}

function paymentAt(request: TransferRequest, now: Date) {
  return database.transaction((sql) => createTransferWithinLimits(sql, request, now));
}

async function codeOf(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
    return undefined;
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
}

describe('utcDayOf', () => {
  it('is the UTC calendar day around the instant', () => {
    expect(utcDayOf(new Date('2026-03-10T23:59:59.999Z'))).toEqual({
      start: new Date('2026-03-10T00:00:00.000Z'),
      end: new Date('2026-03-11T00:00:00.000Z'),
    });
    expect(utcDayOf(new Date('2026-03-11T00:00:00.000Z')).start).toEqual(
      new Date('2026-03-11T00:00:00.000Z'),
    );
  });
});

describe('debitsOfDay', () => {
  it('counts posted debits and open holds of the day, not voided, expired or earlier holds', async () => {
    const { customer, merchant } = await accounts(10_000n);
    await ledger.createTransfer(debit(customer, merchant, 1n), hoursAfter(-13)); // yesterday
    await ledger.createTransfer(debit(merchant, customer, 1n), hoursAfter(-13)); // a credit
    await ledger.createTransfer(debit(customer, merchant, 10n), hoursAfter(-1));
    await ledger.createTransfer(debit(customer, merchant, 20n, 'pending'), hoursAfter(-1)); // open
    const voided = debit(customer, merchant, 40n, 'pending');
    await ledger.createTransfer(voided, hoursAfter(-1));
    await ledger.createTransfer(
      { kind: 'void_pending', id: randomUUID(), pendingId: voided.id, reference: '' },
      noon,
    );
    const posted = debit(customer, merchant, 80n, 'pending');
    await ledger.createTransfer(posted, hoursAfter(-1));
    const post = {
      kind: 'post_pending',
      id: randomUUID(),
      pendingId: posted.id,
      amount: 70n,
      reference: '',
    } as const;
    await ledger.createTransfer(post, noon);
    await ledger.createTransfer(debit(customer, merchant, 160n, 'pending', 60), hoursAfter(-2)); // expired
    expect(await debitsOfDay(database, customer, noon)).toBe(10n + 20n + 70n);
    expect(await debitsOfDay(database, customer, hoursAfter(-13))).toBe(1n);
  });
});

describe('checkDebitLimits', () => {
  it('refuses a debit above the per-transaction limit, naming it', async () => {
    const { customer } = await accounts(1_000n);
    await setAccountLimits(database, customer, { perTransactionMax: 100n }, 'operator', noon);
    await database.transaction((sql) => checkDebitLimits(sql, customer, 100n, noon));
    await expect(
      database.transaction((sql) => checkDebitLimits(sql, customer, 101n, noon)),
    ).rejects.toMatchObject({
      code: 'LIMIT_EXCEEDED',
      detail: 'perTransactionMax',
    });
  });

  it('refuses a payment that would pass the daily limit; the next day starts again', async () => {
    const { customer, merchant } = await accounts(1_000n);
    await setAccountLimits(database, customer, { dailyDebitMax: 100n }, 'operator', noon);
    await paymentAt(debit(customer, merchant, 60n), noon);
    await paymentAt(debit(customer, merchant, 30n, 'pending'), noon);
    const over = paymentAt(debit(customer, merchant, 11n), noon);
    await expect(over).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED', detail: 'dailyDebitMax' });
    await paymentAt(debit(customer, merchant, 10n), noon);
    await paymentAt(debit(customer, merchant, 100n), hoursAfter(12));
    expect((await ledger.getAccount(customer)).debitsPosted).toBe(170n);
  });

  it('answers a retry of a payment with the original even at the limit, and does not limit accounts without limits', async () => {
    const { customer, merchant } = await accounts(1_000n);
    await setAccountLimits(database, customer, { dailyDebitMax: 50n }, 'operator', noon);
    const request = debit(customer, merchant, 50n);
    expect((await paymentAt(request, noon)).created).toBe(true);
    expect((await paymentAt(request, noon)).created).toBe(false);
    expect(await codeOf(paymentAt(debit(merchant, customer, 50n), noon))).toBeUndefined();
  });

  it(`holds against concurrent debits around the daily limit (${testBackend()})`, async () => {
    const { customer, merchant } = await accounts(10_000n);
    await setAccountLimits(database, customer, { dailyDebitMax: 100n }, 'operator', noon);
    const requests = Array.from({ length: 30 }, (_, index) =>
      debit(customer, merchant, 10n, index % 3 === 0 ? 'pending' : 'posted'),
    );
    const codes = await Promise.all(requests.map((request) => codeOf(paymentAt(request, noon))));
    expect(codes.filter((code) => code === undefined)).toHaveLength(10);
    expect(codes.filter((code) => code === 'LIMIT_EXCEEDED')).toHaveLength(20);
    expect(await debitsOfDay(database, customer, noon)).toBe(100n);
    const account = await ledger.getAccount(customer);
    expect(account.debitsPosted + account.debitsPending).toBe(100n);
  });
});
