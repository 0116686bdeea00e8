import { randomUUID } from 'node:crypto';
import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { newToken, tokenHash, tokenMatches } from '../auth/tokens.ts';
import type { ShopContext } from '../context.ts';
import { withLine } from './pricing.ts';
import { type Cart, countOpenCarts, findCart, insertCart, storeCartLine } from './store.ts';

/** A new, empty cart and the bearer token that opens it (given once; only its hash is kept). */
export async function createCart(context: ShopContext): Promise<{ cart: Cart; token: string }> {
  const token = newToken();
  const id = randomUUID();
  const now = context.clock();
  await context.database.transaction(async (sql) => {
    if ((await countOpenCarts(sql)) >= context.limits.cartsOpenMax)
      throw new MpayError('SERVICE_OVERLOADED', 'carts', { retryAfterSeconds: 60 });
    await insertCart(sql, { id, tokenHash: tokenHash(token) }, now);
  });
  const cart = await findCart(context.database, id);
  if (cart === undefined) throw new Error('assertion failed: the cart was stored');
  return { cart, token };
}

/** The cart this token opens. An unknown cart and a wrong token get the same answer (CART_UNKNOWN). */
export async function openCart(
  sql: Sql,
  cartId: string,
  token: string | undefined,
  options: { lock?: boolean } = {},
): Promise<Cart> {
  const cart = await findCart(sql, cartId, options);
  if (cart === undefined || token === undefined || !tokenMatches(token, cart.tokenHash))
    throw new MpayError('CART_UNKNOWN');
  return cart;
}

/**
 * Sets how many units of a product the cart holds (0 removes the line).
 * Setting, not adding, so that a retried request changes nothing more. The
 * whole cart is checked against the catalogue and the limits first.
 */
export async function setCartLine(
  context: ShopContext,
  cartId: string,
  token: string | undefined,
  productId: string,
  quantity: number,
): Promise<Cart> {
  const now = context.clock();
  await context.database.transaction(async (sql) => {
    const cart = await openCart(sql, cartId, token, { lock: true });
    if (cart.orderId !== null) throw new MpayError('CART_CHECKED_OUT');
    withLine(cart.lines, productId, quantity, context.catalogue, context.limits);
    await storeCartLine(sql, cart.id, { productId, quantity }, now);
  });
  return openCart(context.database, cartId, token);
}
