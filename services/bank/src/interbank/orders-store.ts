import type { Sql } from '@mpay/storage';
import { approvalFromText, approvalToText, type OrderApproval } from './approval.ts';

export type OrderState = 'sending' | 'completed' | 'refused';

/** A payment order at the client bank (table payment_orders). */
export interface PaymentOrder {
  readonly id: string;
  readonly requestHash: string;
  readonly orderedBy: string;
  /** Payer and payee party ids; null only on orders placed before payment orders carried them. */
  readonly payerId: string | null;
  readonly payeeId: string | null;
  /** The customer's signed authorisation, verified when the order was placed. */
  readonly authorisation: string | null;
  readonly keyBindingSerial: string | null;
  readonly debitAccountId: string;
  readonly creditorBank: string;
  /** The payee's account, resolved here for a payee at this bank; null for a payee at another bank. */
  readonly creditAccountId: string | null;
  readonly amount: bigint;
  readonly ledger: string;
  readonly reference: string;
  readonly state: OrderState;
  readonly refusalCode: string | null;
  readonly deadline: Date;
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly lastError: string | null;
  readonly answer: string | null;
  readonly createdAt: Date;
  /** The bank's explicit approval, for an order accepted at a level that asks for one; else null. */
  readonly approval: OrderApproval | null;
}

interface OrderRow {
  id: string;
  request_hash: string;
  ordered_by: string;
  payer_id: string | null;
  payee_id: string | null;
  authorisation: string | null;
  key_binding_serial: string | null;
  debit_account_id: string;
  creditor_bank: string;
  credit_account_id: string | null;
  amount: string | number | bigint;
  ledger: string;
  reference: string;
  state: OrderState;
  refusal_code: string | null;
  deadline: Date | string;
  attempts: number;
  next_attempt_at: Date | string;
  last_error: string | null;
  answer: string | null;
  created_at: Date | string;
  approval: string | null;
}

const columns = `id, request_hash, ordered_by, payer_id, payee_id, authorisation, key_binding_serial,
  debit_account_id, creditor_bank, credit_account_id, amount, ledger, reference, state, refusal_code,
  deadline, attempts, next_attempt_at, last_error, answer, created_at, approval`;

function orderFromRow(row: OrderRow): PaymentOrder {
  return {
    id: row.id,
    requestHash: row.request_hash,
    orderedBy: row.ordered_by,
    payerId: row.payer_id,
    payeeId: row.payee_id,
    authorisation: row.authorisation,
    keyBindingSerial: row.key_binding_serial,
    debitAccountId: row.debit_account_id,
    creditorBank: row.creditor_bank,
    creditAccountId: row.credit_account_id,
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
    approval: row.approval === null ? null : approvalFromText(row.approval),
  };
}

export async function selectOrder(sql: Sql, id: string, lock = false): Promise<PaymentOrder | undefined> {
  const { rows } = await sql.query<OrderRow>(
    `SELECT ${columns} FROM payment_orders WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return rows[0] === undefined ? undefined : orderFromRow(rows[0]);
}

export async function insertOrder(sql: Sql, order: PaymentOrder): Promise<void> {
  await sql.query(
    `INSERT INTO payment_orders (id, request_hash, ordered_by, payer_id, payee_id, authorisation,
       key_binding_serial, debit_account_id, creditor_bank, credit_account_id, amount, ledger, reference,
       state, refusal_code, deadline, attempts, next_attempt_at, created_at, updated_at, approval)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 0, $17, $18, $18, $19)`,
    [
      order.id,
      order.requestHash,
      order.orderedBy,
      order.payerId,
      order.payeeId,
      order.authorisation,
      order.keyBindingSerial,
      order.debitAccountId,
      order.creditorBank,
      order.creditAccountId,
      order.amount,
      order.ledger,
      order.reference,
      order.state,
      order.refusalCode,
      order.deadline.toISOString(),
      order.nextAttemptAt.toISOString(),
      order.createdAt.toISOString(),
      order.approval === null ? null : approvalToText(order.approval),
    ],
  );
}

export interface OrderRefusalRecord {
  readonly orderId: string;
  readonly orderedBy: string;
  readonly payerId: string;
  readonly code: string;
  /** The precise reason, for the operator; the FSP gets only the code. */
  readonly reason: string;
  readonly createdAt: Date;
}

/** Appends a refusal of a payment order that moved nothing (table payment_order_refusals). */
export async function insertRefusal(sql: Sql, refusal: OrderRefusalRecord): Promise<void> {
  await sql.query(
    `INSERT INTO payment_order_refusals (order_id, ordered_by, payer_id, code, reason, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      refusal.orderId,
      refusal.orderedBy,
      refusal.payerId,
      refusal.code,
      refusal.reason,
      refusal.createdAt.toISOString(),
    ],
  );
}

