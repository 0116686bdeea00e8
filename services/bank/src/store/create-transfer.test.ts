import { randomUUID } from 'node:crypto';
import { applyTransfer, type PostedTransferRequest, recordTransfer } from '@mpay/ledger';
import { isMpayError } from '@mpay/protocol';
import {
  commitWithLastStatements,
  type Database,
  openTestDatabase,
  statementCounts,
  testBackend,
  together,
} from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBankLimits } from '../limits.ts';
import { migrateBank } from '../migrations.ts';
import { lockAccountRows, lockAccounts } from './accounts.ts';
import { type BankLedger, createBankLedger } from './bank-ledger.ts';
import { writeBatch } from './batch-writes.ts';
import { createTransferInTransaction } from './create-transfer.ts';
import { selectResolution, selectTransfer, selectTransfersById } from './transfers.ts';

let database: Database;
let ledger: BankLedger;

beforeAll(async () => {
  database = await openTestDatabase('bank_single');
  await migrateBank(database);
  ledger = createBankLedger(database, { bankName: 'xbank', limits: createBankLimits(), batching: false });
});
afterAll(() => database.close());

/** A customer account with `balance` credited from the bank's cash account, and a merchant's account. */
async function accounts(balance: bigint): Promise<{ payer: string; payee: string }> {
  const now = new Date();
  const [cash, payer, payee] = await Promise.all(
    (['funding', 'customer', 'merchant'] as const).map(async (kind) => {
      const { account } = await ledger.openAccount(
        {
          id: randomUUID(),
          ledger: 'EUR',
          owner:
            kind === 'funding'
              ? 'xbank'
              : `${kind}-${randomUUID().slice(0, 8)}@${kind === 'customer' ? 'person' : 'merchant'}.xbank`,
          kind,
        },
        now,
      );
      return account.id;
    }),
  );
  if (cash === undefined || payer === undefined || payee === undefined) throw new Error('three accounts');
  await ledger.createTransfer(
    {
      kind: 'posted',
      id: randomUUID(),
      debitAccountId: cash,
      creditAccountId: payer,
      amount: balance,
      ledger: 'EUR',
      reference: 'opening',
    },
    now,
  );
  return { payer, payee };
}

function payment(payer: string, payee: string, amount: bigint): PostedTransferRequest {
  return {
    kind: 'posted',
    id: randomUUID(),
    debitAccountId: payer,
    creditAccountId: payee,
    amount,
    ledger: 'EUR',
    reference: 'payment',
  };
}

function roundTrips(): number {
  return Object.values(statementCounts()).reduce((sum, count) => sum + count.roundTrips, 0);
}

