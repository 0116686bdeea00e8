import { type Account, accountAvailable, accountBalance, pendingExpiresAt } from '@mpay/ledger';
import type { AuditReport } from '../store/audit.ts';
import type { TransferView } from '../store/bank-ledger.ts';

/** Amounts leave the service as decimal strings of minor units, never JSON numbers. */
export function accountJson(account: Account) {
  return {
    id: account.id,
    owner: account.owner,
    currency: account.ledger,
    kind: account.kind,
    flags: account.flags,
    debitsPending: account.debitsPending.toString(),
    debitsPosted: account.debitsPosted.toString(),
    creditsPending: account.creditsPending.toString(),
    creditsPosted: account.creditsPosted.toString(),
    balance: accountBalance(account).toString(),
    available: accountAvailable(account).toString(),
    closed: account.closed,
  };
}

export function transferJson({ transfer, pendingState }: TransferView) {
  return {
    id: transfer.id,
    kind: transfer.kind,
    debitAccountId: transfer.debitAccountId,
    creditAccountId: transfer.creditAccountId,
    amount: transfer.amount.toString(),
    currency: transfer.ledger,
    ...(transfer.pendingId === undefined ? {} : { pendingId: transfer.pendingId }),
    ...(transfer.kind === 'pending'
      ? {
          timeoutSeconds: transfer.timeoutSeconds,
          expiresAt: pendingExpiresAt(transfer).toISOString(),
          status: pendingState,
        }
      : {}),
    reference: transfer.reference,
    createdAt: transfer.createdAt.toISOString(),
  };
}

export function auditJson(report: AuditReport) {
  return {
    ok: report.ok,
    accountsChecked: report.accountsChecked,
    transfersChecked: report.transfersChecked,
    ledgers: report.ledgers.map((totals) => ({
      currency: totals.ledger,
      accounts: totals.accounts,
      debitsPending: totals.debitsPending.toString(),
      debitsPosted: totals.debitsPosted.toString(),
      creditsPending: totals.creditsPending.toString(),
      creditsPosted: totals.creditsPosted.toString(),
    })),
    violations: report.violations,
    mismatches: report.mismatches.map((mismatch) => ({
      ...mismatch,
      stored: mismatch.stored.toString(),
      fromTransfers: mismatch.fromTransfers.toString(),
    })),
  };
}
