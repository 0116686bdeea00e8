import { randomUUID } from 'node:crypto';
import { accountBalance, type Transfer, type TransferRequest } from '@mpay/ledger';
import { isMpayError } from '@mpay/protocol';
import { type Database, openTestDatabase } from '@mpay/storage';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBankLimits } from '../limits.ts';
import { migrateBank } from '../migrations.ts';
import { type BankLedger, createBankLedger } from './bank-ledger.ts';
import { createCorrection } from './corrections.ts';
import { readStatement, type StatementEntry } from './statement.ts';

let database: Database;
let ledger: BankLedger;
const limits = createBankLimits();

beforeAll(async () => {
  database = await openTestDatabase('bank_statement');
  await migrateBank(database);
  ledger = createBankLedger(database, { bankName: 'xbank', limits });
});
afterAll(() => database.close());

type Operation =
  | { type: 'pay'; from: number; to: number; amount: bigint }
  | { type: 'hold'; from: number; to: number; amount: bigint }
  | { type: 'post'; hold: number; amount: bigint | undefined }
  | { type: 'void'; hold: number }
  | { type: 'refund'; transfer: number; amount: bigint };

const account = fc.integer({ min: 0, max: 3 });
const amount = fc.bigInt({ min: 1n, max: 400n });
const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ type: fc.constant('pay' as const), from: account, to: account, amount }),
  fc.record({ type: fc.constant('hold' as const), from: account, to: account, amount }),
  fc.record({
    type: fc.constant('post' as const),
    hold: fc.nat(),
    amount: fc.option(amount, { nil: undefined }),
  }),
  fc.record({ type: fc.constant('void' as const), hold: fc.nat() }),
  fc.record({ type: fc.constant('refund' as const), transfer: fc.nat(), amount }),
);

/** Runs the operations one after another; refusals (insufficient funds, same account …) change nothing. */
async function run(operations: readonly Operation[], accounts: readonly string[]): Promise<Transfer[]> {
  const committed: Transfer[] = [];
  const holds: string[] = [];
  const now = new Date();
  const attempt = async (work: () => Promise<Transfer>) => {
    try {
      committed.push(await work());
    } catch (error) {
      if (!isMpayError(error)) throw error;
    }
  };
  const create = async (request: TransferRequest) => (await ledger.createTransfer(request, now)).transfer;
  for (const step of operations) {
    const id = randomUUID();
    if (step.type === 'pay' || step.type === 'hold') {
      const movement = {
        id,
        debitAccountId: accounts[step.from] as string,
        creditAccountId: accounts[step.to] as string,
        amount: step.amount,
        ledger: 'EUR' as const,
        reference: '',
      };
      if (step.from === step.to) continue;
      if (step.type === 'hold') holds.push(id);
      await attempt(() =>
        create(
          step.type === 'pay'
            ? { ...movement, kind: 'posted' }
            : { ...movement, kind: 'pending', timeoutSeconds: 3600 },
        ),
      );
    } else if (step.type === 'post' || step.type === 'void') {
      const pendingId = holds[step.hold % Math.max(holds.length, 1)];
      if (pendingId === undefined) continue;
      await attempt(() =>
        create(
          step.type === 'post'
            ? { kind: 'post_pending', id, pendingId, amount: step.amount, reference: '' }
            : { kind: 'void_pending', id, pendingId, reference: '' },
        ),
      );
    } else {
      const original = committed[step.transfer % Math.max(committed.length, 1)];
      if (original === undefined) continue;
      const refund = {
        kind: 'refund',
        id,
        originalId: original.id,
        amount: step.amount,
        reference: 'r',
      } as const;
      await attempt(async () => (await createCorrection(database, refund, now, limits)).transfer);
    }
  }
  return committed;
}

interface Expected {
  readonly id: string;
  readonly seq: bigint;
  readonly balanceAfter: bigint;
}

/** The account's booked movements, oldest first, with running balances folded from zero. */
function expectedEntries(
  committed: readonly Transfer[],
  accountId: string,
  seqs: Map<string, bigint>,
): Expected[] {
  let balance = 0n;
  return committed
    .filter((transfer) => transfer.kind === 'posted' || transfer.kind === 'post_pending')
    .filter((transfer) => transfer.debitAccountId === accountId || transfer.creditAccountId === accountId)
    .map((transfer) => {
      balance += transfer.creditAccountId === accountId ? transfer.amount : -transfer.amount;
      return { id: transfer.id, seq: seqs.get(transfer.id) ?? -1n, balanceAfter: balance };
    });
}

async function seqsOf(transfers: readonly Transfer[]): Promise<Map<string, bigint>> {
  const { rows } = await database.query<{ id: string; seq: string }>(
    'SELECT id::text AS id, seq::text AS seq FROM transfers WHERE id = ANY($1::uuid[])',
    [transfers.map((transfer) => transfer.id)],
  );
  return new Map(rows.map((row) => [row.id, BigInt(row.seq)]));
}

