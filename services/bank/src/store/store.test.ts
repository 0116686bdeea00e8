import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { idempotencyTableSql } from '@mpay/http-server';
import { type LedgerUnderTest, ledgerOperationsArbitrary, runLedgerOperations } from '@mpay/ledger/testing';
import { type Database, openTestDatabase } from '@mpay/storage';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBankLimits } from '../limits.ts';
import { bankMigrationsFolder, migrateBank } from '../migrations.ts';
import { type BankLedger, createBankLedger } from './bank-ledger.ts';

let database: Database;
let ledger: BankLedger;

beforeAll(async () => {
  database = await openTestDatabase('bank_store');
  await migrateBank(database);
  ledger = createBankLedger(database, { bankName: 'xbank', limits: createBankLimits() });
});
afterAll(() => database.close());

/** The bank ledger behind the model's interface; the sweep's result is narrowed to this run's holds. */
function underTest(run: string): LedgerUnderTest {
  return {
    openAccount: async (account) => {
      await ledger.openAccount(account, new Date());
    },
    createTransfer: (request, now) => ledger.createTransfer(request, now),
    createLinkedTransfers: (requests, now) => ledger.createTransfers(requests, { linked: true }, now),
    expirePendingTransfers: async (now) =>
      (await ledger.expirePendingTransfers(now)).filter((transfer) => transfer.pendingId?.startsWith(run)),
    getAccounts: (ids) => ledger.getAccounts(ids),
  };
}

describe('the SQL ledger against the pure model', () => {
  it('gives the same outcome and balances for random operations, and its audit stays ok', async () => {
    await fc.assert(
      fc.asyncProperty(ledgerOperationsArbitrary(40), async (operations) => {
        // Runs share one database: fresh ids per run keep their accounts and transfers apart.
        const run = randomUUID().slice(0, 24);
        await runLedgerOperations(operations, {
          idOf: (counter) => `${run}${counter.toString(16).padStart(12, '0')}`,
          start: new Date(),
          implementation: underTest(run),
        });
      }),
      { numRuns: 40 },
    );
    const report = await ledger.audit();
    expect(report.mismatches).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.transfersChecked).toBeGreaterThan(20);
  });
});

describe('the schema', () => {
  it('creates the idempotency table exactly as @mpay/http-server defines it', async () => {
    const migration = await readFile(join(bankMigrationsFolder, '0001_ledger.sql'), 'utf8');
    const normalise = (sql: string) => sql.replace(/\s+/g, ' ').trim();
    expect(normalise(migration)).toContain(normalise(idempotencyTableSql));
  });

  it('refuses to update, delete or truncate a transfer', async () => {
    const funding = randomUUID();
    const customer = randomUUID();
    const now = new Date();
    await ledger.openAccount({ id: funding, ledger: 'EUR', owner: 'xbank', kind: 'funding' }, now);
    await ledger.openAccount(
      { id: customer, ledger: 'EUR', owner: 'ann@person.xbank', kind: 'customer' },
      now,
    );
    const id = randomUUID();
    const request = {
      kind: 'posted',
      id,
      debitAccountId: funding,
      creditAccountId: customer,
      amount: 5n,
      ledger: 'EUR',
      reference: '',
    } as const;
    await ledger.createTransfer(request, now);
    await expect(database.query('UPDATE transfers SET amount = 6 WHERE id = $1', [id])).rejects.toThrow(
      /immutable/,
    );
    await expect(database.query('DELETE FROM transfers WHERE id = $1', [id])).rejects.toThrow(/immutable/);
    await expect(database.query('TRUNCATE transfers CASCADE')).rejects.toThrow(/immutable/);
    expect((await ledger.getTransfer(id, now)).transfer.amount).toBe(5n);
  });

  it('refuses an overdraft written around the rules (CHECK constraint)', async () => {
    const customer = randomUUID();
    await ledger.openAccount(
      { id: customer, ledger: 'EUR', owner: 'bob@person.xbank', kind: 'customer' },
      new Date(),
    );
    await expect(
      database.query('UPDATE accounts SET debits_posted = 1 WHERE id = $1', [customer]),
    ).rejects.toThrow(/accounts_debits_must_not_exceed_credits/);
  });
});
