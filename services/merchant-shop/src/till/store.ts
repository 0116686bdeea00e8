import { type Amount, createAmount, type RefundStatus } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { toDate } from '../cart/store.ts';
import {
  assertSaleTransition,
  isSaleState,
  type SaleEventKind,
  type SaleState,
  type SaleStepResult,
} from './state-machine.ts';

/** A sale at the till as the shop stores it, decoded once. */
export interface Sale {
  /** Also the iMS transaction id of its QR code, its payment request and the FSP's payment. */
  readonly id: string;
  readonly seq: string;
  readonly state: SaleState;
  readonly amount: Amount;
  readonly reference: string | null;
  readonly qrPayload: string;
  readonly codeExpiresAt: Date;
  /** The customer who claimed the code (party id), from the FSP's signed claim. */
  readonly customer: string | null;
  readonly claimedAt: Date | null;
  readonly requestAttemptedAt: Date | null;
  readonly securityLevel: string | null;
  readonly paymentExpiresAt: Date | null;
  readonly failureCode: string | null;
  readonly notificationCursor: string;
  readonly paidAt: Date | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly idempotencyKey: string;
  readonly requestHash: string;
}

export interface SaleEventRecord {
  readonly event: string;
  readonly fromState: string;
  readonly toState: string;
  readonly actor: string;
  readonly detail: string | null;
  readonly notificationId: string | null;
  readonly at: Date;
}

