import {
  type Amount,
  assertOrderTransition,
  createAmount,
  isOrderState,
  type OrderEventKind,
  type OrderState,
  type OrderStepResult,
  type ShipmentStatus,
  shipmentStatusOf,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { toDate } from '../cart/store.ts';

export interface OrderLine {
  readonly lineNumber: number;
  readonly productId: string;
  readonly name: string;
  readonly unitPrice: Amount;
  readonly quantity: number;
  readonly lineTotal: Amount;
}

/** The order's payment at the FSP, as the shop knows it. */
export interface OrderPayment {
  /** The iMS transaction id the merchant signs; the FSP's payment id. */
  readonly transactionId: string;
  readonly amount: Amount;
  /** The payer's party id the merchant's signed request named; null until a request was built. */
  readonly payer: string | null;
  readonly fspStatus: string | null;
  readonly securityLevel: string | null;
  readonly expiresAt: Date | null;
  readonly failureCode: string | null;
  readonly refund: { readonly id: string | null; readonly status: string; readonly updatedAt: Date } | null;
  readonly requestedAt: Date | null;
}

export interface Shipment {
  readonly status: ShipmentStatus;
  readonly carrier: string | null;
  readonly trackingReference: string | null;
  readonly authorisedAt: Date;
  readonly updatedAt: Date;
}

/** An order as the shop works with it: decoded once, with its lines, payment and shipment. */
export interface Order {
  readonly id: string;
  readonly seq: string;
  readonly cartId: string;
  readonly tokenHash: string;
  readonly state: OrderState;
  /** As given at checkout: an MSISDN or a party id. */
  readonly customer: string;
  readonly total: Amount;
  readonly description: string;
  readonly lines: readonly OrderLine[];
  readonly payment: OrderPayment;
  readonly shipment: Shipment | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** One step of an order's append-only history. */
export interface OrderEventRecord {
  readonly event: string;
  readonly fromState: string | null;
  readonly toState: string;
  readonly step: string;
  readonly actor: string;
  readonly detail: string | null;
  readonly notificationId: string | null;
  readonly at: Date;
}

interface OrderRow {
  order_id: string;
  seq: string;
  cart_id: string;
  token_sha256: string;
  state: string;
  customer: string;
  currency: string;
  total_minor: string;
  description: string;
  created_at: Date | string;
  updated_at: Date | string;
  transaction_id: string;
  payer: string | null;
  fsp_status: string | null;
  security_level: string | null;
  expires_at: Date | string | null;
  failure_code: string | null;
  refund_id: string | null;
  refund_status: string | null;
  refund_updated_at: Date | string | null;
  requested_at: Date | string | null;
  shipment_status: string | null;
  carrier: string | null;
  tracking_reference: string | null;
  authorised_at: Date | string | null;
  shipment_updated_at: Date | string | null;
}

const selectOrder = `SELECT o.order_id, o.seq::text AS seq, o.cart_id, o.token_sha256, o.state, o.customer, o.currency,
  o.total_minor::text AS total_minor, o.description, o.created_at, o.updated_at,
  p.transaction_id, p.payer, p.fsp_status, p.security_level, p.expires_at, p.failure_code,
  p.refund_id, p.refund_status, p.refund_updated_at, p.requested_at,
  s.status AS shipment_status, s.carrier, s.tracking_reference, s.authorised_at, s.updated_at AS shipment_updated_at
  FROM orders o JOIN payments p ON p.order_id = o.order_id LEFT JOIN shipments s ON s.order_id = o.order_id`;

function optionalDate(value: Date | string | null): Date | null {
  return value === null ? null : toDate(value);
}

function decodeOrder(row: OrderRow, lines: readonly OrderLine[]): Order {
  if (!isOrderState(row.state))
    throw new Error(`assertion failed: order ${row.order_id} has state ${row.state}`);
  const total = createAmount(row.currency, BigInt(row.total_minor));
  const shipment: Shipment | null =
    row.shipment_status === null || row.authorised_at === null || row.shipment_updated_at === null
      ? null
      : Object.freeze({
          status: row.shipment_status as ShipmentStatus,
          carrier: row.carrier,
          trackingReference: row.tracking_reference,
          authorisedAt: toDate(row.authorised_at),
          updatedAt: toDate(row.shipment_updated_at),
        });
  // The shipment row follows the state table: one exists exactly when the state names a shipment status.
  if ((shipment?.status ?? null) !== shipmentStatusOf(row.state))
    throw new Error(
      `assertion failed: order ${row.order_id} in ${row.state} has shipment ${shipment?.status}`,
    );
  return Object.freeze({
    id: row.order_id,
    seq: row.seq,
    cartId: row.cart_id,
    tokenHash: row.token_sha256,
    state: row.state,
    customer: row.customer,
    total,
    description: row.description,
    lines,
    payment: Object.freeze({
      transactionId: row.transaction_id,
      amount: total,
      payer: row.payer,
      fspStatus: row.fsp_status,
      securityLevel: row.security_level,
      expiresAt: optionalDate(row.expires_at),
      failureCode: row.failure_code,
      refund:
        row.refund_status === null || row.refund_updated_at === null
          ? null
          : Object.freeze({
              id: row.refund_id,
              status: row.refund_status,
              updatedAt: toDate(row.refund_updated_at),
            }),
      requestedAt: optionalDate(row.requested_at),
    }),
    shipment,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  });
}

async function linesOf(sql: Sql, orderId: string, currency: string): Promise<OrderLine[]> {
  const { rows } = await sql.query<{
    line_number: number;
    product_id: string;
    name: string;
    unit_price_minor: string;
    quantity: number;
    line_total_minor: string;
  }>(
    `SELECT line_number, product_id, name, unit_price_minor::text AS unit_price_minor, quantity,
       line_total_minor::text AS line_total_minor
     FROM order_lines WHERE order_id = $1 ORDER BY line_number`,
    [orderId],
  );
  return rows.map((row) =>
    Object.freeze({
      lineNumber: Number(row.line_number),
      productId: row.product_id,
      name: row.name,
      unitPrice: createAmount(currency, BigInt(row.unit_price_minor)),
      quantity: Number(row.quantity),
      lineTotal: createAmount(currency, BigInt(row.line_total_minor)),
    }),
  );
}

/** The order; `lock` holds its row until the transaction ends (every step takes it first). */
export async function findOrder(
  sql: Sql,
  orderId: string,
  options: { lock?: boolean } = {},
): Promise<Order | undefined> {
  const { rows } = await sql.query<OrderRow>(
    `${selectOrder} WHERE o.order_id = $1${options.lock ? ' FOR UPDATE OF o' : ''}`,
    [orderId],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return decodeOrder(row, await linesOf(sql, row.order_id, row.currency));
}

/** The id of the order whose payment has this transaction id, if it is one of the shop's. */
export async function orderIdOfTransaction(sql: Sql, transactionId: string): Promise<string | undefined> {
  const { rows } = await sql.query<{ order_id: string }>(
    'SELECT order_id FROM payments WHERE transaction_id = $1',
    [transactionId],
  );
  return rows[0]?.order_id;
}

export interface NewOrder {
  readonly id: string;
  readonly cartId: string;
  readonly tokenHash: string;
  readonly customer: string;
  readonly total: Amount;
  readonly description: string;
  readonly transactionId: string;
  readonly lines: readonly Omit<OrderLine, 'lineNumber'>[];
}

/** Inserts the order in its initial state, its lines, its payment and the first entry of its history. */
export async function insertOrder(sql: Sql, order: NewOrder, state: OrderState, now: Date): Promise<void> {
  const at = now.toISOString();
  const sum = order.lines.reduce((total, line) => total + line.lineTotal.minor, 0n);
  if (sum !== order.total.minor) throw new Error('assertion failed: the order total is the sum of its lines');
  await sql.query(
    `INSERT INTO orders (order_id, cart_id, token_sha256, state, customer, currency, total_minor, description,
       created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
    [
      order.id,
      order.cartId,
      order.tokenHash,
      state,
      order.customer,
      order.total.currency,
      order.total.minor,
      order.description,
      at,
    ],
  );
  for (const [index, line] of order.lines.entries()) {
    await sql.query(
      `INSERT INTO order_lines (order_id, line_number, product_id, name, unit_price_minor, quantity, line_total_minor)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        order.id,
        index + 1,
        line.productId,
        line.name,
        line.unitPrice.minor,
        line.quantity,
        line.lineTotal.minor,
      ],
    );
  }
  await sql.query(
    `INSERT INTO payments (transaction_id, order_id, currency, amount_minor, updated_at)
     VALUES ($1, $2, $3, $4, $5)`,
    [order.transactionId, order.id, order.total.currency, order.total.minor, at],
  );
  await insertOrderEvent(sql, order.id, {
    event: 'checked_out',
    fromState: null,
    toState: state,
    step: 'iMS §2.1: the shopping cart becomes an order',
    actor: 'customer',
    detail: null,
    notificationId: null,
    at: now,
  });
}

async function insertOrderEvent(sql: Sql, orderId: string, event: OrderEventRecord): Promise<void> {
  await sql.query(
    `INSERT INTO order_events (order_id, event, from_state, to_state, step, actor, detail, notification_id, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      orderId,
      event.event,
      event.fromState,
      event.toState,
      event.step,
      event.actor,
      event.detail,
      event.notificationId,
      event.at.toISOString(),
    ],
  );
}

export interface StepRecord {
  readonly actor: 'shop' | 'fsp' | 'merchant';
  readonly detail?: string | undefined;
  readonly notificationId?: string | undefined;
  /** For advance_shipment to `shipped`: who carries it and under which reference. */
  readonly carrier?: string | undefined;
  readonly trackingReference?: string | undefined;
}

/**
 * Persists one changed step (`stepOrder`'s result) in the caller's
 * transaction: the new state (guarded by the state it was read in), the
 * history entry, and the effects: open the shipment (`authorise_shipment`) or
 * move it on (`advance_shipment`). `hold_for_operator` is the history entry
 * with its detail; the caller alerts the operator.
 */
export async function persistOrderStep(
  sql: Sql,
  order: Order,
  event: OrderEventKind,
  result: OrderStepResult,
  record: StepRecord,
  now: Date,
): Promise<void> {
  if (!result.changed || result.from !== order.state)
    throw new Error('assertion failed: a persisted step changes the state it was computed from');
  assertOrderTransition(result.from, result.next);
  const at = now.toISOString();
  const updated = await sql.query(
    'UPDATE orders SET state = $3, updated_at = $4 WHERE order_id = $1 AND state = $2',
    [order.id, result.from, result.next, at],
  );
  if (updated.rowCount !== 1) throw new Error(`assertion failed: order ${order.id} changed under its lock`);
  await insertOrderEvent(sql, order.id, {
    event,
    fromState: result.from,
    toState: result.next,
    step: result.step,
    actor: record.actor,
    detail: record.detail ?? null,
    notificationId: record.notificationId ?? null,
    at: now,
  });
  const shipmentStatus = shipmentStatusOf(result.next);
  for (const effect of result.effects) {
    switch (effect) {
      case 'authorise_shipment':
        await sql.query(
          `INSERT INTO shipments (order_id, status, authorised_at, updated_at) VALUES ($1, $2, $3, $3)`,
          [order.id, shipmentStatus, at],
        );
        break;
      case 'advance_shipment': {
        const moved = await sql.query(
          `UPDATE shipments SET status = $2, updated_at = $3,
             carrier = COALESCE($4, carrier), tracking_reference = COALESCE($5, tracking_reference)
           WHERE order_id = $1`,
          [order.id, shipmentStatus, at, record.carrier ?? null, record.trackingReference ?? null],
        );
        if (moved.rowCount !== 1)
          throw new Error(`assertion failed: order ${order.id} has a shipment to advance`);
        break;
      }
      case 'hold_for_operator':
        break;
    }
  }
}

/** What the FSP said about the order's payment (its answer to the request, or a notification). */
export async function recordPaymentStatus(
  sql: Sql,
  transactionId: string,
  status: {
    fspStatus: string;
    failureCode?: string | undefined;
    securityLevel?: string | undefined;
    expiresAt?: string | undefined;
    requested?: boolean;
  },
  now: Date,
): Promise<void> {
  await sql.query(
    `UPDATE payments SET fsp_status = $2, failure_code = COALESCE($3, failure_code),
       security_level = COALESCE($4, security_level), expires_at = COALESCE($5, expires_at),
       requested_at = CASE WHEN $6 THEN COALESCE(requested_at, $7) ELSE requested_at END, updated_at = $7
     WHERE transaction_id = $1`,
    [
      transactionId,
      status.fspStatus,
      status.failureCode ?? null,
      status.securityLevel ?? null,
      status.expiresAt ?? null,
      status.requested === true,
      now.toISOString(),
    ],
  );
}

/** The shop's own reason a request failed (the FSP's code, or that its window ran out). */
export async function recordPaymentFailure(sql: Sql, transactionId: string, code: string, now: Date) {
  await sql.query('UPDATE payments SET failure_code = $2, updated_at = $3 WHERE transaction_id = $1', [
    transactionId,
    code,
    now.toISOString(),
  ]);
}

/**
 * Records the payer the merchant's request names, before it is sent. A payer
 * once recorded never changes: a later attempt asks that party (not whoever
 * the phone number points at by then).
 */
export async function recordPayer(sql: Sql, transactionId: string, payer: string): Promise<void> {
  const updated = await sql.query(
    'UPDATE payments SET payer = $2 WHERE transaction_id = $1 AND (payer IS NULL OR payer = $2)',
    [transactionId, payer],
  );
  if (updated.rowCount !== 1) throw new Error('assertion failed: the payer of a request never changes');
}

export async function recordRefund(
  sql: Sql,
  transactionId: string,
  refund: { id: string | null; status: string },
  now: Date,
): Promise<void> {
  await sql.query(
    `UPDATE payments SET refund_id = COALESCE($2, refund_id), refund_status = $3, refund_updated_at = $4, updated_at = $4
     WHERE transaction_id = $1`,
    [transactionId, refund.id, refund.status, now.toISOString()],
  );
}

export async function listOrders(
  sql: Sql,
  query: { states?: readonly OrderState[] | undefined; beforeSeq?: string | undefined; limit: number },
): Promise<Order[]> {
  const { rows } = await sql.query<OrderRow>(
    `${selectOrder}
     WHERE ($1::text[] IS NULL OR o.state = ANY($1::text[])) AND ($2::bigint IS NULL OR o.seq < $2::bigint)
     ORDER BY o.seq DESC LIMIT $3`,
    [query.states === undefined ? null : [...query.states], query.beforeSeq ?? null, query.limit],
  );
  const orders: Order[] = [];
  for (const row of rows) orders.push(decodeOrder(row, await linesOf(sql, row.order_id, row.currency)));
  return orders;
}

export async function listOrderEvents(sql: Sql, orderId: string): Promise<OrderEventRecord[]> {
  const { rows } = await sql.query<{
    event: string;
    from_state: string | null;
    to_state: string;
    step: string;
    actor: string;
    detail: string | null;
    notification_id: string | null;
    created_at: Date | string;
  }>(
    `SELECT event, from_state, to_state, step, actor, detail, notification_id::text AS notification_id, created_at
     FROM order_events WHERE order_id = $1 ORDER BY id`,
    [orderId],
  );
  return rows.map((row) =>
    Object.freeze({
      event: row.event,
      fromState: row.from_state,
      toState: row.to_state,
      step: row.step,
      actor: row.actor,
      detail: row.detail,
      notificationId: row.notification_id,
      at: toDate(row.created_at),
    }),
  );
}
