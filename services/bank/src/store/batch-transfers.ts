import {
  applyLinkedTransfers,
  createLedgerOverlay,
  ledgerViewOf,
  refuseLinkedChain,
  type TransferRequest,
  type TransferResult,
} from '@mpay/ledger';
import { isMpayError, type MpayError } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import { loadBatchRecords } from './batch-records.ts';
import { writeBatch } from './batch-writes.ts';
import { createTransfer, createTransferInTransaction, isUniqueViolation } from './create-transfer.ts';

/** What one client submitted: a lone request, or a linked chain that commits whole or not at all. */
export interface BatchEntry {
  readonly requests: readonly TransferRequest[];
  readonly now: Date;
}

/**
 * Many clients' transfers in one database transaction, as TigerBeetle
 * batches: lock and read everything the batch touches (batch-records.ts),
 * decide every entry in arrival order with the pure rules on an in-memory
 * overlay (each request succeeds or fails alone, a chain whole; a refusal
 * leaves the overlay as it was), then write every moved account and every
 * new transfer in one statement (batch-writes.ts): four round trips with
 * BEGIN and COMMIT, whatever the batch size. The outcome is the one the
 * entries would have had one by one, in this order, and the table's CHECK
 * constraints and unique indexes still stand behind the rules. Answers one
 * result list per entry; throws (rolling everything back) only when the
 * database or an assertion fails.
 */
export async function commitBatch(
  database: Database,
  entries: readonly BatchEntry[],
): Promise<TransferResult[][]> {
  return database.transaction(async (sql) => {
    const records = await loadBatchRecords(
      sql,
      entries.flatMap((entry) => entry.requests),
    );
    const overlay = createLedgerOverlay(ledgerViewOf(records));
    const results = entries.map((entry) => applyLinkedTransfers(overlay, entry.requests, entry.now));
    const changes = overlay.changes();
    await writeBatch(sql, changes.accounts, changes.transfers);
    return results;
  });
}

/** PostgreSQL's deadlock_detected: another transaction took the same locks in another order. */
function isDeadlock(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '40P01';
}

class ChainRefused extends Error {
  constructor(
    readonly failed: number,
    readonly refusal: MpayError,
  ) {
    super('linked chain refused');
  }
}

async function createChainInTransaction(sql: Sql, entry: BatchEntry): Promise<TransferResult[]> {
  const results: TransferResult[] = [];
  for (const [index, request] of entry.requests.entries()) {
    try {
      results.push(await createTransferInTransaction(sql, request, entry.now));
    } catch (error) {
      if (isMpayError(error)) throw new ChainRefused(index, error);
      throw error;
    }
  }
  return results;
}

async function createChainAlone(database: Database, entry: BatchEntry): Promise<TransferResult[]> {
  const attempt = () => database.transaction((sql) => createChainInTransaction(sql, entry));
  try {
    try {
      return await attempt();
    } catch (error) {
      if (!isUniqueViolation(error) && !isDeadlock(error)) throw error;
      return await attempt();
    }
  } catch (error) {
    if (!(error instanceof ChainRefused)) throw error;
    return refuseLinkedChain(
      entry.requests.map((request) => request.id),
      error.failed,
      error.refusal,
    );
  }
}

/**
 * One entry on its own, after its batch failed for a reason that is not a
 * rule (a concurrent writer took one of its ids, a deadlock, a lost
 * connection): a lone request through the single-transfer path, a chain
 * through it member by member inside one transaction.
 */
export async function commitEntryAlone(database: Database, entry: BatchEntry): Promise<TransferResult[]> {
  const [request] = entry.requests;
  if (request === undefined || entry.requests.length > 1) return createChainAlone(database, entry);
  try {
    return [await createTransfer(database, request, entry.now)];
  } catch (error) {
    if (!isMpayError(error)) throw error;
    return [{ error }];
  }
}
