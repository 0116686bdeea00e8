import { type AccountBalances, checkInvariants, type InvariantReport } from '@mpay/ledger';
import { MpayError } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import { type AccountRow, accountColumnsOf, accountFromRow } from './rows.ts';

export interface BalanceMismatch {
  readonly accountId: string;
  readonly field: keyof AccountBalances;
  readonly stored: bigint;
  readonly fromTransfers: bigint;
}

export interface AuditReport extends InvariantReport {
  /** Accounts whose stored balances differ from the balances replayed from the transfers table. */
  readonly mismatches: readonly BalanceMismatch[];
  readonly accountsChecked: number;
  readonly transfersChecked: number;
}

/**
 * Each account's balances recomputed from the transfers table alone — a second
 * implementation of the balance rules, in SQL, independent of the one that
 * wrote the accounts. A post or void releases its pending transfer's whole amount.
 */
const recomputedBalancesSql = `
WITH movements AS (
  SELECT t.debit_account_id AS account_id,
    CASE WHEN t.kind = 'pending' THEN t.amount ELSE 0 END - COALESCE(p.amount, 0) AS debits_pending,
    CASE WHEN t.kind IN ('posted', 'post_pending') THEN t.amount ELSE 0 END AS debits_posted,
    0 AS credits_pending, 0 AS credits_posted
  FROM transfers AS t LEFT JOIN transfers AS p ON p.id = t.pending_id
  UNION ALL
  SELECT t.credit_account_id, 0, 0,
    CASE WHEN t.kind = 'pending' THEN t.amount ELSE 0 END - COALESCE(p.amount, 0),
    CASE WHEN t.kind IN ('posted', 'post_pending') THEN t.amount ELSE 0 END
  FROM transfers AS t LEFT JOIN transfers AS p ON p.id = t.pending_id
), recomputed AS (
  SELECT account_id, sum(debits_pending) AS debits_pending, sum(debits_posted) AS debits_posted,
    sum(credits_pending) AS credits_pending, sum(credits_posted) AS credits_posted
  FROM movements GROUP BY account_id
)
SELECT ${accountColumnsOf('a')},
  COALESCE(r.debits_pending, 0)::text AS recomputed_debits_pending,
  COALESCE(r.debits_posted, 0)::text AS recomputed_debits_posted,
  COALESCE(r.credits_pending, 0)::text AS recomputed_credits_pending,
  COALESCE(r.credits_posted, 0)::text AS recomputed_credits_posted
FROM accounts AS a LEFT JOIN recomputed AS r ON r.account_id = a.id
ORDER BY a.id LIMIT $1`;

interface AuditRow extends AccountRow {
  recomputed_debits_pending: string;
  recomputed_debits_posted: string;
  recomputed_credits_pending: string;
  recomputed_credits_posted: string;
}

function mismatchesOf(row: AuditRow): BalanceMismatch[] {
  const pairs = [
    ['debitsPending', row.debits_pending, row.recomputed_debits_pending],
    ['debitsPosted', row.debits_posted, row.recomputed_debits_posted],
    ['creditsPending', row.credits_pending, row.recomputed_credits_pending],
    ['creditsPosted', row.credits_posted, row.recomputed_credits_posted],
  ] as const;
  return pairs
    .filter(([, stored, fromTransfers]) => BigInt(stored) !== BigInt(fromTransfers))
    .map(([field, stored, fromTransfers]) => ({
      accountId: row.id,
      field,
      stored: BigInt(stored),
      fromTransfers: BigInt(fromTransfers),
    }));
}

/**
 * The whole bank's books in one consistent snapshot (REPEATABLE READ): the
 * invariants of @mpay/ledger over the stored accounts, plus every stored
 * balance against the transfer log. O(accounts) in memory, so bounded by
 * `accountsMax`; incremental audits per statement period come later.
 */
export async function auditLedger(database: Database, accountsMax: number): Promise<AuditReport> {
  return database.transaction(async (sql) => {
    await sql.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const { rows } = await sql.query<AuditRow>(recomputedBalancesSql, [accountsMax + 1]);
    if (rows.length > accountsMax) throw new MpayError('LIMIT_EXCEEDED', 'audit accounts');
    const counted = await sql.query<{ transfers: string }>(
      'SELECT count(*)::text AS transfers FROM transfers',
    );
    const invariants = checkInvariants(rows.map(accountFromRow));
    const mismatches = rows.flatMap(mismatchesOf);
    return {
      ...invariants,
      ok: invariants.ok && mismatches.length === 0,
      mismatches,
      accountsChecked: rows.length,
      transfersChecked: Number(counted.rows[0]?.transfers ?? '0'),
    };
  });
}
