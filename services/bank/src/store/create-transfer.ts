import {
  type Account,
  applyTransfer,
  decideTransfer,
  expirePendingTransfer,
  isResolveRequest,
  type LedgerView,
  type Transfer,
  type TransferDecision,
  type TransferRequest,
} from '@mpay/ledger';
import { assert, MpayError } from '@mpay/protocol';
import { commitWithLastStatements, type Database, type Sql, together } from '@mpay/storage';
import { type LockedAccounts, lockAccountRows, lockAccounts } from './accounts.ts';
import { writeBatch } from './batch-writes.ts';
import { selectExpiredPending, selectResolution, selectTransfer, selectTransfersById } from './transfers.ts';

export interface TransferOutcome {
  readonly transfer: Transfer;
  /** false when a transfer with this id and the same fields already existed (an idempotent retry). */
  readonly created: boolean;
}

type Build = (resolution: Transfer | undefined) => Transfer | undefined;

/**
 * Concurrency: each transfer is one transaction that locks its two accounts
 * with SELECT … FOR UPDATE in id order, runs the pure rules of @mpay/ledger
 * on the locked balances, writes both balances and inserts the transfer (one
 * statement, as a batch of one: `writeBatch`).
 * We chose this over one conditional UPDATE … WHERE <balance check> statement,
 * although DESIGN.md measures that at about twice the throughput (7.4k/s
 * against 3.3k/s on 16 connections), so that the rules exist once, in the
 * pure package its property tests check, instead of a second time in SQL.
 * The table's CHECK constraints still refuse an overdraft as a second line.
 * Ordered locks cannot deadlock; the transfer's primary key and the one-
 * resolution-per-pending index settle the races the locks do not cover.
 *
 * `build` makes the transfer once the locks are held, from the pending
 * transfer's current resolution; undefined writes nothing. `locked`: the two
 * accounts as the caller locked them earlier in this transaction (nothing
 * has written them since), used instead of reading them again.
 */
async function commitTransfer(
  sql: Sql,
  accounts: Pick<Transfer, 'debitAccountId' | 'creditAccountId'>,
  pending: Transfer | undefined,
  build: Build,
  locked?: LockedAccounts,
): Promise<Transfer | undefined> {
  if (locked !== undefined) {
    assert(
      locked.debit.id === accounts.debitAccountId && locked.credit.id === accounts.creditAccountId,
      'the accounts locked are the transfer accounts',
    );
  }
  const { debit, credit } =
    locked ?? (await lockAccounts(sql, accounts.debitAccountId, accounts.creditAccountId));
  const resolution = pending === undefined ? undefined : await selectResolution(sql, pending.id);
  const transfer = build(resolution);
  if (transfer === undefined) return undefined;
  const applied = applyTransfer(debit, credit, transfer, pending);
  await writeBatch(sql, [applied.debit, applied.credit], [transfer]);
  return transfer;
}

/**
 * What a transfer's decision reads in its transaction: the transfers with its
 * id (and, for a resolution, its pending transfer's id) that exist, its two
 * accounts as locked FOR UPDATE (a new transfer's own, a resolution's pending
 * transfer's; an account that does not exist is absent), and a resolution's
 * pending transfer's current resolution.
 */
export interface TransferReads {
  readonly found: ReadonlyMap<string, Transfer>;
  readonly locked: readonly Account[];
  readonly resolution?: Transfer | undefined;
}

/**
 * The ledger's one decision (@mpay/ledger's decideTransfer, as the model and
 * the batches take it) on what the transaction read: an existing id is a
 * retry (or TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS), then the rules. Pure: a
 * refusal is thrown before anything is written, so a caller can start the
 * write together with its own last statements and the COMMIT.
 */
export function decideOnReads(request: TransferRequest, now: Date, reads: TransferReads): TransferDecision {
  const view: LedgerView = {
    account: (id) => reads.locked.find((account) => account.id === id),
    // A resolution read under the locks is a transfer that exists too: the same request, committed by a
    // concurrent retry while this one waited for the locks (its id was read before them), is answered as
    // a retry, not refused as the pending transfer's second resolution.
    transfer: (id) => reads.found.get(id) ?? (reads.resolution?.id === id ? reads.resolution : undefined),
    resolution: () => reads.resolution,
  };
  return decideTransfer(view, request, now);
}

/**
 * A decision's write (one statement, `writeBatch`, whose counts are checked
 * in the statement itself); nothing for a retry. Started beside a caller's
 * last statements, it may leave with their COMMIT (commitWithLastStatements).
 */
export async function writeTransfer(sql: Sql, decision: TransferDecision): Promise<void> {
  if (!decision.created) return;
  await writeBatch(sql, [decision.debit, decision.credit], [decision.transfer]);
}

/** What a caller of the single-transfer path read already in its transaction (nothing written since). */
export interface TransferReadsGiven {
  /** The transfer's two accounts, locked with `lockAccounts` (a new transfer only). */
  readonly locked?: LockedAccounts;
  /** `selectTransfersById` of the request's id (and a resolution's pending id), read in this transaction. */
  readonly found?: ReadonlyMap<string, Transfer>;
  /**
   * A resolution's reads under the locks, made by a caller that knows the
   * accounts of the pending transfer before reading it (a payment order's
   * hold): those accounts locked with `lockAccountRows`, then the pending
   * transfer's current resolution (`selectResolution`). Taken only when the
   * locked rows are the pending transfer's two accounts; else the accounts
   * are locked here, as without them.
   */
  readonly pendingLocked?: { readonly locked: readonly Account[]; readonly resolution: Transfer | undefined };
  /**
   * Nothing follows the transfer in the transaction: its write leaves with
   * the COMMIT (commitWithLastStatements; on PostgreSQL one round trip less).
   */
  readonly lastInTransaction?: boolean;
}

