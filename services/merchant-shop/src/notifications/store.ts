import { type Sql, together } from '@mpay/storage';
import { toDate } from '../cart/store.ts';

export type NotificationEvent = 'payment.updated' | 'trade.claimed' | 'refund.updated';

/**
 * What a notification did: `applied` (an order step), `ignored` (the
 * order's state ignores it: a late or repeated event), `refused` (the order's
 * state refuses it; kept for the operator), `recorded` (it steps no order).
 */
export type NotificationOutcome = 'applied' | 'ignored' | 'refused' | 'recorded';

interface NotificationBase {
  readonly id: string;
  readonly receivedAt: string;
  /** The FSP's compact JWS exactly as received (after verification). */
  readonly jws: string;
  /** The payment id (payment.updated; refund.updated's payment), or the claim's id. */
  readonly subject: string;
  readonly status: string | null;
  readonly orderId: string | null;
  readonly outcome: NotificationOutcome;
  readonly outcomeDetail: string | null;
}

/** A verified webhook as stored, with the event's object decoded once. */
export type Notification = NotificationBase &
  (
    | { readonly event: 'payment.updated'; readonly payment: Readonly<Record<string, unknown>> }
    | { readonly event: 'trade.claimed'; readonly claim: Readonly<Record<string, unknown>> }
    | { readonly event: 'refund.updated'; readonly refund: Readonly<Record<string, unknown>> }
  );

export type PaymentNotification = Extract<Notification, { readonly event: 'payment.updated' }>;

interface NotificationRow {
  id: string;
  jws: string;
  event: NotificationEvent;
  subject: string;
  status: string | null;
  object: string;
  order_id: string | null;
  outcome: NotificationOutcome;
  outcome_detail: string | null;
  received_at: Date | string;
}

function decode(row: NotificationRow): Notification {
  const base: NotificationBase = {
    id: row.id,
    receivedAt: toDate(row.received_at).toISOString(),
    jws: row.jws,
    subject: row.subject,
    status: row.status,
    orderId: row.order_id,
    outcome: row.outcome,
    outcomeDetail: row.outcome_detail,
  };
  const object = Object.freeze(JSON.parse(row.object) as Record<string, unknown>);
  switch (row.event) {
    case 'payment.updated':
      return Object.freeze({ ...base, event: row.event, payment: object });
    case 'trade.claimed':
      return Object.freeze({ ...base, event: row.event, claim: object });
    case 'refund.updated':
      return Object.freeze({ ...base, event: row.event, refund: object });
  }
}

const selectNotification = `SELECT id::text AS id, jws, event, subject, status, object, order_id, outcome,
  outcome_detail, received_at FROM notifications`;

/**
 * Stores a verified notification once: undefined if the same JWS was stored
 * before (a redelivery), or if its subject has `perSubjectMax` notifications
 * stored already (a bound on what one payment can make the shop keep). Inside
 * a transaction: the subject's lock (an advisory lock of this schema, held to
 * the commit) comes first, in the same round trip, so that two notifications
 * of one subject at once are counted one after the other; under READ
 * COMMITTED the count alone would not see the other's uncommitted row, and
 * both could pass the bound.
 */
export async function insertNotification(
  sql: Sql,
  notification: {
    jws: string;
    jwsHash: string;
    event: NotificationEvent;
    subject: string;
    status: string | null;
    object: Readonly<Record<string, unknown>>;
  },
  now: Date,
  perSubjectMax: number,
): Promise<string | undefined> {
  const [, { rows }] = await together([
    sql.query(
      "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '.notifications.' || $1, 0))",
      [`${notification.event}\n${notification.subject}`],
    ),
    sql.query<{ id: string }>(
      `INSERT INTO notifications (jws_sha256, jws, event, subject, status, object, outcome, received_at)
     SELECT $1, $2, $3, $4, $5, $6, 'recorded', $7
     WHERE (SELECT count(*) FROM notifications WHERE event = $3 AND subject = $4) < $8
     ON CONFLICT (jws_sha256) DO NOTHING RETURNING id::text AS id`,
      [
        notification.jwsHash,
        notification.jws,
        notification.event,
        notification.subject,
        notification.status,
        JSON.stringify(notification.object),
        now.toISOString(),
        perSubjectMax,
      ],
    ),
  ]);
  return rows[0]?.id;
}

export async function setNotificationOutcome(
  sql: Sql,
  id: string,
  outcome: { outcome: NotificationOutcome; detail?: string | undefined; orderId?: string | undefined },
): Promise<void> {
  await sql.query('UPDATE notifications SET outcome = $2, outcome_detail = $3, order_id = $4 WHERE id = $1', [
    id,
    outcome.outcome,
    outcome.detail?.slice(0, 200) ?? null,
    outcome.orderId ?? null,
  ]);
}

export async function findNotification(sql: Sql, id: string): Promise<Notification | undefined> {
  const { rows } = await sql.query<NotificationRow>(`${selectNotification} WHERE id = $1`, [id]);
  return rows[0] === undefined ? undefined : decode(rows[0]);
}

/** Newest first; `beforeId` pages back. */
export async function listNotifications(
  sql: Sql,
  query: {
    event?: NotificationEvent | undefined;
    subject?: string | undefined;
    status?: string | undefined;
    beforeId?: string | undefined;
    limit: number;
  },
): Promise<Notification[]> {
  const { rows } = await sql.query<NotificationRow>(
    `${selectNotification}
     WHERE ($1::text IS NULL OR event = $1) AND ($2::text IS NULL OR subject = $2)
       AND ($3::text IS NULL OR status = $3) AND ($4::bigint IS NULL OR id < $4::bigint)
     ORDER BY id DESC LIMIT $5`,
    [query.event ?? null, query.subject ?? null, query.status ?? null, query.beforeId ?? null, query.limit],
  );
  return rows.map(decode);
}
