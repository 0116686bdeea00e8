import { type Amount, createAmount } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';

/** A customer's claim of a till code, as stored: decoded once, typed. */
export interface TradeClaim {
  readonly transactionId: string;
  readonly merchantId: string;
  readonly customerId: string;
  readonly amount: Amount;
  /** The till code as the customer sent it: the merchant's signed offer. */
  readonly payload: string;
  readonly keyId: string;
  readonly codeExpiresAt: Date;
  /** The FSP's signed `trade.claimed` notification. */
  readonly notification: string;
  readonly claimedAt: Date;
  /** When the till's payment request for it was accepted; null before. */
  readonly requestedAt: Date | null;
}

interface TradeClaimRow {
  transaction_id: string;
  merchant_id: string;
  customer_id: string;
  currency: string;
  amount_minor: string;
  payload: string;
  key_id: string;
  code_expires_at: Date | string;
  notification: string;
  claimed_at: Date | string;
  requested_at: Date | string | null;
}

const columns = `transaction_id, merchant_id, customer_id, currency, amount_minor::text AS amount_minor, payload,
  key_id, code_expires_at, notification, claimed_at, requested_at`;

function toClaim(row: TradeClaimRow): TradeClaim {
  return Object.freeze({
    transactionId: row.transaction_id,
    merchantId: row.merchant_id,
    customerId: row.customer_id,
    amount: createAmount(row.currency, BigInt(row.amount_minor)),
    payload: row.payload,
    keyId: row.key_id,
    codeExpiresAt: new Date(row.code_expires_at),
    notification: row.notification,
    claimedAt: new Date(row.claimed_at),
    requestedAt: row.requested_at === null ? null : new Date(row.requested_at),
  });
}

export async function findClaim(sql: Sql, transactionId: string): Promise<TradeClaim | undefined> {
  const { rows } = await sql.query<TradeClaimRow>(
    `SELECT ${columns} FROM m_trade_claims WHERE transaction_id = $1`,
    [transactionId],
  );
  return rows[0] === undefined ? undefined : toClaim(rows[0]);
}

/** Inserts the claim unless one for its transaction id exists; true when this one was stored (the first claim). */
export async function insertClaim(sql: Sql, claim: TradeClaim): Promise<boolean> {
  const inserted = await sql.query(
    `INSERT INTO m_trade_claims (transaction_id, merchant_id, customer_id, currency, amount_minor, payload, key_id,
       code_expires_at, notification, claimed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (transaction_id) DO NOTHING`,
    [
      claim.transactionId,
      claim.merchantId,
      claim.customerId,
      claim.amount.currency,
      claim.amount.minor.toString(),
      claim.payload,
      claim.keyId,
      claim.codeExpiresAt.toISOString(),
      claim.notification,
      claim.claimedAt.toISOString(),
    ],
  );
  return inserted.rowCount === 1;
}

/** The till's payment request for the claim was accepted (in the request's transaction). */
export async function markClaimRequested(sql: Sql, transactionId: string, now: Date): Promise<void> {
  await sql.query(
    'UPDATE m_trade_claims SET requested_at = $2 WHERE transaction_id = $1 AND requested_at IS NULL',
    [transactionId, now.toISOString()],
  );
}

/**
 * A customer's claims: open ones (no payment request yet, code still valid)
 * and all of them since `since`.
 */
export async function claimsOf(
  sql: Sql,
  customerId: string,
  since: Date,
  now: Date,
): Promise<{ open: number; recent: number; oldestRecent: Date | null }> {
  const { rows } = await sql.query<{ open: string; recent: string; oldest: Date | string | null }>(
    `SELECT count(*) FILTER (WHERE requested_at IS NULL AND code_expires_at > $3)::text AS open,
            count(*) FILTER (WHERE claimed_at > $2)::text AS recent,
            min(claimed_at) FILTER (WHERE claimed_at > $2) AS oldest
     FROM m_trade_claims WHERE customer_id = $1`,
    [customerId, since.toISOString(), now.toISOString()],
  );
  const row = rows[0];
  return {
    open: Number(row?.open ?? 0),
    recent: Number(row?.recent ?? 0),
    oldestRecent: row?.oldest === null || row?.oldest === undefined ? null : new Date(row.oldest),
  };
}

/** Whether a payment with this id exists already (a till code whose payment was requested another way). */
export async function paymentExists(sql: Sql, transactionId: string): Promise<boolean> {
  const { rows } = await sql.query('SELECT 1 FROM payments WHERE id = $1', [transactionId]);
  return rows.length > 0;
}

/**
 * Serialises one customer's claims and the till requests to that customer
 * (held to the end of the transaction). Always taken before a claim row, so
 * two transactions never wait on each other in opposite orders.
 */
export async function lockParty(sql: Sql, partyId: string): Promise<void> {
  // NO KEY UPDATE: foreign keys to the party take KEY SHARE and must not wait.
  await sql.query('SELECT id FROM parties WHERE id = $1 FOR NO KEY UPDATE', [partyId]);
}

/** The merchant's `trade.claimed` webhook, an outbox row of the claim's transaction (delivered with retries). */
export async function enqueueClaimWebhook(
  sql: Sql,
  transactionId: string,
  webhook: { url: string; body: string },
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO outbox (payment_id, kind, payload, next_attempt_at, created_at) VALUES ($1, 'webhook', $2, $3, $3)`,
    [transactionId, JSON.stringify(webhook), now.toISOString()],
  );
}