/**
 * Records the merchant bank's signed answer and the order's final state, if
 * the order is still 'sending', and returns the order as it is now; undefined
 * when it was not (another delivery closed it first). The UPDATE locks the
 * row: a concurrent close waits for this one, then finds the state changed.
 */
export async function finishOrder(
  sql: Sql,
  id: string,
  outcome: { state: 'completed' | 'refused'; refusalCode: string | null; answer: string },
  now: Date,
): Promise<PaymentOrder | undefined> {
  const { rows } = await sql.query<OrderRow>(
    `UPDATE payment_orders SET state = $2, refusal_code = $3, answer = $4, last_error = NULL, updated_at = $5
     WHERE id = $1 AND state = 'sending' RETURNING ${columns}`,
    [id, outcome.state, outcome.refusalCode, outcome.answer, now.toISOString()],
  );
  return rows[0] === undefined ? undefined : orderFromRow(rows[0]);
}

/** Counts a failed delivery attempt and schedules the next one. */
export async function recordAttemptFailure(
  sql: Sql,
  id: string,
  error: string,
  nextAttemptAt: Date,
  now: Date,
): Promise<void> {
  await sql.query(
    `UPDATE payment_orders SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, updated_at = $4
     WHERE id = $1 AND state = 'sending'`,
    [id, error.slice(0, 500), nextAttemptAt.toISOString(), now.toISOString()],
  );
}

/** Ids of orders being delivered whose next attempt is due, oldest first. */
export async function selectDueOrders(sql: Sql, now: Date, limit: number): Promise<string[]> {
  const { rows } = await sql.query<{ id: string }>(
    `SELECT id FROM payment_orders WHERE state = 'sending' AND next_attempt_at <= $1
     ORDER BY next_attempt_at LIMIT $2`,
    [now.toISOString(), limit],
  );
  return rows.map((row) => row.id);
}

export interface InFlight {
  readonly creditorBank: string;
  readonly ledger: string;
  readonly count: number;
  readonly amount: bigint;
  /** Of those, orders whose deadline passed before `overdueBefore`: the peer has not answered for long. */
  readonly overdue: number;
}

/**
 * Orders still being delivered, summed per creditor bank and ledger (for audit and settlement):
 * payment orders, and refund orders paying another bank's customer back.
 */
export async function selectInFlight(sql: Sql, overdueBefore: Date): Promise<InFlight[]> {
  const { rows } = await sql.query<{
    creditor_bank: string;
    ledger: string;
    count: string;
    amount: string;
    overdue: string;
  }>(
    `SELECT creditor_bank, ledger, count(*)::text AS count, sum(amount)::text AS amount,
       (count(*) FILTER (WHERE deadline < $1))::text AS overdue
     FROM (SELECT creditor_bank, ledger, amount, deadline FROM payment_orders WHERE state = 'sending'
           UNION ALL
           SELECT original_bank, ledger, amount, deadline FROM refund_orders WHERE state = 'sending') AS o
     GROUP BY creditor_bank, ledger ORDER BY 1, 2`,
    [overdueBefore.toISOString()],
  );
  return rows.map((row) => ({
    creditorBank: row.creditor_bank,
    ledger: row.ledger,
    count: Number(row.count),
    amount: BigInt(row.amount),
    overdue: Number(row.overdue),
  }));
}
