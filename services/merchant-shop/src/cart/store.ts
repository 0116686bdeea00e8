import type { Sql } from '@mpay/storage';
import type { CartLine } from './pricing.ts';

/** A cart as the shop works with it: the row decoded once, its lines in the order they were added. */
export interface Cart {
  readonly id: string;
  readonly tokenHash: string;
  /** Set once the cart is checked out: it can no longer change. */
  readonly orderId: string | null;
  readonly lines: readonly CartLine[];
  readonly updatedAt: Date;
}

interface CartRow {
  cart_id: string;
  token_sha256: string;
  order_id: string | null;
  updated_at: Date | string;
}

export function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}

export async function insertCart(
  sql: Sql,
  cart: { id: string; tokenHash: string },
  now: Date,
): Promise<void> {
  await sql.query(
    'INSERT INTO carts (cart_id, token_sha256, created_at, updated_at) VALUES ($1, $2, $3, $3)',
    [cart.id, cart.tokenHash, now.toISOString()],
  );
}

/** The cart, with its lines; `lock` holds the cart's row until the transaction ends. */
export async function findCart(
  sql: Sql,
  cartId: string,
  options: { lock?: boolean } = {},
): Promise<Cart | undefined> {
  const { rows } = await sql.query<CartRow>(
    `SELECT cart_id, token_sha256, order_id, updated_at FROM carts WHERE cart_id = $1${options.lock ? ' FOR UPDATE' : ''}`,
    [cartId],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const lines = await sql.query<{ product_id: string; quantity: number }>(
    'SELECT product_id, quantity FROM cart_lines WHERE cart_id = $1 ORDER BY added_at, product_id',
    [cartId],
  );
  return Object.freeze({
    id: row.cart_id,
    tokenHash: row.token_sha256,
    orderId: row.order_id,
    lines: Object.freeze(
      lines.rows.map((line) =>
        Object.freeze({ productId: line.product_id, quantity: Number(line.quantity) }),
      ),
    ),
    updatedAt: toDate(row.updated_at),
  });
}

/** Sets one product's quantity (0 removes the line); the caller has checked the whole cart. */
export async function storeCartLine(sql: Sql, cartId: string, line: CartLine, now: Date): Promise<void> {
  if (line.quantity === 0) {
    await sql.query('DELETE FROM cart_lines WHERE cart_id = $1 AND product_id = $2', [
      cartId,
      line.productId,
    ]);
  } else {
    await sql.query(
      `INSERT INTO cart_lines (cart_id, product_id, quantity, added_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity`,
      [cartId, line.productId, line.quantity, now.toISOString()],
    );
  }
  const updated = await sql.query(
    'UPDATE carts SET updated_at = $2 WHERE cart_id = $1 AND order_id IS NULL',
    [cartId, now.toISOString()],
  );
  if (updated.rowCount !== 1) throw new Error('assertion failed: only an open cart changes');
}

export async function countOpenCarts(sql: Sql): Promise<number> {
  const { rows } = await sql.query<{ count: string }>(
    'SELECT count(*)::text AS count FROM carts WHERE order_id IS NULL',
  );
  return Number(rows[0]?.count ?? '0');
}

/** Forgets carts nobody checked out or changed since `before`. Returns how many. */
export async function forgetStaleCarts(sql: Sql, before: Date): Promise<number> {
  const deleted = await sql.query('DELETE FROM carts WHERE order_id IS NULL AND updated_at < $1', [
    before.toISOString(),
  ]);
  return deleted.rowCount;
}
