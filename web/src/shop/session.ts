/**
 * What the shop page remembers in this tab (sessionStorage): the open cart
 * and the last order, each with the bearer token the shop gave for it, so
 * that a reload or a retry after a lost connection continues the same cart
 * and follows the same order. Nothing else is stored.
 */

export interface CartHandle {
  readonly cartId: string;
  readonly cartToken: string;
}

export interface OrderHandle {
  readonly orderId: string;
  readonly orderToken: string;
}

const cartKey = 'mpay-shop:cart';
const orderKey = 'mpay-shop:order';
const idPattern = /^[0-9a-f-]{36}$/;
const tokenPattern = /^[A-Za-z0-9_-]{32,256}$/;

function read(key: string): Record<string, unknown> | undefined {
  try {
    const text = sessionStorage.getItem(key);
    const value = text === null ? undefined : (JSON.parse(text) as unknown);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function readCart(): CartHandle | undefined {
  const value = read(cartKey);
  const { cartId, cartToken } = value ?? {};
  return typeof cartId === 'string' &&
    idPattern.test(cartId) &&
    typeof cartToken === 'string' &&
    tokenPattern.test(cartToken)
    ? { cartId, cartToken }
    : undefined;
}

export function writeCart(cart: CartHandle | undefined): void {
  if (cart === undefined) sessionStorage.removeItem(cartKey);
  else sessionStorage.setItem(cartKey, JSON.stringify(cart));
}

export function readOrder(): OrderHandle | undefined {
  const value = read(orderKey);
  const { orderId, orderToken } = value ?? {};
  return typeof orderId === 'string' &&
    idPattern.test(orderId) &&
    typeof orderToken === 'string' &&
    tokenPattern.test(orderToken)
    ? { orderId, orderToken }
    : undefined;
}

export function writeOrder(order: OrderHandle | undefined): void {
  if (order === undefined) sessionStorage.removeItem(orderKey);
  else sessionStorage.setItem(orderKey, JSON.stringify(order));
}
