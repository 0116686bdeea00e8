import { type Amount, createAmount, imsDescriptionLengthMax, MpayError } from '@mpay/protocol';
import type { Catalogue, Product } from '../catalogue/catalogue.ts';
import type { ShopLimits } from '../limits.ts';

/** A cart line as stored: which product, how many. Prices are never stored in a cart, only read from the catalogue. */
export interface CartLine {
  readonly productId: string;
  readonly quantity: number;
}

export interface PricedLine {
  readonly product: Product;
  readonly quantity: number;
  readonly lineTotal: Amount;
}

export interface PricedCart {
  readonly lines: readonly PricedLine[];
  /** The sum of the lines; null for an empty cart. */
  readonly total: Amount | null;
}

type CartLimits = Pick<ShopLimits, 'cartLinesMax' | 'lineQuantityMax' | 'orderTotalMinorMax'>;

/**
 * Prices a cart from the catalogue: the shop computes every total, the client
 * never sends one. One currency per cart (CURRENCY_MISMATCH), at most
 * `cartLinesMax` lines of at most `lineQuantityMax` units and a total of at most
 * `orderTotalMinorMax` (CART_LIMIT_EXCEEDED); a product no longer in the
 * catalogue is PRODUCT_UNKNOWN.
 */
export function priceCart(lines: readonly CartLine[], catalogue: Catalogue, limits: CartLimits): PricedCart {
  if (lines.length > limits.cartLinesMax) throw new MpayError('CART_LIMIT_EXCEEDED', 'lines');
  const priced: PricedLine[] = [];
  let total: Amount | null = null;
  for (const line of lines) {
    if (!Number.isSafeInteger(line.quantity) || line.quantity < 1)
      throw new Error('assertion failed: a cart line holds at least one unit');
    if (line.quantity > limits.lineQuantityMax) throw new MpayError('CART_LIMIT_EXCEEDED', 'quantity');
    const product = catalogue.product(line.productId);
    if (total !== null && product.price.currency !== total.currency) throw new MpayError('CURRENCY_MISMATCH');
    const lineTotal = createAmount(product.price.currency, product.price.minor * BigInt(line.quantity));
    const sum = (total?.minor ?? 0n) + lineTotal.minor;
    if (sum > BigInt(limits.orderTotalMinorMax)) throw new MpayError('CART_LIMIT_EXCEEDED', 'total');
    total = createAmount(product.price.currency, sum);
    priced.push(Object.freeze({ product, quantity: line.quantity, lineTotal }));
  }
  if (total !== null && total.minor !== priced.reduce((sum, line) => sum + line.lineTotal.minor, 0n))
    throw new Error('assertion failed: the total is the sum of the lines');
  return Object.freeze({ lines: Object.freeze(priced), total });
}

/** The cart after setting one product's quantity (0 removes the line); checked like any cart. */
export function withLine(
  lines: readonly CartLine[],
  productId: string,
  quantity: number,
  catalogue: Catalogue,
  limits: CartLimits,
): CartLine[] {
  if (!Number.isSafeInteger(quantity) || quantity < 0) throw new MpayError('REQUEST_INVALID', 'quantity');
  catalogue.product(productId);
  const others = lines.filter((line) => line.productId !== productId);
  const next = quantity === 0 ? others : [...others, { productId, quantity }];
  priceCart(next, catalogue, limits);
  return next;
}

/**
 * The payment's description the customer reads on the phone before signing:
 * the order's reference and its lines ("Order 5f3a9c1e: 2 × Espresso beans
 * 250 g, 1 × Enamel mug"), shortened to what an iMS message carries.
 */
export function describeOrder(reference: string, lines: readonly PricedLine[]): string {
  const head = `Order ${reference}: `;
  const items = lines.map((line) => `${line.quantity} × ${line.product.name}`);
  for (let shown = items.length; shown >= 1; shown -= 1) {
    const rest = items.length - shown;
    const text = `${head}${items.slice(0, shown).join(', ')}${rest === 0 ? '' : ` and ${rest} more`}`;
    if (text.length <= imsDescriptionLengthMax) return text;
  }
  return `${head}${items.length} items`.slice(0, imsDescriptionLengthMax);
}
