import { type Account, accountBalance, type Transfer } from '@mpay/ledger';
import { assert, MpayError } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import type { CorrectionKind } from '../corrections/correction.ts';
import {
  type AccountRow,
  accountColumns,
  accountFromRow,
  type TransferRow,
  transferColumns,
  transferFromRow,
} from './rows.ts';

export type Direction = 'debit' | 'credit';

/** One booked movement: a transfer that changed the account's posted balance. */
export interface StatementEntry {
  readonly transfer: Transfer;
  readonly direction: Direction;
  /** The account's posted balance (credits − debits) right after this movement. */
  readonly balanceAfter: bigint;
  /** Set when the movement is a refund or reversal of another transfer. */
  readonly correction?: { readonly kind: CorrectionKind; readonly originalId: string } | undefined;
}

export interface StatementPageRequest {
  /** Entries to answer, at most (the route bounds it by `statementPageSizeMax`). */
  readonly pageSize: number;
  /** Only entries committed before this position (a cursor); undefined: from the newest. */
  readonly beforeSeq?: bigint | undefined;
}

export interface StatementPage {
  /** The account as of the page's snapshot. */
  readonly account: Account;
  /** Newest first. */
  readonly entries: readonly StatementEntry[];
  /** Holds not yet posted or voided (newest first), on the first page only. */
  readonly openHolds?: { readonly holds: readonly Transfer[]; readonly truncated: boolean } | undefined;
  /** Where the next (older) page starts; undefined on the last page. */
  readonly nextBeforeSeq?: bigint | undefined;
}

const seqMax = 2n ** 63n - 1n;

interface EntryRow extends TransferRow {
  seq_text: string;
  correction_kind: CorrectionKind | null;
  correction_original_id: string | null;
}

/** Both sides of the account, each through its (account, seq) index, newest first. */
function movementsSql(kinds: string, condition: string, limit: string): string {
  return `(SELECT * FROM transfers WHERE debit_account_id = $1 AND kind IN (${kinds}) AND ${condition}
      ORDER BY seq DESC ${limit})
    UNION ALL
    (SELECT * FROM transfers WHERE credit_account_id = $1 AND kind IN (${kinds}) AND ${condition}
      ORDER BY seq DESC ${limit})`;
}

const bookedKinds = `'posted', 'post_pending'`;

async function selectEntryRows(sql: Sql, accountId: string, beforeSeq: bigint, rowsMax: number) {
  const { rows } = await sql.query<EntryRow>(
    `SELECT ${transferColumns}, seq::text AS seq_text, correction_kind, correction_original_id FROM (
       SELECT m.*, c.kind AS correction_kind, c.original_id::text AS correction_original_id
       FROM (${movementsSql(bookedKinds, 'seq < $2', 'LIMIT $3')}) AS m
       LEFT JOIN corrections AS c ON c.transfer_id = m.id
     ) AS entries ORDER BY seq DESC LIMIT $3`,
    [accountId, beforeSeq, rowsMax],
  );
  return rows;
}

/** The sum of the account's booked movements after `seq` (credits positive). */
async function sumBookedAfter(sql: Sql, accountId: string, seq: bigint): Promise<bigint> {
  const { rows } = await sql.query<{ total: string }>(
    `SELECT COALESCE(sum(CASE WHEN credit_account_id = $1 THEN amount ELSE -amount END), 0)::text AS total
     FROM (${movementsSql(bookedKinds, 'seq > $2', '')}) AS newer`,
    [accountId, seq],
  );
  return BigInt(rows[0]?.total ?? '0');
}

const unresolved = 'NOT EXISTS (SELECT 1 FROM transfers AS r WHERE r.pending_id = transfers.id)';

async function selectOpenHolds(sql: Sql, account: Account, holdsMax: number) {
  if (account.debitsPending === 0n && account.creditsPending === 0n) return { holds: [], truncated: false };
  const { rows } = await sql.query<TransferRow>(
    `SELECT ${transferColumns} FROM (${movementsSql(`'pending'`, unresolved, 'LIMIT $2')}) AS holds
     ORDER BY seq DESC LIMIT $2`,
    [account.id, holdsMax + 1],
  );
  return { holds: rows.slice(0, holdsMax).map(transferFromRow), truncated: rows.length > holdsMax };
}

/** What a movement did to the account's posted balance. */
function balanceChange(direction: Direction, amount: bigint): bigint {
  return direction === 'credit' ? amount : -amount;
}

/** Walks from the newest entry's balance back in time: each older balance is the newer one minus its movement. */
function withRunningBalances(
  accountId: string,
  rows: readonly EntryRow[],
  newestBalanceAfter: bigint,
): StatementEntry[] {
  let balanceAfter = newestBalanceAfter;
  return rows.map((row) => {
    const transfer = transferFromRow(row);
    const direction: Direction = transfer.creditAccountId === accountId ? 'credit' : 'debit';
    assert(direction === 'credit' || transfer.debitAccountId === accountId, 'an entry touches the account');
    const entry = {
      transfer,
      direction,
      balanceAfter,
      ...(row.correction_kind === null || row.correction_original_id === null
        ? {}
        : { correction: { kind: row.correction_kind, originalId: row.correction_original_id } }),
    };
    balanceAfter -= balanceChange(direction, transfer.amount);
    return entry;
  });
}

/** The balance before the oldest entry of `entries`. */
function openingBalance(entries: readonly StatementEntry[]): bigint {
  const oldest = entries.at(-1);
  if (oldest === undefined) return 0n;
  return oldest.balanceAfter - balanceChange(oldest.direction, oldest.transfer.amount);
}

/**
 * One page of an account's statement, read in one snapshot (REPEATABLE
 * READ): entries newest first, each with the posted balance right after it.
 * The balances come from the database alone: the account's balance now minus
 * the movements committed after the page's newest entry, whatever the cursor.
 */
export async function readStatement(
  database: Database,
  accountId: string,
  request: StatementPageRequest,
): Promise<StatementPage> {
  assert(Number.isSafeInteger(request.pageSize) && request.pageSize >= 1, 'a page holds at least one entry');
  return database.transaction(async (sql) => {
    await sql.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const { rows } = await sql.query<AccountRow>(`SELECT ${accountColumns} FROM accounts WHERE id = $1`, [
      accountId,
    ]);
    if (rows[0] === undefined) throw new MpayError('ACCOUNT_UNKNOWN');
    const account = accountFromRow(rows[0]);
    const entryRows = await selectEntryRows(
      sql,
      accountId,
      request.beforeSeq ?? seqMax,
      request.pageSize + 1,
    );
    const pageRows = entryRows.slice(0, request.pageSize);
    const newest = pageRows[0];
    const newer = newest === undefined ? 0n : await sumBookedAfter(sql, accountId, BigInt(newest.seq_text));
    const entries = withRunningBalances(accountId, pageRows, accountBalance(account) - newer);
    const more = entryRows.length > request.pageSize;
    assert(more || openingBalance(entries) === 0n, 'an account opens with a zero balance');
    const oldest = pageRows.at(-1);
    return {
      account,
      entries,
      ...(request.beforeSeq === undefined
        ? { openHolds: await selectOpenHolds(sql, account, request.pageSize) }
        : {}),
      ...(more && oldest !== undefined ? { nextBeforeSeq: BigInt(oldest.seq_text) } : {}),
    };
  });
}
