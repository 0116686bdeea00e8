import { assert } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';

/** The banking transactions (seed 003 §4.2 "Transaction Log Strategy"): money moved, a key renewed or revoked. */
export const bankingTransactionKinds = ['transfer', 'bill_payment', 'revoke_device', 'renew_key'] as const;
export type BankingTransactionKind = (typeof bankingTransactionKinds)[number];

/** One banking transaction as the bank keeps it (table banking_transactions): its evidence and its way to the log. */
export interface BankingTransactionRecord {
  /** The request id of the banking request that made it. */
  readonly id: string;
  readonly partyId: string;
  readonly kind: BankingTransactionKind;
  /** The ledger transfer (= payment order) it made, when it moved money. */
  readonly transferId: string | null;
  /** [the device's signed request, the bank's signed record], in the order the log commits to them. */
  readonly messages: readonly string[];
  readonly logIndex: bigint | null;
  /** The log's receipt (mpay-receipt/v1) once the log proved the entry. */
  readonly receipt: string | null;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly nextAttemptAt: Date;
  readonly createdAt: Date;
}

interface TransactionRow {
  id: string;
  party_id: string;
  kind: string;
  transfer_id: string | null;
  messages: string;
  log_index: string | number | bigint | null;
  receipt: string | null;
  attempts: number;
  last_error: string | null;
  next_attempt_at: Date | string;
  created_at: Date | string;
}

const columns = `id::text AS id, party_id, kind, transfer_id::text AS transfer_id, messages, log_index, receipt,
  attempts, last_error, next_attempt_at, created_at`;

function isKind(value: string): value is BankingTransactionKind {
  return (bankingTransactionKinds as readonly string[]).includes(value);
}

/** The stored messages, decoded once here: a JSON array of compact JWS texts, as written by insertBankingTransaction. */
function messagesOf(text: string): readonly string[] {
  const messages: unknown = JSON.parse(text);
  assert(
    Array.isArray(messages) &&
      messages.length > 0 &&
      messages.every((message) => typeof message === 'string'),
    'stored banking transaction messages are a list of texts',
  );
  return Object.freeze([...(messages as string[])]);
}

function recordFromRow(row: TransactionRow): BankingTransactionRecord {
  assert(isKind(row.kind), 'a stored banking transaction has a known kind');
  return Object.freeze({
    id: row.id,
    partyId: row.party_id,
    kind: row.kind,
    transferId: row.transfer_id,
    messages: messagesOf(row.messages),
    logIndex: row.log_index === null ? null : BigInt(row.log_index),
    receipt: row.receipt,
    attempts: row.attempts,
    lastError: row.last_error,
    nextAttemptAt: new Date(row.next_attempt_at),
    createdAt: new Date(row.created_at),
  });
}

/** Stores a new banking transaction, due for the log at once, in the caller's transaction (the one of its effect). */
export async function insertBankingTransaction(
  sql: Sql,
  transaction: {
    readonly id: string;
    readonly partyId: string;
    readonly kind: BankingTransactionKind;
    readonly transferId: string | null;
    readonly messages: readonly string[];
  },
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO banking_transactions (id, party_id, kind, transfer_id, messages, next_attempt_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $6)`,
    [
      transaction.id,
      transaction.partyId,
      transaction.kind,
      transaction.transferId,
      JSON.stringify(transaction.messages),
      now.toISOString(),
    ],
  );
}

export async function selectBankingTransaction(
  sql: Sql,
  id: string,
): Promise<BankingTransactionRecord | undefined> {
  const { rows } = await sql.query<TransactionRow>(
    `SELECT ${columns} FROM banking_transactions WHERE id = $1`,
    [id],
  );
  return rows[0] === undefined ? undefined : recordFromRow(rows[0]);
}

/**
 * Takes up to `limit` transactions due for the log (no receipt yet, due at
 * `now`) and leases them until `leaseUntil`: another worker pass, in this
 * process or another, skips them meanwhile (the lease is the next attempt
 * time; a pass that dies leaves them due again once it runs out).
 */
export async function claimDueBankingTransactions(
  database: Database,
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<BankingTransactionRecord[]> {
  const { rows } = await database.query<TransactionRow>(
    `UPDATE banking_transactions SET next_attempt_at = $1
     WHERE id IN (SELECT id FROM banking_transactions
                  WHERE receipt IS NULL AND next_attempt_at <= $2
                  ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING ${columns}`,
    [leaseUntil.toISOString(), now.toISOString(), limit],
  );
  return rows.map(recordFromRow);
}

/** The log accepted the entry at `index` (the same index on every retry: submissions are idempotent). */
export async function recordLogIndex(database: Database, id: string, index: bigint): Promise<void> {
  await database.query('UPDATE banking_transactions SET log_index = $2 WHERE id = $1', [
    id,
    index.toString(),
  ]);
}

/** The log proved the entry: its receipt is the evidence from now on. */
export async function recordReceipt(database: Database, id: string, receipt: string): Promise<void> {
  await database.query(
    `UPDATE banking_transactions SET receipt = $2, attempts = attempts + 1, last_error = NULL
     WHERE id = $1 AND receipt IS NULL`,
    [id, receipt],
  );
}

/** The stored receipt with the largest log index (the log's latest view this bank holds), if any. */
export async function lastStoredReceipt(
  database: Database,
): Promise<{ readonly id: string; readonly receipt: string } | undefined> {
  const { rows } = await database.query<{ id: string; receipt: string }>(
    'SELECT id, receipt FROM banking_transactions WHERE receipt IS NOT NULL ORDER BY log_index DESC LIMIT 1',
  );
  return rows[0];
}

/** A failed attempt (the log unreachable, the entry not proved yet): due again at `nextAttemptAt`. */
export async function recordAttemptFailure(
  database: Database,
  id: string,
  error: string,
  nextAttemptAt: Date,
): Promise<void> {
  await database.query(
    `UPDATE banking_transactions SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3
     WHERE id = $1 AND receipt IS NULL`,
    [id, error.slice(0, 500), nextAttemptAt.toISOString()],
  );
}

/** The party's banking transactions that made these transfers, by transfer id (one per transfer at most). */
export async function selectTransactionsOfTransfers(
  sql: Sql,
  partyId: string,
  transferIds: readonly string[],
): Promise<Map<string, BankingTransactionRecord>> {
  if (transferIds.length === 0) return new Map();
  const { rows } = await sql.query<TransactionRow>(
    `SELECT ${columns} FROM banking_transactions WHERE party_id = $1 AND transfer_id = ANY($2::uuid[])`,
    [partyId, [...new Set(transferIds)]],
  );
  const records = rows.map(recordFromRow);
  return new Map(
    records.flatMap((record) => (record.transferId === null ? [] : [[record.transferId, record]])),
  );
}
