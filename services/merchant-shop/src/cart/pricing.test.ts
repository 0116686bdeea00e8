import { imsDescriptionLengthMax } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { createCatalogue, demoCatalogue } from '../catalogue/catalogue.ts';
import { createShopLimits } from '../limits.ts';
import { describeOrder, priceCart, withLine } from './pricing.ts';

const limits = createShopLimits({ cartLinesMax: 3, lineQuantityMax: 10, orderTotalMinorMax: 100_00 });
const catalogue = createCatalogue(
  [...demoCatalogue, { id: 'franc-tea', name: 'Tea', price: { currency: 'CHF', minor: 3_00n } }],
  limits,
);

describe('pricing a cart', () => {
  it('sums the lines in bigint minor units from the catalogue', () => {
    const priced = priceCart(
      [
        { productId: 'espresso-250g', quantity: 3 },
        { productId: 'mug', quantity: 2 },
      ],
      catalogue,
      limits,
    );
    expect(priced.total).toEqual({ currency: 'EUR', minor: 50_50n });
    expect(priced.lines.map((line) => line.lineTotal.minor)).toEqual([37_50n, 13_00n]);
    expect(priceCart([], catalogue, limits).total).toBeNull();
  });

  it('refuses mixed currencies, too many lines, too many units and a total above the limit', () => {
    const code = (run: () => unknown) => {
      try {
        run();
        return 'none';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    const mug = { productId: 'mug', quantity: 1 };
    expect(code(() => withLine([mug], 'franc-tea', 1, catalogue, limits))).toBe('CURRENCY_MISMATCH');
    expect(code(() => withLine([mug], 'mug', 11, catalogue, limits))).toBe('CART_LIMIT_EXCEEDED');
    expect(code(() => withLine([mug], 'moka-pot', 4, catalogue, limits))).toBe('CART_LIMIT_EXCEEDED');
    const three = [mug, { productId: 'moka-pot', quantity: 1 }, { productId: 'espresso-250g', quantity: 1 }];
    expect(code(() => withLine(three, 'filter-1kg', 1, catalogue, limits))).toBe('CART_LIMIT_EXCEEDED');
    expect(withLine(three, 'mug', 0, catalogue, limits)).toHaveLength(2);
    expect(code(() => withLine([], 'mug', -1, catalogue, limits))).toBe('REQUEST_INVALID');
    expect(code(() => withLine([], 'caviar', 1, catalogue, limits))).toBe('PRODUCT_UNKNOWN');
  });

  it("describes the order for the customer's phone within the iMS description limit", () => {
    const lines = priceCart([{ productId: 'espresso-250g', quantity: 2 }], catalogue, limits).lines;
    expect(describeOrder('5f3a9c1e', lines)).toBe('Order 5f3a9c1e: 2 × Espresso beans 250 g');
    const long = createCatalogue(
      Array.from({ length: 12 }, (_, index) => ({
        id: `p${index}`,
        name: `A product with a rather long name, number ${index}`,
        price: { currency: 'EUR', minor: 1n },
      })),
      createShopLimits(),
    );
    const many = priceCart(
      long.products.map((product) => ({ productId: product.id, quantity: 1 })),
      long,
      createShopLimits(),
    ).lines;
    const text = describeOrder('5f3a9c1e', many);
    expect(text.length).toBeLessThanOrEqual(imsDescriptionLengthMax);
    expect(text).toMatch(/ and \d+ more$/);
  });
});

describe('the shop limits', () => {
  it('are validated at start: unknown names and values out of bounds are configuration errors', () => {
    expect(() => createShopLimits({ cartLinesMax: 0 })).toThrow(/cartLinesMax/);
    expect(() => createShopLimits({ lineQuantityMax: 1.5 })).toThrow(/lineQuantityMax/);
    expect(() => createShopLimits({ pageSizeDefault: 300, pageSizeMax: 200 })).toThrow(/pageSizeDefault/);
    expect(() => createShopLimits({ cartLines: 3 } as never)).toThrow(/unknown limit cartLines/);
    expect(Object.isFrozen(createShopLimits())).toBe(true);
  });
});