interface SaleRow {
  sale_id: string;
  seq: string;
  idempotency_key: string;
  request_sha256: string;
  state: string;
  currency: string;
  amount_minor: string;
  reference: string | null;
  qr_payload: string;
  code_expires_at: Date | string;
  customer: string | null;
  claimed_at: Date | string | null;
  request_attempted_at: Date | string | null;
  security_level: string | null;
  payment_expires_at: Date | string | null;
  failure_code: string | null;
  notification_cursor: string;
  paid_at: Date | string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const selectSale = `SELECT sale_id, seq::text AS seq, idempotency_key, request_sha256, state, currency,
  amount_minor::text AS amount_minor, reference, qr_payload, code_expires_at, customer, claimed_at,
  request_attempted_at, security_level, payment_expires_at, failure_code,
  notification_cursor::text AS notification_cursor, paid_at, created_at, updated_at FROM till_sales`;

const dateOrNull = (value: Date | string | null) => (value === null ? null : toDate(value));

function decodeSale(row: SaleRow): Sale {
  if (!isSaleState(row.state)) throw new Error(`assertion failed: sale ${row.sale_id} has a known state`);
  return Object.freeze({
    id: row.sale_id,
    seq: row.seq,
    state: row.state,
    amount: createAmount(row.currency, BigInt(row.amount_minor)),
    reference: row.reference,
    qrPayload: row.qr_payload,
    codeExpiresAt: toDate(row.code_expires_at),
    customer: row.customer,
    claimedAt: dateOrNull(row.claimed_at),
    requestAttemptedAt: dateOrNull(row.request_attempted_at),
    securityLevel: row.security_level,
    paymentExpiresAt: dateOrNull(row.payment_expires_at),
    failureCode: row.failure_code,
    notificationCursor: row.notification_cursor,
    paidAt: dateOrNull(row.paid_at),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_sha256,
  });
}

/** The sale; `lock` holds its row until the transaction ends (every step takes it first). */
export async function findSale(
  sql: Sql,
  saleId: string,
  options: { lock?: boolean } = {},
): Promise<Sale | undefined> {
  const { rows } = await sql.query<SaleRow>(
    `${selectSale} WHERE sale_id = $1${options.lock ? ' FOR UPDATE' : ''}`,
    [saleId],
  );
  return rows[0] === undefined ? undefined : decodeSale(rows[0]);
}

export async function findSaleByIdempotencyKey(sql: Sql, key: string): Promise<Sale | undefined> {
  const { rows } = await sql.query<SaleRow>(`${selectSale} WHERE idempotency_key = $1`, [key]);
  return rows[0] === undefined ? undefined : decodeSale(rows[0]);
}

export interface NewSale {
  readonly id: string;
  readonly idempotencyKey: string;
  readonly requestHash: string;
  readonly amount: Amount;
  readonly reference: string | null;
  readonly qrPayload: string;
  readonly codeExpiresAt: Date;
}

/**
 * Stores a new sale unless its Idempotency-Key was used before (then
 * nothing is written): true if this call stored it.
 */
export async function insertSale(sql: Sql, sale: NewSale, state: SaleState, now: Date): Promise<boolean> {
  const inserted = await sql.query(
    `INSERT INTO till_sales (sale_id, idempotency_key, request_sha256, state, currency, amount_minor, reference,
       qr_payload, code_expires_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [
      sale.id,
      sale.idempotencyKey,
      sale.requestHash,
      state,
      sale.amount.currency,
      sale.amount.minor,
      sale.reference,
      sale.qrPayload,
      sale.codeExpiresAt.toISOString(),
      now.toISOString(),
    ],
  );
  return inserted.rowCount === 1;
}

/** Newest first; `beforeSeq` pages back; `states` filters. */
export async function listSales(
  sql: Sql,
  query: { states?: readonly SaleState[] | undefined; beforeSeq?: string | undefined; limit: number },
): Promise<Sale[]> {
  const { rows } = await sql.query<SaleRow>(
    `${selectSale}
     WHERE ($1::text[] IS NULL OR state = ANY($1::text[])) AND ($2::bigint IS NULL OR seq < $2::bigint)
     ORDER BY seq DESC LIMIT $3`,
    [query.states === undefined ? null : [...query.states], query.beforeSeq ?? null, query.limit],
  );
  return rows.map(decodeSale);
}

export async function listSaleEvents(sql: Sql, saleId: string): Promise<SaleEventRecord[]> {
  const { rows } = await sql.query<{
    event: string;
    from_state: string;
    to_state: string;
    actor: string;
    detail: string | null;
    notification_id: string | null;
    created_at: Date | string;
  }>(
    `SELECT event, from_state, to_state, actor, detail, notification_id::text AS notification_id, created_at
     FROM till_sale_events WHERE sale_id = $1 ORDER BY id`,
    [saleId],
  );
  return rows.map((row) =>
    Object.freeze({
      event: row.event,
      fromState: row.from_state,
      toState: row.to_state,
      actor: row.actor,
      detail: row.detail,
      notificationId: row.notification_id,
      at: toDate(row.created_at),
    }),
  );
}

/** What a step records besides the state: who, why, and the facts it learnt. */
export interface SaleStepRecord {
  readonly actor: 'fsp' | 'shop' | 'staff';
  readonly detail?: string | undefined;
  readonly notificationId?: string | undefined;
  readonly customer?: string | undefined;
  readonly claimedAt?: string | undefined;
  readonly securityLevel?: string | undefined;
  readonly paymentExpiresAt?: string | undefined;
  readonly failureCode?: string | undefined;
}

/**
 * Persists one changed step in the caller's transaction: the new state
 * (guarded by the state it was read in), what the step learnt, and the
 * history entry.
 */
export async function persistSaleStep(
  sql: Sql,
  sale: Sale,
  event: SaleEventKind,
  result: SaleStepResult,
  record: SaleStepRecord,
  now: Date,
): Promise<void> {
  if (!result.changed || result.from !== sale.state)
    throw new Error('assertion failed: a persisted step changes the state it was computed from');
  assertSaleTransition(result.from, result.next);
  const at = now.toISOString();
  const updated = await sql.query(
    `UPDATE till_sales SET state = $3, updated_at = $4,
       customer = COALESCE(customer, $5), claimed_at = COALESCE(claimed_at, $6),
       security_level = COALESCE($7, security_level), payment_expires_at = COALESCE($8, payment_expires_at),
       failure_code = COALESCE($9, failure_code),
       paid_at = CASE WHEN $3 = 'paid' THEN $4 ELSE paid_at END
     WHERE sale_id = $1 AND state = $2`,
    [
      sale.id,
      result.from,
      result.next,
      at,
      record.customer ?? null,
      record.claimedAt ?? null,
      record.securityLevel ?? null,
      record.paymentExpiresAt ?? null,
      record.failureCode ?? null,
    ],
  );
  if (updated.rowCount !== 1) throw new Error(`assertion failed: sale ${sale.id} changed under its lock`);
  await sql.query(
    `INSERT INTO till_sale_events (sale_id, event, from_state, to_state, actor, detail, notification_id, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      sale.id,
      event,
      result.from,
      result.next,
      record.actor,
      record.detail?.slice(0, 200) ?? null,
      record.notificationId ?? null,
      at,
    ],
  );
}

export async function markRequestAttempted(sql: Sql, saleId: string, now: Date): Promise<void> {
  await sql.query(
    'UPDATE till_sales SET request_attempted_at = COALESCE(request_attempted_at, $2) WHERE sale_id = $1',
    [saleId, now.toISOString()],
  );
}

export async function advanceNotificationCursor(sql: Sql, saleId: string, cursor: string): Promise<void> {
  await sql.query(
    'UPDATE till_sales SET notification_cursor = GREATEST(notification_cursor, $2::bigint) WHERE sale_id = $1',
    [saleId, cursor],
  );
}

/** The sale's payment notifications the shop stored after `afterId`, oldest first. */
export async function paymentNotificationsAfter(
  sql: Sql,
  saleId: string,
  afterId: string,
  limit: number,
): Promise<{ id: string; payment: Readonly<Record<string, unknown>> }[]> {
  const { rows } = await sql.query<{ id: string; object: string }>(
    `SELECT id::text AS id, object FROM notifications
     WHERE event = 'payment.updated' AND subject = $1 AND id > $2::bigint ORDER BY id LIMIT $3`,
    [saleId, afterId, limit],
  );
  return rows.map((row) => ({
    id: row.id,
    payment: Object.freeze(JSON.parse(row.object) as Record<string, unknown>),
  }));
}

/** A refund the staff asked for, of a till sale or a shop order. */
export interface TillRefund {
  readonly id: string;
  readonly paymentId: string;
  readonly kind: 'sale' | 'order';
  readonly amount: Amount;
  readonly reason: string | null;
  readonly status: RefundStatus;
  readonly failureCode: string | null;
  /** The FSP answered it (accepted or refused); until then the shop sends it again. */
  readonly submitted: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

interface RefundRow {
  refund_id: string;
  payment_id: string;
  kind: 'sale' | 'order';
  currency: string;
  amount_minor: string;
  reason: string | null;
  status: RefundStatus;
  failure_code: string | null;
  submitted: boolean;
  created_at: Date | string;
  updated_at: Date | string;
}

const selectRefund = `SELECT refund_id, payment_id, kind, currency, amount_minor::text AS amount_minor, reason,
  status, failure_code, submitted, created_at, updated_at FROM till_refunds`;

function decodeRefund(row: RefundRow): TillRefund {
  return Object.freeze({
    id: row.refund_id,
    paymentId: row.payment_id,
    kind: row.kind,
    amount: createAmount(row.currency, BigInt(row.amount_minor)),
    reason: row.reason,
    status: row.status,
    failureCode: row.failure_code,
    submitted: row.submitted === true,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  });
}

export async function findRefund(sql: Sql, refundId: string): Promise<TillRefund | undefined> {
  const { rows } = await sql.query<RefundRow>(`${selectRefund} WHERE refund_id = $1`, [refundId]);
  return rows[0] === undefined ? undefined : decodeRefund(rows[0]);
}

/** The refunds of these payments, oldest first. */
export async function listRefundsOf(sql: Sql, paymentIds: readonly string[]): Promise<TillRefund[]> {
  if (paymentIds.length === 0) return [];
  const { rows } = await sql.query<RefundRow>(
    `${selectRefund} WHERE payment_id = ANY($1::text[]) ORDER BY seq`,
    [[...paymentIds]],
  );
  return rows.map(decodeRefund);
}

export async function insertRefund(
  sql: Sql,
  refund: Pick<TillRefund, 'id' | 'paymentId' | 'kind' | 'amount' | 'reason'>,
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO till_refunds (refund_id, payment_id, kind, currency, amount_minor, reason, status, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'requested', $7, $7)`,
    [
      refund.id,
      refund.paymentId,
      refund.kind,
      refund.amount.currency,
      refund.amount.minor,
      refund.reason,
      now.toISOString(),
    ],
  );
}

export async function recordRefundAnswer(
  sql: Sql,
  refundId: string,
  answer: { status: RefundStatus; failureCode: string | null; submitted: boolean },
  now: Date,
): Promise<void> {
  await sql.query(
    `UPDATE till_refunds SET status = $2, failure_code = COALESCE($3, failure_code),
       submitted = submitted OR $4, updated_at = $5
     WHERE refund_id = $1`,
    [refundId, answer.status, answer.failureCode, answer.submitted, now.toISOString()],
  );
}
