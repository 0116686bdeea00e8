import { type Amount, createAmount, MpayError, parseMinorUnits } from '@mpay/protocol';

/** One thing the shop sells, at one price. */
export interface Product {
  readonly id: string;
  readonly name: string;
  readonly price: Amount;
}

/** A product as configuration gives it (validated by `createCatalogue`). */
export interface ProductInput {
  readonly id: string;
  readonly name: string;
  readonly price: { readonly currency: string; readonly minor: bigint };
}

export interface Catalogue {
  readonly products: readonly Product[];
  /** The product with this id; PRODUCT_UNKNOWN if there is none. */
  product(id: string): Product;
}

/** Product ids appear in URLs: lower-case letters, digits and hyphens. */
export const productIdPattern = /^[a-z0-9][a-z0-9-]{0,63}$/;
export const productNameLengthMax = 80;
/** No control or format characters (bidirectional overrides among them) in what the customer reads and signs. */
const productNamePattern = /^[^\p{Cc}\p{Cf}\p{Cs}]+$/u;

/** The demo merchant's shelf (Merkur Trade): small amounts, so that the demo customer can buy often. */
export const demoCatalogue: readonly ProductInput[] = Object.freeze([
  { id: 'espresso-250g', name: 'Espresso beans 250 g', price: { currency: 'EUR', minor: 12_50n } },
  { id: 'filter-1kg', name: 'Filter coffee 1 kg', price: { currency: 'EUR', minor: 24_90n } },
  { id: 'moka-pot', name: 'Moka pot, 3 cups', price: { currency: 'EUR', minor: 29_00n } },
  { id: 'mug', name: 'Enamel mug', price: { currency: 'EUR', minor: 6_50n } },
]);

function configurationError(index: number, what: string): Error {
  return new Error(`shop catalogue: product ${index + 1}: ${what}`);
}

function checkProduct(input: ProductInput, index: number, orderTotalMinorMax: bigint): Product {
  if (typeof input.id !== 'string' || !productIdPattern.test(input.id))
    throw configurationError(index, `id must match ${productIdPattern}`);
  if (
    typeof input.name !== 'string' ||
    input.name.length > productNameLengthMax ||
    !productNamePattern.test(input.name) ||
    input.name.trim() !== input.name
  ) {
    throw configurationError(index, `name must be 1..${productNameLengthMax} printable characters`);
  }
  let price: Amount;
  try {
    price = createAmount(input.price.currency, input.price.minor);
  } catch (error) {
    throw configurationError(index, `price: ${(error as Error).message}`);
  }
  if (price.minor > orderTotalMinorMax) throw configurationError(index, 'price above orderTotalMinorMax');
  return Object.freeze({ id: input.id, name: input.name, price });
}

/** Validates and freezes the catalogue: unique ids, printable names, prices as positive bigint minor units. */
export function createCatalogue(
  inputs: readonly ProductInput[],
  limits: { readonly catalogueProductsMax: number; readonly orderTotalMinorMax: number },
): Catalogue {
  if (!Array.isArray(inputs) || inputs.length === 0)
    throw new Error('shop catalogue: at least one product is required');
  if (inputs.length > limits.catalogueProductsMax)
    throw new Error(
      `shop catalogue: more than catalogueProductsMax (${limits.catalogueProductsMax}) products`,
    );
  const totalMax = BigInt(limits.orderTotalMinorMax);
  const byId = new Map<string, Product>();
  inputs.forEach((input, index) => {
    const product = checkProduct(input, index, totalMax);
    if (byId.has(product.id)) throw configurationError(index, `duplicate id ${product.id}`);
    byId.set(product.id, product);
  });
  const products = Object.freeze([...byId.values()]);
  return Object.freeze({
    products,
    product(id: string): Product {
      const found = byId.get(id);
      if (found === undefined) throw new MpayError('PRODUCT_UNKNOWN');
      return found;
    },
  });
}

/**
 * Reads a catalogue file: `{"products":[{"id","name","price":{"currency","minor":"1250"}}]}`,
 * minor units as a decimal string (JSON numbers lose precision above 2^53).
 */
export function parseCatalogueJson(text: string): ProductInput[] {
  const document = JSON.parse(text) as unknown;
  const products = (document as { products?: unknown } | null)?.products;
  if (!Array.isArray(products)) throw new Error('shop catalogue: expected {"products": [...]}');
  return products.map((entry: unknown, index) => {
    const product = entry as {
      id?: unknown;
      name?: unknown;
      price?: { currency?: unknown; minor?: unknown };
    };
    if (typeof product?.id !== 'string' || typeof product.name !== 'string')
      throw configurationError(index, 'id and name are strings');
    const minor = product.price?.minor;
    const currency = product.price?.currency;
    if (typeof minor !== 'string' || typeof currency !== 'string')
      throw configurationError(index, 'price is {"currency": "EUR", "minor": "1250"}');
    return {
      id: product.id,
      name: product.name,
      price: { currency, minor: parseMinorUnits(minor, 'minor') },
    };
  });
}
