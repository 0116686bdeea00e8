import type { Account, AccountKind, Transfer, TransferKind } from '@mpay/ledger';
import type { CurrencyCode, PartyId } from '@mpay/protocol';

/** Columns as text where they are numbers: bigint and numeric travel as decimal strings on both drivers. */
export function accountColumnsOf(table: string): string {
  return `${table}.id::text AS id, ${table}.ledger AS ledger, ${table}.owner AS owner, ${table}.kind AS kind,
  ${table}.debits_must_not_exceed_credits AS debits_must_not_exceed_credits,
  ${table}.credits_must_not_exceed_debits AS credits_must_not_exceed_debits,
  ${table}.debits_pending::text AS debits_pending, ${table}.debits_posted::text AS debits_posted,
  ${table}.credits_pending::text AS credits_pending, ${table}.credits_posted::text AS credits_posted,
  ${table}.closed AS closed`;
}

export const accountColumns = accountColumnsOf('accounts');

export interface AccountRow {
  id: string;
  ledger: string;
  owner: string;
  kind: string;
  debits_must_not_exceed_credits: boolean;
  credits_must_not_exceed_debits: boolean;
  debits_pending: string;
  debits_posted: string;
  credits_pending: string;
  credits_posted: string;
  closed: boolean;
}

/** Rows were written through the ledger rules, so their values are trusted (the table's CHECKs enforce them). */
export function accountFromRow(row: AccountRow): Account {
  return Object.freeze({
    id: row.id,
    ledger: row.ledger as CurrencyCode,
    owner: row.owner as PartyId,
    kind: row.kind as AccountKind,
    flags: Object.freeze({
      debitsMustNotExceedCredits: row.debits_must_not_exceed_credits,
      creditsMustNotExceedDebits: row.credits_must_not_exceed_debits,
    }),
    debitsPending: BigInt(row.debits_pending),
    debitsPosted: BigInt(row.debits_posted),
    creditsPending: BigInt(row.credits_pending),
    creditsPosted: BigInt(row.credits_posted),
    closed: row.closed,
  });
}

export const transferColumns = `id::text AS id, debit_account_id::text AS debit_account_id,
  credit_account_id::text AS credit_account_id, amount::text AS amount, ledger, kind,
  pending_id::text AS pending_id, timeout_seconds, reference, created_at`;

export interface TransferRow {
  id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: string;
  ledger: string;
  kind: string;
  pending_id: string | null;
  timeout_seconds: number | null;
  reference: string;
  created_at: Date;
}

export function transferFromRow(row: TransferRow): Transfer {
  return Object.freeze({
    id: row.id,
    debitAccountId: row.debit_account_id,
    creditAccountId: row.credit_account_id,
    amount: BigInt(row.amount),
    ledger: row.ledger as CurrencyCode,
    kind: row.kind as TransferKind,
    ...(row.pending_id === null ? {} : { pendingId: row.pending_id }),
    ...(row.timeout_seconds === null ? {} : { timeoutSeconds: row.timeout_seconds }),
    reference: row.reference,
    createdAt: new Date(row.created_at),
  });
}