/**
 * The single-transfer path inside the caller's transaction (locks both
 * accounts FOR UPDATE in id order). A caller that already locked a new
 * transfer's two accounts with `lockAccounts` in this transaction, or read
 * its transfers by id, and wrote neither since, passes them (`given`): the
 * same locks and reads, fewer round trips. A new transfer's id is read with
 * its accounts' locks, in one round trip; a resolution's pending transfer
 * first, then its accounts' locks with its current resolution.
 */
export async function createTransferInTransaction(
  sql: Sql,
  request: TransferRequest,
  now: Date,
  given: TransferReadsGiven = {},
): Promise<TransferOutcome> {
  let reads: TransferReads;
  if (isResolveRequest(request)) {
    assert(given.locked === undefined, 'a resolution locks the accounts of its pending transfer itself');
    // A resolution reads itself (a retry) and its pending transfer in one statement.
    const found = given.found ?? (await selectTransfersById(sql, [request.id, request.pendingId]));
    const pending = found.get(request.pendingId);
    const pendingLocked = given.pendingLocked;
    if (found.has(request.id) || pending === undefined) reads = { found, locked: [] };
    else if (pendingLocked !== undefined && locksAccountsOf(pendingLocked.locked, pending))
      reads = { found, locked: pendingLocked.locked, resolution: pendingLocked.resolution };
    else {
      // The resolution is read under the locks: the two leave together, the locks first.
      const [locked, resolution] = await together([
        lockAccountRows(sql, pending.debitAccountId, pending.creditAccountId),
        selectResolution(sql, pending.id),
      ]);
      reads = { found, locked, resolution };
    }
  } else if (given.locked !== undefined) {
    const { debit, credit } = given.locked;
    assert(
      debit.id === request.debitAccountId && credit.id === request.creditAccountId,
      'the accounts locked are the transfer accounts',
    );
    reads = { found: given.found ?? (await selectTransfersById(sql, [request.id])), locked: [debit, credit] };
  } else {
    const [locked, found] = await together([
      lockAccountRows(sql, request.debitAccountId, request.creditAccountId),
      given.found === undefined ? selectTransfersById(sql, [request.id]) : Promise.resolve(given.found),
    ]);
    reads = { found, locked };
  }
  const decision = decideOnReads(request, now, reads);
  const written = writeTransfer(sql, decision);
  if (given.lastInTransaction === true && decision.created) commitWithLastStatements(sql, 1);
  await written;
  return { transfer: decision.transfer, created: decision.created };
}

/** Whether `locked` are exactly the two accounts of `transfer`. */
function locksAccountsOf(locked: readonly Account[], transfer: Transfer): boolean {
  const ids = new Set(locked.map((account) => account.id));
  return ids.size === 2 && ids.has(transfer.debitAccountId) && ids.has(transfer.creditAccountId);
}

export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23505';
}

/**
 * Runs `attempt` (one database transaction) again once if it failed on a
 * unique violation: a concurrent request won a race on the same id, and the
 * second attempt sees its committed result and answers as a retry would.
 */
export async function retryOnUniqueViolation<T>(attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    return attempt();
  }
}

/**
 * Creates the transfer at `now`, or returns the existing one with this id and
 * the same fields, or throws the rule's error. A unique violation means a
 * concurrent request won a race on the id or on the pending transfer: one more
 * attempt sees its committed result and answers as a retry would.
 */
export async function createTransfer(
  database: Database,
  request: TransferRequest,
  now: Date,
): Promise<TransferOutcome> {
  return retryOnUniqueViolation(() =>
    database.transaction((sql) => createTransferInTransaction(sql, request, now)),
  );
}

/**
 * Voids up to `batchSizeMax` holds whose timeout has passed, each in its own
 * transaction, and returns the voids it wrote. A hold that a client resolved
 * meanwhile is skipped. Safe to run from several processes at once.
 */
export async function expirePendingTransfers(
  database: Database,
  now: Date,
  batchSizeMax: number,
  nextId: () => string,
): Promise<Transfer[]> {
  const expired: Transfer[] = [];
  const build = (pending: Transfer) => (resolution: Transfer | undefined) =>
    resolution === undefined ? expirePendingTransfer(pending, undefined, nextId(), now) : undefined;
  for (const pending of await selectExpiredPending(database, now, batchSizeMax)) {
    try {
      const voided = await database.transaction((sql) =>
        commitTransfer(sql, pending, pending, build(pending)),
      );
      if (voided !== undefined) expired.push(voided);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
  }
  return expired;
}

/**
 * Releases the hold `pendingId` whose timeout has passed, inside the caller's
 * transaction: the void the expiry sweep would write, with the caller's id.
 * Returns undefined when something already resolved the hold.
 */
export async function expirePendingInTransaction(
  sql: Sql,
  pendingId: string,
  voidId: string,
  now: Date,
): Promise<Transfer | undefined> {
  const pending = await selectTransfer(sql, pendingId);
  if (pending === undefined) throw new MpayError('TRANSFER_UNKNOWN', 'pendingId');
  return commitTransfer(sql, pending, pending, (resolution) =>
    resolution === undefined ? expirePendingTransfer(pending, undefined, voidId, now) : undefined,
  );
}
