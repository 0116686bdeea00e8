import type { Transfer } from '@mpay/ledger';
import { afterCommit, type Database, type Sql } from '@mpay/storage';

/** Told the kinds of the transfers a committed transaction wrote (the bank's metrics). */
export type TransferObserver = (kinds: readonly Transfer['kind'][]) => void;

/** The observer of each transaction of an observed database. */
const observers = new WeakMap<Sql, TransferObserver>();

/**
 * The bank's database, whose transactions tell `observe` the transfers
 * `writeBatch` wrote, once each transaction committed. `writeBatch` is the
 * one write to the transfers table, reached from a dozen paths (the
 * batcher, payment and refund orders, credits, settlement, corrections,
 * expiry) that get their transaction's `sql` and nothing else: the observer
 * rides on that `sql` (a WeakMap, gone with it) rather than through every
 * signature. Every member delegates to `database` at each call, so a wrapper
 * put on it later (a benchmark's counter) still sees these calls.
 */
export function observingTransfers(database: Database, observe: TransferObserver): Database {
  const observed: Database = {
    get backend() {
      return database.backend;
    },
    get schema() {
      return database.schema;
    },
    get connections() {
      return database.connections;
    },
    get integrity() {
      return database.integrity;
    },
    get durableSyncs() {
      return database.durableSyncs;
    },
    query: (text, params) => database.query(text, params),
    exec: (script) => database.exec(script),
    transaction: (work) =>
      database.transaction((sql) => {
        observers.set(sql, observe);
        return work(sql);
      }),
    listen: (channel, handler, options) => database.listen(channel, handler, options),
    notify: (channel, payload, sql, options) => database.notify(channel, payload, sql, options),
    close: () => database.close(),
  };
  return observed;
}

/**
 * `transfers` written within `sql`, a transaction of an observed database:
 * told to its observer once that commits (nothing for any other `sql`).
 */
export function observeTransfersWritten(sql: Sql, transfers: readonly Transfer[]): void {
  const observe = observers.get(sql);
  if (observe === undefined || transfers.length === 0) return;
  const kinds = transfers.map((transfer) => transfer.kind);
  afterCommit(sql, () => observe(kinds));
}
