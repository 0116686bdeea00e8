import {
  isRefundState,
  MpayError,
  type RefundEventKind,
  type RefundState,
  reservingRefundStates,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';

/** A refund as the gateway works with it: the row decoded once. */
export interface Refund {
  readonly id: string;
  readonly paymentId: string;
  readonly merchantId: string;
  readonly customerId: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly reason: string | null;
  readonly requestHash: string;
  readonly state: RefundState;
  /** The merchant's compact JWS over merchantRefundContent. */
  readonly authorisation: string;
  readonly bankAnswer: string | null;
  readonly receipt: string | null;
  readonly outcome: string | null;
  readonly failureCode: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

interface RefundRow {
  id: string;
  payment_id: string;
  merchant_id: string;
  customer_id: string;
  currency: string;
  amount_minor: string;
  reason: string | null;
  request_hash: string;
  state: string;
  authorisation: string;
  bank_answer: string | null;
  receipt: string | null;
  outcome: string | null;
  failure_code: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const refundColumns = `id, payment_id, merchant_id, customer_id, currency, amount_minor::text AS amount_minor, reason,
  request_hash, state, authorisation, bank_answer, receipt, outcome, failure_code, created_at, updated_at`;

function toRefund(row: RefundRow): Refund {
  if (!isRefundState(row.state)) throw new Error(`assertion failed: stored refund state ${row.state}`);
  return Object.freeze({
    id: row.id,
    paymentId: row.payment_id,
    merchantId: row.merchant_id,
    customerId: row.customer_id,
    currency: row.currency,
    amountMinor: BigInt(row.amount_minor),
    reason: row.reason,
    requestHash: row.request_hash,
    state: row.state,
    authorisation: row.authorisation,
    bankAnswer: row.bank_answer,
    receipt: row.receipt,
    outcome: row.outcome,
    failureCode: row.failure_code,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  });
}

/** The refund, or undefined. `lock` takes its row lock for a transition. */
export async function selectRefund(
  sql: Sql,
  id: string,
  options: { lock?: boolean } = {},
): Promise<Refund | undefined> {
  const { rows } = await sql.query<RefundRow>(
    `SELECT ${refundColumns} FROM refunds WHERE id = $1${options.lock === true ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return rows[0] === undefined ? undefined : toRefund(rows[0]);
}

/** The refund, or REFUND_UNKNOWN. */
export async function findRefund(sql: Sql, id: string, options: { lock?: boolean } = {}): Promise<Refund> {
  const refund = await selectRefund(sql, id, options);
  if (refund === undefined) throw new MpayError('REFUND_UNKNOWN');
  return refund;
}

/** A payment's refunds, newest first, at most `limit` of them. */
export async function listRefundsOfPayment(sql: Sql, paymentId: string, limit: number): Promise<Refund[]> {
  const { rows } = await sql.query<RefundRow>(
    `SELECT ${refundColumns} FROM refunds WHERE payment_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
    [paymentId, limit],
  );
  return rows.map(toRefund);
}

/**
 * What the refunds of a payment reserve of its amount: every refund that
 * moved money or still may (reservingRefundStates). Read under the payment's
 * row lock, so that two refunds of one payment are decided one after the other.
 */
export async function reservedByRefunds(sql: Sql, paymentId: string): Promise<bigint> {
  const { rows } = await sql.query<{ amount: string }>(
    `SELECT COALESCE(sum(amount_minor), 0)::text AS amount FROM refunds WHERE payment_id = $1 AND state = ANY($2)`,
    [paymentId, reservingRefundStates],
  );
  return BigInt(rows[0]?.amount ?? '0');
}

/** What completed refunds gave back of a payment: its public status (refunded, partially refunded) rests on it. */
export async function refundedOf(sql: Sql, paymentId: string): Promise<bigint> {
  const { rows } = await sql.query<{ amount: string }>(
    `SELECT COALESCE(sum(amount_minor), 0)::text AS amount FROM refunds WHERE payment_id = $1 AND state = 'funds_returned'`,
    [paymentId],
  );
  return BigInt(rows[0]?.amount ?? '0');
}

export interface NewRefund {
  readonly id: string;
  readonly paymentId: string;
  readonly merchantId: string;
  readonly customerId: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly reason: string | null;
  readonly requestHash: string;
  readonly authorisation: string;
}

/** One effect for the outbox: kind and payload (the refund id is always in it). */
export interface RefundOutboxEntry {
  readonly kind: 'device_push' | 'webhook' | 'log_entry' | 'refund_order';
  readonly payload: Readonly<Record<string, unknown>>;
}

async function appendRefundEvent(
  sql: Sql,
  refundId: string,
  event: {
    from: RefundState | null;
    to: RefundState;
    event: RefundEventKind | null;
    step: string;
    detail: string | null;
    now: Date;
  },
): Promise<void> {
  await sql.query(
    `INSERT INTO refund_events (refund_id, sequence, from_state, to_state, event, step, detail, created_at)
     SELECT $1, COALESCE(MAX(sequence), 0) + 1, $2, $3, $4, $5, $6, $7 FROM refund_events WHERE refund_id = $1`,
    [refundId, event.from, event.to, event.event, event.step, event.detail, event.now.toISOString()],
  );
}

async function insertOutbox(
  sql: Sql,
  paymentId: string,
  outbox: readonly RefundOutboxEntry[],
  now: Date,
): Promise<void> {
  for (const entry of outbox) {
    await sql.query(
      'INSERT INTO outbox (payment_id, kind, payload, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $4)',
      [paymentId, entry.kind, JSON.stringify(entry.payload), now.toISOString()],
    );
  }
}

/** Inserts a refund in its first state with its first event and the outbox rows of its first effects. */
export async function insertRefund(
  sql: Sql,
  refund: NewRefund,
  first: { readonly next: RefundState; readonly step: string },
  outbox: readonly RefundOutboxEntry[],
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO refunds (id, payment_id, merchant_id, customer_id, currency, amount_minor, reason, request_hash,
       state, authorisation, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)`,
    [
      refund.id,
      refund.paymentId,
      refund.merchantId,
      refund.customerId,
      refund.currency,
      refund.amountMinor.toString(),
      refund.reason,
      refund.requestHash,
      first.next,
      refund.authorisation,
      now.toISOString(),
    ],
  );
  await appendRefundEvent(sql, refund.id, {
    from: null,
    to: first.next,
    event: null,
    step: first.step,
    detail: 'merchant refund verified',
    now,
  });
  await insertOutbox(sql, refund.paymentId, outbox, now);
}

/** What a refund's transition stores besides its state. */
export interface RefundChanges {
  readonly bankAnswer?: string | undefined;
  readonly receipt?: string | undefined;
  readonly outcome?: string | undefined;
  readonly failureCode?: string | undefined;
  readonly detail?: string | undefined;
}

/**
 * Persists one step of the refund protocol inside the caller's transaction,
 * on a refund read with `lock`: the new state and its changes, the event and
 * every effect as an outbox row. The state stored must still be the step's
 * `from` (paired assertion with the lock).
 */
export async function persistRefundStep(
  sql: Sql,
  refund: Refund,
  step: { from: RefundState; next: RefundState; step: string; event: RefundEventKind },
  changes: RefundChanges,
  outbox: readonly RefundOutboxEntry[],
  now: Date,
): Promise<void> {
  if (step.from !== refund.state)
    throw new Error('assertion failed: refund step computed on the locked state');
  const updated = await sql.query(
    `UPDATE refunds SET state = $2, bank_answer = COALESCE($3, bank_answer), receipt = COALESCE($4, receipt),
       outcome = COALESCE($5, outcome), failure_code = COALESCE($6, failure_code), updated_at = $7
     WHERE id = $1 AND state = $8`,
    [
      refund.id,
      step.next,
      changes.bankAnswer ?? null,
      changes.receipt ?? null,
      changes.outcome ?? null,
      changes.failureCode ?? null,
      now.toISOString(),
      step.from,
    ],
  );
  if (updated.rowCount !== 1) throw new Error(`assertion failed: refund ${refund.id} is still ${step.from}`);
  await appendRefundEvent(sql, refund.id, {
    from: step.from,
    to: step.next,
    event: step.event,
    step: step.step,
    detail: changes.detail ?? null,
    now,
  });
  await insertOutbox(sql, refund.paymentId, outbox, now);
}

export interface RefundEventRecord {
  readonly toState: RefundState;
  readonly step: string;
  readonly detail: string | null;
  readonly createdAt: Date;
}

export async function listRefundEvents(sql: Sql, refundId: string): Promise<RefundEventRecord[]> {
  const { rows } = await sql.query<{
    to_state: string;
    step: string;
    detail: string | null;
    created_at: Date | string;
  }>('SELECT to_state, step, detail, created_at FROM refund_events WHERE refund_id = $1 ORDER BY sequence', [
    refundId,
  ]);
  return rows.map((row) => {
    if (!isRefundState(row.to_state))
      throw new Error(`assertion failed: stored refund state ${row.to_state}`);
    return { toState: row.to_state, step: row.step, detail: row.detail, createdAt: new Date(row.created_at) };
  });
}
