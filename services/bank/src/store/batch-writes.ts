import { type Account, pendingExpiresAt, type Transfer } from '@mpay/ledger';
import { assert } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { observeTransfersWritten } from './transfer-observer.ts';

function balanceColumns(accounts: readonly Account[]): string[][] {
  return [
    accounts.map((account) => account.id),
    accounts.map((account) => account.debitsPending.toString()),
    accounts.map((account) => account.debitsPosted.toString()),
    accounts.map((account) => account.creditsPending.toString()),
    accounts.map((account) => account.creditsPosted.toString()),
  ];
}

function transferColumns(transfers: readonly Transfer[]): unknown[][] {
  const column = <Value>(value: (transfer: Transfer) => Value) => transfers.map(value);
  return [
    column((transfer) => transfer.id),
    column((transfer) => transfer.debitAccountId),
    column((transfer) => transfer.creditAccountId),
    column((transfer) => transfer.amount.toString()),
    column((transfer) => transfer.ledger),
    column((transfer) => transfer.kind),
    column((transfer) => transfer.pendingId ?? null),
    column((transfer) => transfer.timeoutSeconds ?? null),
    column((transfer) => (transfer.kind === 'pending' ? pendingExpiresAt(transfer).toISOString() : null)),
    column((transfer) => transfer.reference),
    column((transfer) => transfer.createdAt.toISOString()),
  ];
}

/**
 * One statement for all of a batch's writes: the last balances of every
 * account it moved (one UPDATE … FROM unnest) and its new transfers in the
 * order they were decided (one INSERT … SELECT unnest, so the transfers'
 * `seq` follows that order). Arrays keep the statement text the same for
 * every batch size. The table's CHECK constraints, foreign keys and unique
 * indexes check every row as they would one by one. The only write to the
 * transfers table (a trigger refuses UPDATE, DELETE and TRUNCATE): the
 * batcher's batches and `commitTransfer`'s single transfer, as a batch of one.
 */
export async function writeBatch(
  sql: Sql,
  accounts: readonly Account[],
  transfers: readonly Transfer[],
): Promise<void> {
  assert(transfers.length > 0 || accounts.length === 0, 'only a new transfer moves an account');
  if (transfers.length === 0) return;
  const { rows } = await sql
    .query<{ updated: number; inserted: number }>(
      `WITH updated AS (
         UPDATE accounts AS a SET debits_pending = v.debits_pending, debits_posted = v.debits_posted,
           credits_pending = v.credits_pending, credits_posted = v.credits_posted
         FROM unnest($1::uuid[], $2::numeric[], $3::numeric[], $4::numeric[], $5::numeric[])
           AS v (id, debits_pending, debits_posted, credits_pending, credits_posted)
         WHERE a.id = v.id RETURNING a.id
       ), inserted AS (
         INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, ledger, kind, pending_id,
           timeout_seconds, expires_at, reference, created_at)
         SELECT * FROM unnest($6::uuid[], $7::uuid[], $8::uuid[], $9::bigint[], $10::text[], $11::text[],
           $12::uuid[], $13::integer[], $14::timestamptz[], $15::text[], $16::timestamptz[])
         RETURNING id
       ), counted AS (
         SELECT (SELECT count(*) FROM updated)::integer AS updated, (SELECT count(*) FROM inserted)::integer AS inserted
       )
       -- The counts are checked here (division by zero, 22012, when one is off), not only after the answer:
       -- a COMMIT that leaves with this statement (commitWithLastStatements) then does not run.
       SELECT updated, inserted, 1 / (updated = $17 AND inserted = $18)::integer AS checked FROM counted`,
      [...balanceColumns(accounts), ...transferColumns(transfers), accounts.length, transfers.length],
    )
    .catch((error: unknown) => {
      if ((error as { code?: unknown }).code === '22012')
        throw new Error(
          'assertion failed: every moved account is updated once, every new transfer inserted',
          {
            cause: error,
          },
        );
      throw error;
    });
  assert(rows[0]?.updated === accounts.length, 'every moved account is updated once');
  assert(rows[0]?.inserted === transfers.length, 'every new transfer is inserted');
  observeTransfersWritten(sql, transfers);
}
