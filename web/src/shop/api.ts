import { errorFromAnswer, readBounded } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';

/**
 * The merchant shop's HTTP API as the shop and till pages call it (behind
 * the web server at /api/shop). Answers are bounded and parsed once; an
 * error answer becomes the MpayError of its stable code; a request that got
 * no answer throws the fetch's TypeError, which the pages show as a lost
 * connection (and retry with the same cart, order or idempotency key).
 */

/** Minor units as a decimal string (a bigint on the wire), and the display value. */
export interface AmountView {
  readonly currency: string;
  readonly minor: string;
  readonly value: string;
}

export interface ProductView {
  readonly id: string;
  readonly name: string;
  readonly price: AmountView;
}

export interface CartLineView {
  readonly productId: string;
  readonly name: string;
  readonly quantity: number;
  readonly unitPrice: AmountView;
  readonly lineTotal: AmountView;
}

export interface CartView {
  readonly cartId: string;
  readonly checkedOut: boolean;
  readonly lines: readonly CartLineView[];
  readonly total: AmountView | null;
}

export type OrderStatus =
  | 'awaiting_payment'
  | 'paid'
  | 'packed'
  | 'shipped'
  | 'delivered'
  | 'payment_failed'
  | 'cancelled'
  | 'on_hold';

export interface OrderView {
  readonly orderId: string;
  readonly status: OrderStatus;
  readonly lines: readonly CartLineView[];
  readonly total: AmountView;
  readonly payment: {
    readonly transactionId: string;
    readonly status: string | null;
    readonly failureCode: string | null;
    readonly refundStatus?: string | null;
  };
  readonly shipment: {
    readonly status: string;
    readonly carrier: string | null;
    readonly trackingReference: string | null;
    readonly history: readonly { readonly status: string; readonly at: string }[];
  } | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Largest answer a page reads from the shop (a page of orders or payments is well below). */
const answerBytesMax = 512 * 1024;

export interface CallOptions {
  readonly token?: string | undefined;
  readonly body?: unknown;
  readonly idempotencyKey?: string | undefined;
}

/** One call to the shop: JSON in, JSON out, errors by their stable code. */
export async function shopCall<T>(
  base: string,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: CallOptions = {},
): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    cache: 'no-store',
  });
  const text = await readBounded(response, answerBytesMax);
  if (text === undefined) throw new MpayError('SERVICE_UNAVAILABLE', 'answer too large');
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    throw new MpayError('SERVICE_UNAVAILABLE', 'answer is not JSON');
  }
  if (!response.ok) throw errorFromAnswer(json, response.status);
  return json as T;
}

/** The customer's side of the shop: the catalogue, a cart opened by its token, checkout, the order. */
export class ShopClient {
  readonly #base: string;

  constructor(base: string) {
    this.#base = base;
  }

  async products(): Promise<readonly ProductView[]> {
    return (await shopCall<{ products: ProductView[] }>(this.#base, 'GET', '/products')).products;
  }

  /** A new cart and its token (the only time the shop gives it). */
  createCart(): Promise<CartView & { cartToken: string }> {
    return shopCall(this.#base, 'POST', '/carts');
  }

  cart(cartId: string, cartToken: string): Promise<CartView> {
    return shopCall(this.#base, 'GET', `/carts/${encodeURIComponent(cartId)}`, { token: cartToken });
  }

  /** Sets (not adds) a line's quantity, so that a retried request changes nothing more; 0 removes it. */
  setLine(cartId: string, cartToken: string, productId: string, quantity: number): Promise<CartView> {
    const path = `/carts/${encodeURIComponent(cartId)}/lines/${encodeURIComponent(productId)}`;
    return quantity === 0
      ? shopCall(this.#base, 'DELETE', path, { token: cartToken })
      : shopCall(this.#base, 'PUT', path, { token: cartToken, body: { quantity } });
  }

  /** Checkout with a phone number; a retry of the same cart for the same number answers the same order. */
  checkout(
    cartId: string,
    cartToken: string,
    customer: string,
  ): Promise<{ orderToken: string; order: OrderView }> {
    return shopCall(this.#base, 'POST', `/carts/${encodeURIComponent(cartId)}/checkout`, {
      token: cartToken,
      body: { customer },
    });
  }

  order(orderId: string, orderToken: string): Promise<OrderView> {
    return shopCall(this.#base, 'GET', `/orders/${encodeURIComponent(orderId)}`, { token: orderToken });
  }
}

/** `{currency, minor}` of a view as bigint minor units (never a float). */
export function minorOf(amount: AmountView | { readonly minor: string }): bigint {
  return BigInt(amount.minor);
}
