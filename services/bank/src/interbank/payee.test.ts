import { randomUUID } from 'node:crypto';
import { openAccount } from '@mpay/ledger';
import { type Database, openTestDatabase } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateBank } from '../migrations.ts';
import { insertAccount } from '../store/accounts.ts';
import { lockWithPayeeAccount, resolvePayeeAccount } from './payee.ts';

let database: Database;

beforeAll(async () => {
  database = await openTestDatabase('bank_payee');
  await migrateBank(database);
});
afterAll(() => database.close());

/** A party id of its own for each test: the tests share one database. */
function newPayee(): string {
  return `p${randomUUID().slice(0, 8)}@merchant.ybank`;
}

async function open(
  owner: string,
  kind: 'customer' | 'merchant' | 'settlement',
  ledger: string,
  createdAt: string,
): Promise<string> {
  const id = randomUUID();
  await insertAccount(database, openAccount({ id, ledger, owner, kind }), new Date(createdAt));
  return id;
}

async function settlementAccount(): Promise<string> {
  return open('xbank', 'settlement', 'EUR', '2026-01-01T00:00:00Z');
}

describe('lockWithPayeeAccount', () => {
  it("resolves the payee's account as resolvePayeeAccount does and returns both rows in id order", async () => {
    const payee = newPayee();
    const settlement = await settlementAccount();
    const newer = await open(payee, 'merchant', 'EUR', '2026-03-01T00:00:00Z');
    const oldest = await open(payee, 'customer', 'EUR', '2026-02-01T00:00:00Z');
    await open(payee, 'merchant', 'USD', '2026-01-01T00:00:00Z');
    const { payeeAccountId, locked } = await database.transaction((sql) =>
      lockWithPayeeAccount(sql, settlement, payee, 'EUR'),
    );
    expect(payeeAccountId).toBe(oldest);
    expect(await resolvePayeeAccount(database, payee, 'EUR')).toBe(oldest);
    expect(locked.map((account) => account.id)).toEqual([settlement, oldest].sort());
    expect(locked.map((account) => account.id)).not.toContain(newer);
    expect(locked.find((account) => account.id === settlement)?.kind).toBe('settlement');
  });

  it('passes over closed accounts and accounts that are not a customer’s or a merchant’s', async () => {
    const payee = newPayee();
    const settlement = await settlementAccount();
    const closed = await open(payee, 'merchant', 'EUR', '2026-01-01T00:00:00Z');
    await database.query('UPDATE accounts SET closed = true WHERE id = $1', [closed]);
    await open(payee, 'settlement', 'EUR', '2026-01-02T00:00:00Z');
    const open_ = await open(payee, 'merchant', 'EUR', '2026-01-03T00:00:00Z');
    const { payeeAccountId } = await database.transaction((sql) =>
      lockWithPayeeAccount(sql, settlement, payee, 'EUR'),
    );
    expect(payeeAccountId).toBe(open_);
  });

  it('locks the settlement account alone, and says so, when the payee has no account in the currency', async () => {
    const payee = newPayee();
    const settlement = await settlementAccount();
    await open(payee, 'merchant', 'USD', '2026-01-01T00:00:00Z');
    const { payeeAccountId, locked } = await database.transaction((sql) =>
      lockWithPayeeAccount(sql, settlement, payee, 'EUR'),
    );
    expect(payeeAccountId).toBeUndefined();
    expect(locked.map((account) => account.id)).toEqual([settlement]);
  });

  it('reads nothing when neither account exists', async () => {
    const read = await database.transaction((sql) =>
      lockWithPayeeAccount(sql, randomUUID(), newPayee(), 'EUR'),
    );
    expect(read).toEqual({ payeeAccountId: undefined, locked: [] });
  });

  // A second connection can only be asked on PostgreSQL (PGlite has one, which the transaction holds).
  it.runIf(process.env.DATABASE_URL !== undefined)(
    'holds both rows locked until the transaction ends',
    async () => {
      const payee = newPayee();
      const settlement = await settlementAccount();
      const account = await open(payee, 'customer', 'EUR', '2026-01-01T00:00:00Z');
      const tryLock = (id: string) =>
        database.query('SELECT id FROM accounts WHERE id = $1 FOR UPDATE NOWAIT', [id]).then(
          () => 'free',
          (error: { code?: string }) => error.code,
        );
      let during: (string | undefined)[] = [];
      await database.transaction(async (sql) => {
        await lockWithPayeeAccount(sql, settlement, payee, 'EUR');
        during = [await tryLock(settlement), await tryLock(account)];
      });
      // 55P03: lock_not_available.
      expect(during).toEqual(['55P03', '55P03']);
      expect([await tryLock(settlement), await tryLock(account)]).toEqual(['free', 'free']);
    },
  );
});
