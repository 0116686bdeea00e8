import { randomUUID } from 'node:crypto';
import {
  type Account,
  emptyLedgerModel,
  type LedgerModel,
  modelCreateLinkedTransfers,
  modelOpenAccount,
  type PendingTransferRequest,
  type PostedTransferRequest,
  type TransferRequest,
  type TransferResult,
} from '@mpay/ledger';
import {
  emptyStatistics,
  type LedgerUnderTest,
  ledgerOperationsArbitrary,
  runLedgerOperations,
} from '@mpay/ledger/testing';
import { type Database, openTestDatabase, type Sql, testBackend } from '@mpay/storage';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBankLimits } from '../limits.ts';
import { migrateBank } from '../migrations.ts';
import { type BankLedger, createBankLedger } from './bank-ledger.ts';
import { createTransferBatcher, type TransferBatcher } from './batcher.ts';

let database: Database;
let ledger: BankLedger;

beforeAll(async () => {
  database = await openTestDatabase('bank_batcher');
  await migrateBank(database);
  ledger = createBankLedger(database, { bankName: 'xbank', limits: createBankLimits(), batching: false });
});
afterAll(() => database.close());

/** The batcher under test, the rest (accounts, sweep) through the unbatched ledger. */
function underTest(batcher: TransferBatcher, run: string): LedgerUnderTest {
  return {
    openAccount: async (account) => {
      await ledger.openAccount(account, new Date());
    },
    createTransfer: (request, now) => batcher.submit(request, now),
    createLinkedTransfers: (requests, now) => batcher.submitLinked(requests, now),
    expirePendingTransfers: async (now) =>
      (await ledger.expirePendingTransfers(now)).filter((transfer) => transfer.pendingId?.startsWith(run)),
    getAccounts: (ids) => ledger.getAccounts(ids),
  };
}

describe(`the transfer batcher (${testBackend()})`, () => {
  it('answers operations submitted all at once exactly as the model applied in the same order', async () => {
    const statistics = emptyStatistics();
    const batcher = createTransferBatcher(database, { batchTransfersMax: 7 });
    await fc.assert(
      fc.asyncProperty(ledgerOperationsArbitrary(60), async (operations) => {
        const run = randomUUID().slice(0, 24);
        await runLedgerOperations(operations, {
          idOf: (counter) => `${run}${counter.toString(16).padStart(12, '0')}`,
          start: new Date(),
          implementation: underTest(batcher, run),
          statistics,
          concurrent: true,
        });
      }),
      { numRuns: 60 },
    );
    const report = await ledger.audit();
    expect(report.mismatches).toEqual([]);
    expect(report.ok).toBe(true);
    // The run must have batched, chained, refused and replayed, or it proves little.
    const { batches, transfers, fallbacks } = batcher.statistics();
    expect(fallbacks).toBe(0);
    expect(transfers / batches).toBeGreaterThan(2);
    expect(statistics.chainsCommitted + statistics.chainsFailed).toBeGreaterThan(5);
    expect(statistics.refused.INSUFFICIENT_FUNDS ?? 0).toBeGreaterThan(0);
    expect(statistics.refused.LINKED_EVENT_FAILED ?? 0).toBeGreaterThan(0);
    expect(statistics.replayed).toBeGreaterThan(0);
    expect(statistics.created.post_pending ?? 0).toBeGreaterThan(0);
  });

  it('commits concurrent submissions in one transaction', async () => {
    const [funding, customer] = await openAccounts(['funding', 'customer']);
    const batcher = createTransferBatcher(database);
    const now = new Date();
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, () => batcher.submit(posted(funding, customer, 3n), now)),
    );
    expect(outcomes.every((outcome) => outcome.created)).toBe(true);
    expect(batcher.statistics()).toEqual({ batches: 1, transfers: 50, fallbacks: 0 });
    expect((await ledger.getAccount(customer)).creditsPosted).toBe(150n);
  });

  it('refuses work beyond its queue and chains longer than a batch, and checks its options', async () => {
    const [funding, customer] = await openAccounts(['funding', 'customer']);
    const batcher = createTransferBatcher(database, { queueTransfersMax: 2, batchTransfersMax: 2 });
    const now = new Date();
    const accepted = [
      batcher.submit(posted(funding, customer, 1n), now),
      batcher.submit(posted(funding, customer, 1n), now),
    ];
    await expect(batcher.submit(posted(funding, customer, 1n), now)).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
    await Promise.all(accepted);
    const chain = [1n, 2n, 3n].map((amount) => posted(funding, customer, amount));
    await expect(batcher.submitLinked(chain, now)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    const small = createBankLedger(database, {
      bankName: 'xbank',
      limits: createBankLimits(),
      batching: { batchTransfersMax: 2 },
    });
    const refused = await small.createTransfers(chain, { linked: true }, now);
    expect(refused.map((result) => ('error' in result ? result.error.code : 'created'))).toEqual([
      'LIMIT_EXCEEDED',
      'LIMIT_EXCEEDED',
      'LIMIT_EXCEEDED',
    ]);
    expect(() => createTransferBatcher(database, { batchTransfersMax: 0 })).toThrow(/batchTransfersMax/);
    expect(() => createTransferBatcher(database, { queueTransfersMax: 1.5 })).toThrow(/queueTransfersMax/);
  });
});

