import type { Transfer } from '@mpay/ledger';
import type { Sql } from '@mpay/storage';
import { selectTransactionsOfTransfers } from './store.ts';

/** What a statement line shows of the banking transaction that made its transfer. */
export interface BankingLineEvidence {
  readonly requestId: string;
  /** The log's receipt, once the log proved the transaction. */
  readonly receipt?: string | undefined;
}

/**
 * The banking transactions of `partyId` behind a statement page's transfers,
 * by the line's transfer id. A transfer to a payee here is the order itself
 * (id = request id); one to another bank is a hold (id = request id) whose
 * post is the line, so a line is matched by its own id or by the hold it
 * posts. Only the party's own transactions: the payee of a banking transfer
 * sees the credit, never the payer's signed request or its receipt (they
 * carry the payer's ID_C).
 */
export async function bankingEvidenceOfTransfers(
  sql: Sql,
  partyId: string,
  transfers: readonly Transfer[],
): Promise<Map<string, BankingLineEvidence>> {
  const candidates = transfers.flatMap((transfer) =>
    transfer.pendingId === undefined ? [transfer.id] : [transfer.id, transfer.pendingId],
  );
  const transactions = await selectTransactionsOfTransfers(sql, partyId, candidates);
  const evidence = new Map<string, BankingLineEvidence>();
  for (const transfer of transfers) {
    const transaction =
      transactions.get(transfer.id) ??
      (transfer.pendingId === undefined ? undefined : transactions.get(transfer.pendingId));
    if (transaction === undefined) continue;
    evidence.set(transfer.id, {
      requestId: transaction.id,
      ...(transaction.receipt === null ? {} : { receipt: transaction.receipt }),
    });
  }
  return evidence;
}
