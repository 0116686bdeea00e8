import {
  type Account,
  isResolveRequest,
  type LedgerRecords,
  type Transfer,
  type TransferRequest,
} from '@mpay/ledger';
import type { Sql } from '@mpay/storage';
import {
  type AccountRow,
  accountColumns,
  accountFromRow,
  type TransferRow,
  transferColumns,
  transferFromRow,
} from './rows.ts';

/**
 * Locks every account a batch touches, FOR UPDATE in id order (the order of
 * the single-transfer path, so neither can deadlock the other): the accounts
 * its new transfers name and those of the stored pending transfers it posts
 * or voids (transfers are immutable, so reading those needs no lock).
 */
async function lockBatchAccounts(
  sql: Sql,
  accountIds: readonly string[],
  pendingIds: readonly string[],
): Promise<Map<string, Account>> {
  const { rows } = await sql.query<AccountRow>(
    `SELECT ${accountColumns} FROM accounts
     WHERE id = ANY($1::uuid[] || ARRAY(
       SELECT unnest(ARRAY[debit_account_id, credit_account_id]) FROM transfers WHERE id = ANY($2::uuid[])))
     ORDER BY id FOR UPDATE`,
    [accountIds, pendingIds],
  );
  return new Map(rows.map((row) => [row.id, accountFromRow(row)]));
}

/**
 * Under the locks: the transfers with the batch's ids (idempotency), the
 * pending transfers it resolves, and their resolutions. Whoever posts or
 * voids a hold holds its accounts' locks, so no resolution can appear
 * before this batch commits.
 */
async function selectBatchTransfers(
  sql: Sql,
  ids: readonly string[],
  pendingIds: readonly string[],
): Promise<{ transfers: Map<string, Transfer>; resolutions: Map<string, Transfer> }> {
  const { rows } = await sql.query<TransferRow>(
    `SELECT ${transferColumns} FROM transfers WHERE id = ANY($1::uuid[]) OR pending_id = ANY($2::uuid[])`,
    [ids, pendingIds],
  );
  const pending = new Set(pendingIds);
  const transfers = new Map<string, Transfer>();
  const resolutions = new Map<string, Transfer>();
  for (const transfer of rows.map(transferFromRow)) {
    transfers.set(transfer.id, transfer);
    if (transfer.pendingId !== undefined && pending.has(transfer.pendingId)) {
      resolutions.set(transfer.pendingId, transfer);
    }
  }
  return { transfers, resolutions };
}

/** The records a batch's requests read, in two statements whatever its size. */
export async function loadBatchRecords(
  sql: Sql,
  requests: readonly TransferRequest[],
): Promise<LedgerRecords> {
  const accountIds = new Set<string>();
  const pendingIds = new Set<string>();
  for (const request of requests) {
    if (isResolveRequest(request)) pendingIds.add(request.pendingId);
    else accountIds.add(request.debitAccountId).add(request.creditAccountId);
  }
  const accounts = await lockBatchAccounts(sql, [...accountIds], [...pendingIds]);
  const ids = [...new Set([...requests.map((request) => request.id), ...pendingIds])];
  return { accounts, ...(await selectBatchTransfers(sql, ids, [...pendingIds])) };
}