describe(`a batch whose transaction fails (${testBackend()})`, () => {
  it('is redone entry by entry on the single-transfer path, with the answers of sequential submission', async () => {
    const [funding, customer, merchant] = await openAccounts(['funding', 'customer', 'merchant']);
    const now = new Date();
    await ledger.createTransfer(posted(funding, customer, 100n), now);
    const first = posted(customer, merchant, 30n);
    const hold = pending(customer, merchant, 20n);
    const entries: TransferRequest[][] = [
      [first],
      [posted(customer, merchant, 80n)],
      [hold, { kind: 'post_pending', id: randomUUID(), pendingId: hold.id, reference: '' }],
      [first],
      [{ ...first, amount: 31n }],
      [posted(customer, merchant, 10n), posted(customer, merchant, 41n)],
    ];
    // A unique violation inside the batch, as if another writer had taken an id: the whole batch rolls back.
    const sabotaged = failingOnBatchInsert(database, (sql) =>
      sql.query(
        `INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, ledger, kind, reference, created_at)
         VALUES ($1, $2, $3, 1, 'EUR', 'posted', 'sabotage', now())`,
        [first.id, funding, merchant],
      ),
    );
    const expected = expectedResults(await modelOf([funding, customer, merchant]), entries, now);
    const batcher = createTransferBatcher(sabotaged);
    const results = await Promise.all(entries.map((requests) => batcher.submitLinked(requests, now)));
    expect(batcher.statistics()).toMatchObject({ batches: 0, fallbacks: 1 });
    expect(results.map(describeResults)).toEqual(expected);
    expect(results.flatMap(describeResults)).toEqual([
      'created',
      'INSUFFICIENT_FUNDS',
      'created',
      'created',
      'replayed',
      'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
      'LINKED_EVENT_FAILED',
      'INSUFFICIENT_FUNDS',
    ]);
    expect(await ledger.getAccount(customer)).toMatchObject({ debitsPosted: 50n, debitsPending: 0n });
    expect((await ledger.getTransfer(first.id, now)).transfer.reference).toBe('');
    expect((await ledger.audit()).ok).toBe(true);
  });

  it.runIf(testBackend() === 'postgres')(
    'loses an id race to a writer that committed first, and answers as a retry would',
    async () => {
      const [funding, customer, merchant, bystander] = await openAccounts([
        'funding',
        'customer',
        'merchant',
        'customer',
      ]);
      const now = new Date();
      await ledger.createTransfer(posted(funding, customer, 100n), now);
      const raced = posted(customer, merchant, 30n);
      const other = posted(customer, merchant, 5n);
      // Another connection commits a transfer with the batch's id between other accounts (not locked by the batch).
      const sabotaged = failingOnBatchInsert(database, async () => {
        await ledger.createTransfer({ ...raced, debitAccountId: funding, creditAccountId: bystander }, now);
      });
      const batcher = createTransferBatcher(sabotaged);
      const answers = await Promise.allSettled([batcher.submit(raced, now), batcher.submit(other, now)]);
      expect(
        answers.map((answer) =>
          answer.status === 'fulfilled' ? 'created' : (answer.reason as { code: string }).code,
        ),
      ).toEqual(['TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS', 'created']);
      expect(batcher.statistics().fallbacks).toBe(1);
      expect(await ledger.getAccount(customer)).toMatchObject({ debitsPosted: 5n });
      expect((await ledger.audit()).ok).toBe(true);
    },
  );
});

/** The database, except that `sabotage` runs just before the first batch INSERT of transfers. */
function failingOnBatchInsert(base: Database, sabotage: (sql: Sql) => Promise<unknown>): Database {
  let armed = true;
  const intercept = (sql: Sql): Sql => ({
    exec: (script) => sql.exec(script),
    query: async <Row>(text: string, params?: readonly unknown[]) => {
      if (armed && text.includes('INSERT INTO transfers') && text.includes('unnest')) {
        armed = false;
        await sabotage(sql);
      }
      return sql.query<Row>(text, params);
    },
  });
  return { ...base, transaction: (work) => base.transaction((sql) => work(intercept(sql))) };
}

const owners = { funding: 'xbank', customer: 'ann@person.xbank', merchant: 'shop@merchant.xbank' } as const;

async function openAccounts<const Kinds extends readonly (keyof typeof owners)[]>(
  kinds: Kinds,
): Promise<{ [Index in keyof Kinds]: string }> {
  const ids: string[] = [];
  for (const kind of kinds) {
    const { account } = await ledger.openAccount(
      { id: randomUUID(), ledger: 'EUR', owner: owners[kind], kind },
      new Date(),
    );
    ids.push(account.id);
  }
  return ids as { [Index in keyof Kinds]: string };
}

function posted(debitAccountId: string, creditAccountId: string, amount: bigint): PostedTransferRequest {
  return {
    kind: 'posted',
    id: randomUUID(),
    debitAccountId,
    creditAccountId,
    amount,
    ledger: 'EUR',
    reference: '',
  };
}

function pending(debitAccountId: string, creditAccountId: string, amount: bigint): PendingTransferRequest {
  return { ...posted(debitAccountId, creditAccountId, amount), kind: 'pending', timeoutSeconds: 60 };
}

/** The model holding the stored accounts as they are now. */
async function modelOf(accountIds: readonly string[]): Promise<LedgerModel> {
  const accounts: readonly Account[] = await ledger.getAccounts(accountIds);
  return accounts.reduce((model, account) => modelOpenAccount(model, account), emptyLedgerModel);
}

function expectedResults(model: LedgerModel, entries: readonly TransferRequest[][], now: Date): string[][] {
  let current = model;
  return entries.map((requests) => {
    const outcome = modelCreateLinkedTransfers(current, requests, now);
    current = outcome.model;
    return describeResults(outcome.results);
  });
}

function describeResults(results: readonly TransferResult[]): string[] {
  return results.map((result) => {
    if ('error' in result) return result.error.code;
    return result.created ? 'created' : 'replayed';
  });
}