/** All pages, following nextBeforeSeq, with page sizes taken in turn from `sizes`. */
async function readAllPages(accountId: string, sizes: readonly number[]): Promise<StatementEntry[]> {
  const entries: StatementEntry[] = [];
  let beforeSeq: bigint | undefined;
  for (let page = 0; page < 1_000; page += 1) {
    const pageSize = sizes[page % sizes.length] as number;
    const read = await readStatement(database, accountId, { pageSize, beforeSeq });
    expect(read.entries.length).toBeLessThanOrEqual(pageSize);
    expect(read.openHolds === undefined).toBe(beforeSeq !== undefined);
    entries.push(...read.entries);
    if (read.nextBeforeSeq === undefined) return entries;
    expect(read.entries).toHaveLength(pageSize);
    beforeSeq = read.nextBeforeSeq;
  }
  throw new Error('the statement did not end');
}

async function openAccounts(): Promise<string[]> {
  const now = new Date();
  const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const kinds = ['funding', 'customer', 'customer', 'merchant'] as const;
  const owners = ['xbank', 'ann@person.xbank', 'bob@person.xbank', 'shop@merchant.xbank'];
  for (const [index, id] of ids.entries()) {
    await ledger.openAccount(
      { id, ledger: 'EUR', owner: owners[index] as string, kind: kinds[index] as string },
      now,
    );
  }
  return ids;
}

describe('readStatement', () => {
  it('reproduces the full history newest first, with running balances ending at the balance, for any page sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(operation, { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 }),
        async (operations, sizes) => {
          const accounts = await openAccounts();
          const committed = await run(operations, accounts);
          const seqs = await seqsOf(committed);
          for (const accountId of accounts) {
            const expected = expectedEntries(committed, accountId, seqs).reverse();
            const entries = await readAllPages(accountId, sizes);
            expect(entries.map((entry) => [entry.transfer.id, entry.balanceAfter])).toEqual(
              expected.map((entry) => [entry.id, entry.balanceAfter]),
            );
            const balance = accountBalance(await ledger.getAccount(accountId));
            expect(entries[0]?.balanceAfter ?? 0n).toBe(balance);
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it('computes the balances from the database for any cursor position', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(operation, { minLength: 5, maxLength: 25 }),
        fc.nat(),
        fc.integer({ min: 1, max: 10 }),
        async (operations, pick, pageSize) => {
          const accounts = await openAccounts();
          const committed = await run(operations, accounts);
          const seqs = await seqsOf(committed);
          const positions = [...seqs.values(), 0n, 2n ** 63n - 1n];
          const beforeSeq = positions[pick % positions.length] as bigint;
          const accountId = accounts[pick % accounts.length] as string;
          const expected = expectedEntries(committed, accountId, seqs)
            .filter((entry) => entry.seq < beforeSeq)
            .reverse()
            .slice(0, pageSize);
          const page = await readStatement(database, accountId, { pageSize, beforeSeq });
          expect(page.entries.map((entry) => [entry.transfer.id, entry.balanceAfter])).toEqual(
            expected.map((entry) => [entry.id, entry.balanceAfter]),
          );
        },
      ),
      { numRuns: 15 },
    );
  });

  it('lists the open holds on the first page: together they are the pending balances', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 30 }), async (operations) => {
        const accounts = await openAccounts();
        await run(operations, accounts);
        for (const accountId of accounts) {
          const page = await readStatement(database, accountId, { pageSize: 200 });
          const holds = page.openHolds?.holds ?? [];
          const sum = (side: 'debitAccountId' | 'creditAccountId') =>
            holds.filter((hold) => hold[side] === accountId).reduce((total, hold) => total + hold.amount, 0n);
          expect(page.openHolds?.truncated).toBe(false);
          expect([sum('debitAccountId'), sum('creditAccountId')]).toEqual([
            page.account.debitsPending,
            page.account.creditsPending,
          ]);
        }
      }),
      { numRuns: 10 },
    );
  });

  it('marks refunds with the transfer they correct and refuses an unknown account', async () => {
    const [funding, customer, , merchant] = await openAccounts();
    const now = new Date();
    const pay = { kind: 'posted', ledger: 'EUR', reference: '' } as const;
    await ledger.createTransfer(
      {
        ...pay,
        id: randomUUID(),
        debitAccountId: funding as string,
        creditAccountId: customer as string,
        amount: 50n,
      },
      now,
    );
    const paid = randomUUID();
    await ledger.createTransfer(
      {
        ...pay,
        id: paid,
        debitAccountId: customer as string,
        creditAccountId: merchant as string,
        amount: 20n,
      },
      now,
    );
    const refund = {
      kind: 'refund',
      id: randomUUID(),
      originalId: paid,
      amount: 5n,
      reference: 'broken',
    } as const;
    await createCorrection(database, refund, now, limits);
    const page = await readStatement(database, customer as string, { pageSize: 2 });
    expect(
      page.entries.map((entry) => [
        entry.direction,
        entry.transfer.amount,
        entry.balanceAfter,
        entry.correction,
      ]),
    ).toEqual([
      ['credit', 5n, 35n, { kind: 'refund', originalId: paid }],
      ['debit', 20n, 30n, undefined],
    ]);
    expect(page.nextBeforeSeq).toBeDefined();
    await expect(readStatement(database, randomUUID(), { pageSize: 1 })).rejects.toMatchObject({
      code: 'ACCOUNT_UNKNOWN',
    });
  });
});
