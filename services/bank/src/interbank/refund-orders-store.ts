import type { Sql } from '@mpay/storage';

export type RefundOrderState = 'sending' | 'completed' | 'refused';

/** A refund order at the merchant's bank (table refund_orders). */
export interface RefundOrder {
  /** The refund id: the FSP's, the refund transfer's and the funds-transfer message's. */
  readonly id: string;
  readonly requestHash: string;
  readonly orderedBy: string;
  /** The merchant (debited). */
  readonly payerId: string;
  /** The customer of the original payment (credited). */
  readonly payeeId: string;
  readonly originalOrderId: string;
  /** The customer's bank: this bank itself for a payment within it. */
  readonly originalBank: string;
  /** The merchant's signed refund, verified when the order was placed. */
  readonly authorisation: string;
  readonly keyBindingSerial: string;
  readonly debitAccountId: string;
  /** The customer's account for a refund within this bank; null when another bank credits it. */
  readonly creditAccountId: string | null;
  /** The hold (another bank) or the posted correction (this bank) on the merchant's account. */
  readonly transferId: string;
  readonly amount: bigint;
  readonly ledger: string;
  readonly reference: string;
  readonly state: RefundOrderState;
  readonly refusalCode: string | null;
  readonly deadline: Date;
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly lastError: string | null;
  readonly answer: string | null;
  readonly createdAt: Date;
}

interface RefundOrderRow {
  id: string;
  request_hash: string;
  ordered_by: string;
  payer_id: string;
  payee_id: string;
  original_order_id: string;
  original_bank: string;
  authorisation: string;
  key_binding_serial: string;
  debit_account_id: string;
  credit_account_id: string | null;
  transfer_id: string;
  amount: string | number | bigint;
  ledger: string;
  reference: string;
  state: RefundOrderState;
  refusal_code: string | null;
  deadline: Date | string;
  attempts: number;
  next_attempt_at: Date | string;
  last_error: string | null;
  answer: string | null;
  created_at: Date | string;
}

const columns = `id::text AS id, request_hash, ordered_by, payer_id, payee_id,
  original_order_id::text AS original_order_id, original_bank, authorisation, key_binding_serial,
  debit_account_id::text AS debit_account_id, credit_account_id::text AS credit_account_id,
  transfer_id::text AS transfer_id, amount, ledger, reference, state, refusal_code, deadline, attempts,
  next_attempt_at, last_error, answer, created_at`;

function refundOrderFromRow(row: RefundOrderRow): RefundOrder {
  return Object.freeze({
    id: row.id,
    requestHash: row.request_hash,
    orderedBy: row.ordered_by,
    payerId: row.payer_id,
    payeeId: row.payee_id,
    originalOrderId: row.original_order_id,
    originalBank: row.original_bank,
    authorisation: row.authorisation,
    keyBindingSerial: row.key_binding_serial,
    debitAccountId: row.debit_account_id,
    creditAccountId: row.credit_account_id,
    transferId: row.transfer_id,
    amount: BigInt(row.amount),
    ledger: row.ledger,
    reference: row.reference,
    state: row.state,
    refusalCode: row.refusal_code,
    deadline: new Date(row.deadline),
    attempts: row.attempts,
    nextAttemptAt: new Date(row.next_attempt_at),
    lastError: row.last_error,
    answer: row.answer,
    createdAt: new Date(row.created_at),
  });
}

export async function selectRefundOrder(
  sql: Sql,
  id: string,
  lock = false,
): Promise<RefundOrder | undefined> {
  const { rows } = await sql.query<RefundOrderRow>(
    `SELECT ${columns} FROM refund_orders WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return rows[0] === undefined ? undefined : refundOrderFromRow(rows[0]);
}

export async function insertRefundOrder(sql: Sql, order: RefundOrder): Promise<void> {
  await sql.query(
    `INSERT INTO refund_orders (id, request_hash, ordered_by, payer_id, payee_id, original_order_id, original_bank,
       authorisation, key_binding_serial, debit_account_id, credit_account_id, transfer_id, amount, ledger,
       reference, state, refusal_code, deadline, attempts, next_attempt_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 0, $19, $20, $20)`,
    [
      order.id,
      order.requestHash,
      order.orderedBy,
      order.payerId,
      order.payeeId,
      order.originalOrderId,
      order.originalBank,
      order.authorisation,
      order.keyBindingSerial,
      order.debitAccountId,
      order.creditAccountId,
      order.transferId,
      order.amount,
      order.ledger,
      order.reference,
      order.state,
      order.refusalCode,
      order.deadline.toISOString(),
      order.nextAttemptAt.toISOString(),
      order.createdAt.toISOString(),
    ],
  );
}

/**
 * What refund orders of one original payment reserve: those completed and
 * those still being delivered (their hold is on the merchant's account).
 * Refused ones moved nothing. Read under the original credit's row lock.
 */
export async function reservedByRefundOrders(
  sql: Sql,
  originalBank: string,
  originalOrderId: string,
): Promise<bigint> {
  const { rows } = await sql.query<{ amount: string }>(
    `SELECT COALESCE(sum(amount), 0)::text AS amount FROM refund_orders
     WHERE original_bank = $1 AND original_order_id = $2 AND state IN ('sending', 'completed')`,
    [originalBank, originalOrderId],
  );
  return BigInt(rows[0]?.amount ?? '0');
}

export interface RefundOrderRefusalRecord {
  readonly refundId: string;
  readonly orderedBy: string;
  readonly payerId: string;
  readonly code: string;
  /** The precise reason, for the operator; the FSP gets only the code. */
  readonly reason: string;
  readonly createdAt: Date;
}

/** Appends a refusal of a refund order that moved nothing (table refund_order_refusals). */
export async function insertRefundOrderRefusal(sql: Sql, refusal: RefundOrderRefusalRecord): Promise<void> {
  await sql.query(
    `INSERT INTO refund_order_refusals (refund_id, ordered_by, payer_id, code, reason, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      refusal.refundId,
      refusal.orderedBy,
      refusal.payerId,
      refusal.code,
      refusal.reason,
      refusal.createdAt.toISOString(),
    ],
  );
}

/** Records the customer's bank's signed answer and the refund order's final state. */
export async function finishRefundOrder(
  sql: Sql,
  id: string,
  outcome: { state: 'completed' | 'refused'; refusalCode: string | null; answer: string },
  now: Date,
): Promise<void> {
  await sql.query(
    `UPDATE refund_orders SET state = $2, refusal_code = $3, answer = $4, last_error = NULL, updated_at = $5
     WHERE id = $1 AND state = 'sending'`,
    [id, outcome.state, outcome.refusalCode, outcome.answer, now.toISOString()],
  );
}

/** Counts a failed delivery attempt and schedules the next one. */
export async function recordRefundAttemptFailure(
  sql: Sql,
  id: string,
  error: string,
  nextAttemptAt: Date,
  now: Date,
): Promise<void> {
  await sql.query(
    `UPDATE refund_orders SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, updated_at = $4
     WHERE id = $1 AND state = 'sending'`,
    [id, error.slice(0, 500), nextAttemptAt.toISOString(), now.toISOString()],
  );
}

/** Ids of refund orders being delivered whose next attempt is due, oldest first. */
export async function selectDueRefundOrders(sql: Sql, now: Date, limit: number): Promise<string[]> {
  const { rows } = await sql.query<{ id: string }>(
    `SELECT id::text AS id FROM refund_orders WHERE state = 'sending' AND next_attempt_at <= $1
     ORDER BY next_attempt_at LIMIT $2`,
    [now.toISOString(), limit],
  );
  return rows.map((row) => row.id);
}
