import { isPaymentState, type PaymentState } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';

/**
 * The operator's view of payments: pages of them newest first, counts by
 * state, and what one payment's effects did (its outbox rows and its log
 * entry). Read-only; the protocol's own reads stay in store.ts.
 */

export interface PaymentSummary {
  readonly id: string;
  readonly procedure: string;
  readonly state: PaymentState;
  readonly securityLevel: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly merchant: { readonly id: string; readonly displayName: string };
  readonly customer: { readonly id: string; readonly displayName: string };
  readonly failureCode: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly expiresAt: Date;
}

/** Where a page ends: the next page starts after this payment (newest first). */
export interface PaymentPageCursor {
  readonly createdAt: Date;
  readonly id: string;
}

interface SummaryRow {
  id: string;
  procedure: string;
  state: string;
  security_level: string;
  currency: string;
  amount_minor: string;
  failure_code: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  expires_at: Date | string;
  merchant_id: string;
  merchant_name: string;
  customer_id: string;
  customer_name: string;
}

function toSummary(row: SummaryRow): PaymentSummary {
  if (!isPaymentState(row.state)) throw new Error(`assertion failed: stored payment state ${row.state}`);
  return {
    id: row.id,
    procedure: row.procedure,
    state: row.state,
    securityLevel: row.security_level,
    currency: row.currency,
    amountMinor: BigInt(row.amount_minor),
    merchant: { id: row.merchant_id, displayName: row.merchant_name },
    customer: { id: row.customer_id, displayName: row.customer_name },
    failureCode: row.failure_code,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    expiresAt: new Date(row.expires_at),
  };
}

/** One page of payments, newest first, optionally only those in `states`, after `after`. */
export async function listPayments(
  sql: Sql,
  query: {
    readonly states: readonly PaymentState[] | undefined;
    readonly limit: number;
    readonly after: PaymentPageCursor | undefined;
  },
): Promise<PaymentSummary[]> {
  const { rows } = await sql.query<SummaryRow>(
    `SELECT p.id, p.procedure, p.state, p.security_level, p.currency, p.amount_minor::text AS amount_minor,
       p.failure_code, p.created_at, p.updated_at, p.expires_at,
       m.id AS merchant_id, m.display_name AS merchant_name, c.id AS customer_id, c.display_name AS customer_name
     FROM payments p JOIN parties m ON m.id = p.merchant_id JOIN parties c ON c.id = p.customer_id
     WHERE ($1::text[] IS NULL OR p.state = ANY($1::text[]))
       AND ($2::timestamptz IS NULL OR (p.created_at, p.id) < ($2::timestamptz, $3::text))
     ORDER BY p.created_at DESC, p.id DESC LIMIT $4`,
    [
      query.states === undefined ? null : [...query.states],
      query.after?.createdAt.toISOString() ?? null,
      query.after?.id ?? '',
      query.limit,
    ],
  );
  return rows.map(toSummary);
}

/** How many payments are in each state now (states without any are absent). */
export async function countPaymentsByState(sql: Sql): Promise<Map<PaymentState, number>> {
  const { rows } = await sql.query<{ state: string; count: string }>(
    'SELECT state, count(*)::text AS count FROM payments GROUP BY state',
  );
  const counts = new Map<PaymentState, number>();
  for (const row of rows) {
    if (!isPaymentState(row.state)) throw new Error(`assertion failed: stored payment state ${row.state}`);
    counts.set(row.state, Number(row.count));
  }
  return counts;
}

/** One effect of a payment as the outbox delivers it (the payload stays in the database: it may hold secrets). */
export interface PaymentEffectRecord {
  readonly kind: string;
  readonly attempts: number;
  readonly createdAt: Date;
  readonly nextAttemptAt: Date;
  readonly deliveredAt: Date | null;
  readonly abandonedAt: Date | null;
  readonly lastError: string | null;
}

export async function paymentEffectsOf(sql: Sql, paymentId: string): Promise<PaymentEffectRecord[]> {
  const { rows } = await sql.query<{
    kind: string;
    attempts: number;
    created_at: Date | string;
    next_attempt_at: Date | string;
    delivered_at: Date | string | null;
    abandoned_at: Date | string | null;
    last_error: string | null;
  }>(
    `SELECT kind, attempts, created_at, next_attempt_at, delivered_at, abandoned_at, last_error
       FROM outbox WHERE payment_id = $1 ORDER BY id`,
    [paymentId],
  );
  const dateOrNull = (value: Date | string | null) => (value === null ? null : new Date(value));
  return rows.map((row) => ({
    kind: row.kind,
    attempts: row.attempts,
    createdAt: new Date(row.created_at),
    nextAttemptAt: new Date(row.next_attempt_at),
    deliveredAt: dateOrNull(row.delivered_at),
    abandonedAt: dateOrNull(row.abandoned_at),
    lastError: row.last_error,
  }));
}

/** The payment's entry in the transaction log: its leaf index once submitted, and whether its receipt is in. */
export async function logEntryStateOf(
  sql: Sql,
  paymentId: string,
): Promise<{ readonly index: bigint | null; readonly receipted: boolean } | undefined> {
  const { rows } = await sql.query<{ log_index: string | null; receipted: boolean }>(
    `SELECT log_index::text AS log_index, receipt IS NOT NULL AS receipted FROM log_entries WHERE payment_id = $1`,
    [paymentId],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return { index: row.log_index === null ? null : BigInt(row.log_index), receipted: row.receipted };
}