describe(`the single-transfer path with the COMMIT sent with its write (${testBackend()})`, () => {
  it('commits a new transfer: its locks and its id read in one round trip, its write and the COMMIT in one', async () => {
    const { payer, payee } = await accounts(1_000n);
    const request = payment(payer, payee, 400n);
    const before = roundTrips();
    const outcome = await database.transaction((sql) =>
      createTransferInTransaction(sql, request, new Date(), { lastInTransaction: true }),
    );
    // Counted on PostgreSQL only (PGlite has no server to go to and back from).
    expect(roundTrips() - before).toBe(testBackend() === 'postgres' ? 2 : 0);
    expect(outcome.created).toBe(true);
    expect((await selectTransfer(database, request.id))?.amount).toBe(400n);
    const [account] = await ledger.getAccounts([payer]);
    expect(account?.debitsPosted).toBe(400n);
    // The same request again: the transfer that exists, nothing written.
    const again = await database.transaction((sql) =>
      createTransferInTransaction(sql, request, new Date(), { lastInTransaction: true }),
    );
    expect(again.created).toBe(false);
    expect((await ledger.getAccounts([payer]))[0]?.debitsPosted).toBe(400n);
  });

  it('answers a retry that names another account as the ledger does: the fields differ, whatever the account', async () => {
    const { payer, payee } = await accounts(1_000n);
    const request = payment(payer, payee, 100n);
    await database.transaction((sql) => createTransferInTransaction(sql, request, new Date()));
    const unknownAccount = { ...request, creditAccountId: randomUUID() };
    const refusal = await database
      .transaction((sql) => createTransferInTransaction(sql, unknownAccount, new Date()))
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(isMpayError(refusal) ? refusal.code : refusal).toBe('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS');
  });

  it('answers a resolution committed by a concurrent retry while it waited for the locks as a retry', async () => {
    const { payer, payee } = await accounts(1_000n);
    const hold = { ...payment(payer, payee, 300n), kind: 'pending' as const, timeoutSeconds: 600 };
    await ledger.createTransfer(hold, new Date());
    const post = { kind: 'post_pending' as const, id: randomUUID(), pendingId: hold.id, reference: 'post' };
    // The ids as the second attempt read them, before its locks: the hold, and no resolution yet ...
    const readBefore = await selectTransfersById(database, [post.id, hold.id]);
    expect([...readBefore.keys()]).toEqual([hold.id]);
    // ... while the first attempt, the same request, posts the hold and commits.
    const first = await database.transaction((sql) => createTransferInTransaction(sql, post, new Date()));
    expect(first.created).toBe(true);
    // Under its locks the second reads that resolution: the same request, so the same answer, nothing written.
    const second = await database.transaction((sql) =>
      createTransferInTransaction(sql, post, new Date(), { found: readBefore }),
    );
    expect(second).toEqual({ transfer: first.transfer, created: false });
    expect((await ledger.getAccounts([payer]))[0]?.debitsPosted).toBe(300n);
    // Another resolution of the same hold is still refused.
    const voided = await database
      .transaction((sql) =>
        createTransferInTransaction(
          sql,
          { kind: 'void_pending', id: randomUUID(), pendingId: hold.id, reference: 'void' },
          new Date(),
        ),
      )
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(isMpayError(voided)).toBe(true);
  });

  it("resolves a hold on the caller's locks of its accounts and its resolution, one round trip less; other locks are not taken for them", async () => {
    const { payer, payee } = await accounts(1_000n);
    const hold = { ...payment(payer, payee, 200n), kind: 'pending' as const, timeoutSeconds: 600 };
    await ledger.createTransfer(hold, new Date());
    const post = { kind: 'post_pending' as const, id: randomUUID(), pendingId: hold.id, reference: 'post' };
    const before = roundTrips();
    const outcome = await database.transaction(async (sql) => {
      // As a payment order's delivery reads them: the hold's accounts are known before the hold is read.
      const [found, locked, resolution] = await together([
        selectTransfersById(sql, [post.id, hold.id]),
        lockAccountRows(sql, payer, payee),
        selectResolution(sql, hold.id),
      ]);
      return createTransferInTransaction(sql, post, new Date(), {
        found,
        pendingLocked: { locked, resolution },
        lastInTransaction: true,
      });
    });
    // The reads with BEGIN, then the write with the COMMIT: the hold's accounts are not locked again.
    expect(roundTrips() - before).toBe(testBackend() === 'postgres' ? 2 : 0);
    expect(outcome.created).toBe(true);
    expect((await ledger.getAccounts([payer]))[0]?.debitsPosted).toBe(200n);
    // The resolution read under the caller's locks decides: a second resolution is refused as the ledger refuses it.
    const hold2 = { ...payment(payer, payee, 100n), kind: 'pending' as const, timeoutSeconds: 600 };
    await ledger.createTransfer(hold2, new Date());
    const posted = await ledger.createTransfer(
      { kind: 'post_pending', id: randomUUID(), pendingId: hold2.id, reference: 'post' },
      new Date(),
    );
    const voidIt = {
      kind: 'void_pending' as const,
      id: randomUUID(),
      pendingId: hold2.id,
      reference: 'void',
    };
    const refused = await database
      .transaction(async (sql) => {
        const [found, locked, resolution] = await together([
          selectTransfersById(sql, [voidIt.id, hold2.id]),
          lockAccountRows(sql, payer, payee),
          selectResolution(sql, hold2.id),
        ]);
        expect(resolution?.id).toBe(posted.transfer.id);
        return createTransferInTransaction(sql, voidIt, new Date(), {
          found,
          pendingLocked: { locked, resolution },
        });
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(isMpayError(refused)).toBe(true);
    // And it is the caller's read that decides: told there is no resolution, the path goes on to void a hold
    // already posted (the ledger's own invariant stops it), where its own read would have refused it.
    const told = await database
      .transaction(async (sql) => {
        const [found, locked] = await together([
          selectTransfersById(sql, [voidIt.id, hold2.id]),
          lockAccountRows(sql, payer, payee),
        ]);
        return createTransferInTransaction(sql, voidIt, new Date(), {
          found,
          pendingLocked: { locked, resolution: undefined },
        });
      })
      .then(
        () => 'written',
        (error: unknown) => (isMpayError(error) ? error.code : (error as Error).message),
      );
    expect(told).toMatch(/assertion failed: pending balances never go below zero/);
    // Rows that are not the hold's two accounts are not taken for its locks: the path locks them itself.
    const { payer: otherPayer, payee: otherPayee } = await accounts(500n);
    const hold3 = { ...payment(payer, payee, 50n), kind: 'pending' as const, timeoutSeconds: 600 };
    await ledger.createTransfer(hold3, new Date());
    const post3 = { kind: 'post_pending' as const, id: randomUUID(), pendingId: hold3.id, reference: 'post' };
    const beforeOther = roundTrips();
    const third = await database.transaction(async (sql) => {
      const [found, locked] = await together([
        selectTransfersById(sql, [post3.id, hold3.id]),
        lockAccountRows(sql, otherPayer, otherPayee),
      ]);
      return createTransferInTransaction(sql, post3, new Date(), {
        found,
        pendingLocked: { locked, resolution: undefined },
        lastInTransaction: true,
      });
    });
    expect(roundTrips() - beforeOther).toBe(testBackend() === 'postgres' ? 3 : 0);
    expect(third.created).toBe(true);
    expect((await ledger.getAccounts([payer]))[0]?.debitsPosted).toBe(350n);
  });

  it("refuses by the ledger's rules before anything is written: the caller's statements started before roll back", async () => {
    const { payer, payee } = await accounts(100n);
    const request = payment(payer, payee, 101n);
    const marker = randomUUID();
    const refusal = await database
      .transaction(async (sql) => {
        await sql.query(
          'INSERT INTO request_nonces (caller, nonce, expires_at) VALUES ($1, $2, to_timestamp($3))',
          ['test', marker, Math.floor(Date.now() / 1000) + 60],
        );
        return createTransferInTransaction(sql, request, new Date(), { lastInTransaction: true });
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(isMpayError(refusal) ? refusal.code : refusal).toBe('INSUFFICIENT_FUNDS');
    expect(await selectTransfer(database, request.id)).toBeUndefined();
    const { rows } = await database.query('SELECT 1 FROM request_nonces WHERE nonce = $1', [marker]);
    expect(rows).toEqual([]);
  });

  it('a batch whose counts are off fails in its statement, so a COMMIT sent with it does not run', async () => {
    const { payer, payee } = await accounts(500n);
    const request = payment(payer, payee, 200n);
    const now = new Date();
    const failure = await database
      .transaction(async (sql) => {
        const { debit, credit } = await lockAccounts(sql, payer, payee);
        const transfer = recordTransfer(request, now);
        const applied = applyTransfer(debit, credit, transfer);
        // The payer's balance twice: one row updated for two given, a count the statement must refuse.
        const written = writeBatch(sql, [applied.debit, applied.credit, applied.debit], [transfer]);
        commitWithLastStatements(sql);
        await written;
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(String(failure)).toMatch(/assertion failed: every moved account is updated once/);
    expect(String(failure)).not.toMatch(/committed/);
    expect(await selectTransfer(database, request.id)).toBeUndefined();
    expect((await ledger.getAccounts([payer]))[0]?.debitsPosted).toBe(0n);
  });
});
