import { assert, assertTransition, isPaymentState, MpayError, type PaymentState } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';

export interface PaymentRecord {
  id: string;
  merchantId: string;
  customerId: string;
  procedure: string;
  currency: string;
  amountMinor: bigint;
  securityLevel: string;
  state: PaymentState;
  message: string;
  pushMessage: string | null;
  receipt: string | null;
  failureCode: string | null;
  expiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

interface PaymentRow {
  id: string;
  merchant_id: string;
  customer_id: string;
  procedure: string;
  currency: string;
  amount_minor: string;
  security_level: string;
  state: string;
  message: string;
  push_message: string | null;
  receipt: string | null;
  failure_code: string | null;
  expires_at: Date | string;
  created_at: Date | string;
  updated_at: Date | string;
}

const columns = `id, merchant_id, customer_id, procedure, currency, amount_minor::text AS amount_minor, security_level,
  state, message, push_message, receipt, failure_code, expires_at, created_at, updated_at`;

function toRecord(row: PaymentRow): PaymentRecord {
  assert(isPaymentState(row.state), `stored payment state ${row.state}`);
  return {
    id: row.id,
    merchantId: row.merchant_id,
    customerId: row.customer_id,
    procedure: row.procedure,
    currency: row.currency,
    amountMinor: BigInt(row.amount_minor),
    securityLevel: row.security_level,
    state: row.state,
    message: row.message,
    pushMessage: row.push_message,
    receipt: row.receipt,
    failureCode: row.failure_code,
    expiresAt: new Date(row.expires_at),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export type NewPayment = Pick<
  PaymentRecord,
  | 'id'
  | 'merchantId'
  | 'customerId'
  | 'procedure'
  | 'currency'
  | 'amountMinor'
  | 'securityLevel'
  | 'message'
  | 'expiresAt'
> & { state: PaymentState };

/** Inserts a payment and its first event; PAYMENT_EXISTS-style replays surface as MESSAGE_REPLAYED. */
export async function insertPayment(sql: Sql, payment: NewPayment): Promise<void> {
  const inserted = await sql.query(
    `INSERT INTO payments (id, merchant_id, customer_id, procedure, currency, amount_minor, security_level, state, message, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
    [
      payment.id,
      payment.merchantId,
      payment.customerId,
      payment.procedure,
      payment.currency,
      payment.amountMinor,
      payment.securityLevel,
      payment.state,
      payment.message,
      payment.expiresAt.toISOString(),
    ],
  );
  if (inserted.rowCount === 0) throw new MpayError('MESSAGE_REPLAYED', 'transactionId');
  await appendEvent(sql, payment.id, 1, null, payment.state, null);
}

async function appendEvent(
  sql: Sql,
  paymentId: string,
  sequence: number,
  from: PaymentState | null,
  to: PaymentState,
  detail: string | null,
): Promise<void> {
  await sql.query(
    'INSERT INTO payment_events (payment_id, sequence, from_state, to_state, detail) VALUES ($1, $2, $3, $4, $5)',
    [paymentId, sequence, from, to, detail],
  );
}

export async function findPayment(
  sql: Sql,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<PaymentRecord> {
  const { rows } = await sql.query<PaymentRow>(
    `SELECT ${columns} FROM payments WHERE id = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  );
  const row = rows[0];
  if (row === undefined) throw new MpayError('PAYMENT_UNKNOWN');
  return toRecord(row);
}

export interface TransitionChanges {
  message?: string;
  pushMessage?: string;
  receipt?: string;
  failureCode?: string;
  detail?: string;
}

/**
 * Moves a payment from `from` to `to` inside the caller's transaction: locks the
 * row, guards the transition against the state machine and against the state
 * actually stored, updates the row and appends the event.
 */
export async function transitionPayment(
  sql: Sql,
  paymentId: string,
  from: PaymentState,
  to: PaymentState,
  changes: TransitionChanges = {},
): Promise<PaymentRecord> {
  const current = await findPayment(sql, paymentId, { forUpdate: true });
  if (current.state !== from)
    throw new MpayError('PAYMENT_STATE_INVALID', `expected ${from}, got ${current.state}`);
  assertTransition(from, to);
  const { rows } = await sql.query<PaymentRow>(
    `UPDATE payments SET state = $2, message = COALESCE($3, message), push_message = COALESCE($4, push_message),
       receipt = COALESCE($5, receipt), failure_code = COALESCE($6, failure_code), updated_at = now()
     WHERE id = $1 RETURNING ${columns}`,
    [
      paymentId,
      to,
      changes.message ?? null,
      changes.pushMessage ?? null,
      changes.receipt ?? null,
      changes.failureCode ?? null,
    ],
  );
  const sequence = await nextSequence(sql, paymentId);
  await appendEvent(sql, paymentId, sequence, from, to, changes.detail ?? null);
  return toRecord(rows[0]!);
}

async function nextSequence(sql: Sql, paymentId: string): Promise<number> {
  const { rows } = await sql.query<{ next: number }>(
    'SELECT COALESCE(MAX(sequence), 0)::int + 1 AS next FROM payment_events WHERE payment_id = $1',
    [paymentId],
  );
  return rows[0]!.next;
}

export interface PaymentEvent {
  sequence: number;
  fromState: string | null;
  toState: PaymentState;
  detail: string | null;
  createdAt: string;
}

export async function listPaymentEvents(sql: Sql, paymentId: string): Promise<PaymentEvent[]> {
  const { rows } = await sql.query<{
    sequence: number;
    from_state: string | null;
    to_state: string;
    detail: string | null;
    created_at: Date | string;
  }>(
    'SELECT sequence, from_state, to_state, detail, created_at FROM payment_events WHERE payment_id = $1 ORDER BY sequence',
    [paymentId],
  );
  return rows.map((row) => {
    assert(isPaymentState(row.to_state), `stored event state ${row.to_state}`);
    return {
      sequence: row.sequence,
      fromState: row.from_state,
      toState: row.to_state,
      detail: row.detail,
      createdAt: new Date(row.created_at).toISOString(),
    };
  });
}

/** Payments the device of `customerId` still has to answer (sent again when it reconnects). */
export async function pendingPushes(sql: Sql, customerId: string): Promise<PaymentRecord[]> {
  const { rows } = await sql.query<PaymentRow>(
    `SELECT ${columns} FROM payments WHERE customer_id = $1 AND state = 'awaiting_customer_signature' AND expires_at > now()
     ORDER BY created_at LIMIT 20`,
    [customerId],
  );
  return rows.map(toRecord);
}

/** Payments whose request expired before the customer answered. */
export async function expiredPaymentIds(sql: Sql, limit: number): Promise<string[]> {
  const { rows } = await sql.query<{ id: string }>(
    `SELECT id FROM payments WHERE state IN ('merchant_request_verified', 'awaiting_customer_signature') AND expires_at <= now()
     ORDER BY expires_at LIMIT $1`,
    [limit],
  );
  return rows.map((row) => row.id);
}

/** Payments authorised by the customer whose bank transfer has no recorded outcome (crash, bank down). */
export async function unsettledPaymentIds(
  sql: Sql,
  olderThanSeconds: number,
  limit: number,
): Promise<string[]> {
  const { rows } = await sql.query<{ id: string }>(
    `SELECT id FROM payments WHERE state = 'customer_signature_verified'
       AND updated_at <= now() - make_interval(secs => $1) ORDER BY updated_at LIMIT $2`,
    [olderThanSeconds, limit],
  );
  return rows.map((row) => row.id);
}
