import type { TransferRequest, TransferResult } from '@mpay/ledger';
import { assert, MpayError } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import { type BatchEntry, commitBatch, commitEntryAlone } from './batch-transfers.ts';
import type { TransferOutcome } from './create-transfer.ts';

/** The batcher's limits, as named options. */
export interface TransferBatcherOptions {
  /** Most transfers in one database transaction (a chain is never split, so it is also the longest chain). */
  readonly batchTransfersMax: number;
  /** Most transfers waiting for a batch; beyond, SERVICE_UNAVAILABLE (back-pressure, not an unbounded queue). */
  readonly queueTransfersMax: number;
}

export const defaultTransferBatcherOptions: TransferBatcherOptions = Object.freeze({
  batchTransfersMax: 512,
  queueTransfersMax: 65_536,
});

/** Hard ceilings: TigerBeetle's batch is 8190 transfers; PostgreSQL arrays of that size are cheap. */
export const batchTransfersCeiling = 8190;
export const queueTransfersCeiling = 1_048_576;

export interface BatcherStatistics {
  /** Batch transactions committed. */
  readonly batches: number;
  /** Transfers requested through committed batches (created, replayed or refused). */
  readonly transfers: number;
  /** Batches that failed and were redone entry by entry on the single-transfer path. */
  readonly fallbacks: number;
}

export interface TransferBatcher {
  /** One transfer; concurrent calls share a database transaction. Arrival order is decision order. */
  submit(request: TransferRequest, now: Date): Promise<TransferOutcome>;
  /** A linked chain: one result per request, all created (or replayed) or none. */
  submitLinked(requests: readonly TransferRequest[], now: Date): Promise<TransferResult[]>;
  statistics(): BatcherStatistics;
}

/** One batch transaction as it ended, for metrics: its size, its commit time and each transfer's result. */
export interface BatchObservation {
  /** Transfers the batch carried (every request of every entry). */
  readonly transfers: number;
  /** From the start of the batch transaction to its commit (or its failure), in seconds. */
  readonly commitSeconds: number;
  /** True when the transaction failed and its entries were redone one by one (results not observed). */
  readonly fallback: boolean;
  /** Each request with its result, in order (empty for a fallback). */
  readonly results: readonly { readonly request: TransferRequest; readonly result: TransferResult }[];
}

interface Waiting {
  readonly entry: BatchEntry;
  readonly resolve: (results: TransferResult[]) => void;
  readonly reject: (error: unknown) => void;
}

export function createTransferBatcherOptions(
  options: Partial<TransferBatcherOptions> = {},
): TransferBatcherOptions {
  const merged = { ...defaultTransferBatcherOptions, ...options };
  const check = (name: keyof TransferBatcherOptions, max: number) => {
    const value = merged[name];
    if (!Number.isSafeInteger(value) || value < 1 || value > max) {
      throw new Error(`transfer batcher: ${name} must be an integer in 1..${max}`);
    }
  };
  check('batchTransfersMax', batchTransfersCeiling);
  check('queueTransfersMax', queueTransfersCeiling);
  return Object.freeze(merged);
}

/** Takes entries from the head of the queue up to `transfersMax` transfers (at least one entry). */
function takeBatch(queue: Waiting[], transfersMax: number): Waiting[] {
  let transfers = 0;
  let count = 0;
  for (const waiting of queue) {
    transfers += waiting.entry.requests.length;
    if (count > 0 && transfers > transfersMax) break;
    count += 1;
  }
  return queue.splice(0, count);
}

/**
 * Queues concurrent transfers and commits them in batches (batch-transfers.ts),
 * one batch in flight at a time: while a batch commits the next one fills, so
 * under load each transaction carries many transfers and at rest a lone
 * transfer waits one event-loop turn. When a batch transaction fails for a
 * reason that is not a rule, its entries are redone one by one on the
 * single-transfer path, in the same order.
 */
export function createTransferBatcher(
  database: Database,
  options: Partial<TransferBatcherOptions> = {},
  observe: (batch: BatchObservation) => void = () => undefined,
): TransferBatcher {
  const limits = createTransferBatcherOptions(options);
  const queue: Waiting[] = [];
  let queuedTransfers = 0;
  let draining = false;
  const statistics = { batches: 0, transfers: 0, fallbacks: 0 };
  // Metrics only: an observer that throws must not fail a transfer that committed.
  const report = (batch: BatchObservation) => {
    try {
      observe(batch);
    } catch {
      // ignored: the batch's outcome stands
    }
  };

  const runBatch = async (batch: readonly Waiting[]): Promise<void> => {
    let results: TransferResult[][];
    const started = performance.now();
    const transfers = batch.reduce((sum, waiting) => sum + waiting.entry.requests.length, 0);
    try {
      results = await commitBatch(
        database,
        batch.map((waiting) => waiting.entry),
      );
    } catch {
      statistics.fallbacks += 1;
      report({ transfers, commitSeconds: (performance.now() - started) / 1000, fallback: true, results: [] });
      for (const waiting of batch) {
        await commitEntryAlone(database, waiting.entry).then(waiting.resolve, waiting.reject);
      }
      return;
    }
    statistics.batches += 1;
    report({
      transfers,
      commitSeconds: (performance.now() - started) / 1000,
      fallback: false,
      results: batch.flatMap((waiting, index) =>
        waiting.entry.requests.flatMap((request, position) => {
          const result = results[index]?.[position];
          return result === undefined ? [] : [{ request, result }];
        }),
      ),
    });
    batch.forEach((waiting, index) => {
      statistics.transfers += waiting.entry.requests.length;
      waiting.resolve(results[index] ?? []);
    });
  };

  const drain = async (): Promise<void> => {
    try {
      while (queue.length > 0) {
        const batch = takeBatch(queue, limits.batchTransfersMax);
        for (const waiting of batch) queuedTransfers -= waiting.entry.requests.length;
        await runBatch(batch);
      }
    } finally {
      draining = false;
    }
  };

  const enqueue = (entry: BatchEntry): Promise<TransferResult[]> => {
    assert(entry.requests.length > 0, 'an entry has a request');
    if (entry.requests.length > limits.batchTransfersMax) {
      return Promise.reject(new MpayError('LIMIT_EXCEEDED', 'linked transfers'));
    }
    if (queuedTransfers + entry.requests.length > limits.queueTransfersMax) {
      return Promise.reject(new MpayError('SERVICE_UNAVAILABLE', 'transfer queue full'));
    }
    queuedTransfers += entry.requests.length;
    const result = new Promise<TransferResult[]>((resolve, reject) => {
      queue.push({ entry, resolve, reject });
    });
    if (!draining) {
      draining = true;
      setImmediate(() => void drain());
    }
    return result;
  };

  return {
    submit: async (request, now) => {
      const [result] = await enqueue({ requests: [request], now });
      assert(result !== undefined, 'one result per request');
      if ('error' in result) throw result.error;
      return result;
    },
    submitLinked: (requests, now) => enqueue({ requests, now }),
    statistics: () => ({ ...statistics }),
  };
}
