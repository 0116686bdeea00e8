import { describe, expect, it } from 'vitest';
import { defaultShopLimits } from '../limits.ts';
import { createCatalogue, demoCatalogue, type ProductInput, parseCatalogueJson } from './catalogue.ts';

const limits = defaultShopLimits;
const product = (change: Partial<ProductInput> = {}): ProductInput => ({
  id: 'tea',
  name: 'Green tea',
  price: { currency: 'EUR', minor: 4_20n },
  ...change,
});

describe('the catalogue (configuration, validated at start)', () => {
  it('accepts the demo catalogue and finds products by id; an unknown id is PRODUCT_UNKNOWN', () => {
    const catalogue = createCatalogue(demoCatalogue, limits);
    expect(catalogue.product('mug').price).toEqual({ currency: 'EUR', minor: 6_50n });
    expect(() => catalogue.product('caviar')).toThrow(expect.objectContaining({ code: 'PRODUCT_UNKNOWN' }));
    expect(Object.isFrozen(catalogue.products)).toBe(true);
  });

  it.each<[string, ProductInput[], RegExp]>([
    ['empty', [], /at least one product/],
    ['id with capitals', [product({ id: 'Tea' })], /id must match/],
    ['id in a path', [product({ id: '../tea' })], /id must match/],
    ['duplicate id', [product(), product()], /duplicate id tea/],
    ['empty name', [product({ name: '' })], /name/],
    ['a control character in the name', [product({ name: 'Tea\u0007' })], /name/],
    ['a bidirectional override in the name', [product({ name: 'Tea \u202e1.00' })], /name/],
    ['a zero price', [product({ price: { currency: 'EUR', minor: 0n } })], /price/],
    ['a negative price', [product({ price: { currency: 'EUR', minor: -1n } })], /price/],
    ['an unknown currency', [product({ price: { currency: 'XTS', minor: 1n } })], /price/],
    [
      'a price above the order limit',
      [product({ price: { currency: 'EUR', minor: 10n ** 11n } })],
      /orderTotalMinorMax/,
    ],
  ])('refuses %s', (_name, inputs, message) => {
    expect(() => createCatalogue(inputs, limits)).toThrow(message);
  });

  it('refuses more products than catalogueProductsMax', () => {
    const many = Array.from({ length: 3 }, (_, index) => product({ id: `p${index}` }));
    expect(() => createCatalogue(many, { ...limits, catalogueProductsMax: 2 })).toThrow(
      /catalogueProductsMax/,
    );
  });

  it('reads a catalogue file with minor units as decimal strings, never as JSON numbers', () => {
    const parsed = parseCatalogueJson(
      JSON.stringify({
        products: [{ id: 'tea', name: 'Green tea', price: { currency: 'EUR', minor: '999999999999999' } }],
      }),
    );
    expect(parsed[0]?.price.minor).toBe(999_999_999_999_999n);
    expect(() =>
      parseCatalogueJson(
        JSON.stringify({ products: [{ id: 'tea', name: 'Tea', price: { currency: 'EUR', minor: 420 } }] }),
      ),
    ).toThrow(/"minor": "1250"/);
    expect(() => parseCatalogueJson('[]')).toThrow(/products/);
  });
});
