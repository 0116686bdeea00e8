import { MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import { bearerTokenOf, tokenMatches } from '../auth/tokens.ts';
import { createCart, openCart, setCartLine } from '../cart/carts.ts';
import { priceCart } from '../cart/pricing.ts';
import type { Cart } from '../cart/store.ts';
import { productIdPattern } from '../catalogue/catalogue.ts';
import type { ShopContext } from '../context.ts';
import { checkout } from '../orders/checkout.ts';
import { findOrder, listOrderEvents, type Order } from '../orders/store.ts';
import { cartAnswer, checkoutAnswer, customerOrderAnswer, newCartAnswer, productsAnswer } from './answers.ts';
import { cartView, customerOrderView, productView } from './views.ts';

/** Cart and order ids are UUIDs the shop chose. */
export const uuidPattern = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

const cartParams = {
  type: 'object',
  additionalProperties: false,
  required: ['cartId'],
  properties: { cartId: { type: 'string', pattern: uuidPattern } },
} as const;

const lineParams = {
  type: 'object',
  additionalProperties: false,
  required: ['cartId', 'productId'],
  properties: {
    cartId: { type: 'string', pattern: uuidPattern },
    productId: { type: 'string', pattern: productIdPattern.source },
  },
} as const;

const orderParams = {
  type: 'object',
  additionalProperties: false,
  required: ['orderId'],
  properties: { orderId: { type: 'string', pattern: uuidPattern } },
} as const;

/** The quantity's own limit (lineQuantityMax) answers CART_LIMIT_EXCEEDED; the schema only bounds the number. */
const quantityBody = {
  type: 'object',
  additionalProperties: false,
  required: ['quantity'],
  properties: { quantity: { type: 'integer', minimum: 0, maximum: 1_000_000 } },
} as const;

const checkoutBody = {
  type: 'object',
  additionalProperties: false,
  required: ['customer'],
  // A phone number in E.164 or a person's party id; checked exactly by the protocol's parsers.
  properties: { customer: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

/**
 * The customer's side of the shop (iMS §2.1): the catalogue, a cart opened
 * by its bearer token, checkout with the phone number or party id, and the
 * order with its shipment, read with the order's token. An unknown id and a
 * wrong token get the same 404.
 */
const tags = ['shop'];

export function registerCustomerRoutes(app: FastifyInstance, context: ShopContext): void {
  const priced = (cart: Cart) =>
    cart.lines.length === 0 ? undefined : priceCart(cart.lines, context.catalogue, context.limits);
  const cartOf = (request: FastifyRequest) =>
    openCart(context.database, (request.params as { cartId: string }).cartId, bearerTokenOf(request));

  const products = { summary: 'The catalogue', tags, response: { 200: productsAnswer } };
  app.get('/products', { schema: products }, async () => ({
    products: context.catalogue.products.map(productView),
  }));

  const newCart: FastifySchema = {
    summary: 'Opens a cart: its bearer token',
    tags,
    noRequestBody: true,
    response: { 201: newCartAnswer },
  };
  app.post('/carts', { schema: newCart }, async (_request, reply) => {
    const { cart, token } = await createCart(context);
    return reply.status(201).send({ cartToken: token, ...cartView(cart, undefined) });
  });

  const cartSchema = { summary: 'A cart, priced', tags, params: cartParams, response: { 200: cartAnswer } };
  app.get('/carts/:cartId', { schema: cartSchema }, async (request) => {
    const cart = await cartOf(request);
    return cartView(cart, priced(cart));
  });

  app.put(
    '/carts/:cartId/lines/:productId',
    {
      schema: {
        summary: "Sets a product's quantity in the cart (0 removes it)",
        tags,
        params: lineParams,
        body: quantityBody,
        response: { 200: cartAnswer },
      },
    },
    async (request) => {
      const { cartId, productId } = request.params as { cartId: string; productId: string };
      const { quantity } = request.body as { quantity: number };
      const cart = await setCartLine(context, cartId, bearerTokenOf(request), productId, quantity);
      return cartView(cart, priced(cart));
    },
  );

  const removeLine = {
    summary: 'Removes a product from the cart',
    tags,
    params: lineParams,
    response: { 200: cartAnswer },
  };
  app.delete('/carts/:cartId/lines/:productId', { schema: removeLine }, async (request) => {
    const { cartId, productId } = request.params as { cartId: string; productId: string };
    const cart = await setCartLine(context, cartId, bearerTokenOf(request), productId, 0);
    return cartView(cart, priced(cart));
  });

  app.post(
    '/carts/:cartId/checkout',
    {
      schema: {
        summary: 'Checks the cart out: the order, and the payment request to the customer',
        tags,
        params: cartParams,
        body: checkoutBody,
        response: { 200: checkoutAnswer, 201: checkoutAnswer },
      } satisfies FastifySchema as FastifySchema,
    },
    async (request, reply) => {
      const { cartId } = request.params as { cartId: string };
      const { customer } = request.body as { customer: string };
      const result = await checkout(context, cartId, bearerTokenOf(request), customer);
      const events = await listOrderEvents(context.database, result.order.id);
      return reply
        .status(result.created ? 201 : 200)
        .send({ orderToken: result.orderToken, order: customerOrderView(result.order, events) });
    },
  );

  const orderSchema = {
    summary: "The customer's order, read with its token",
    tags,
    params: orderParams,
    response: { 200: customerOrderAnswer },
  };
  app.get('/orders/:orderId', { schema: orderSchema }, async (request) => {
    const order = await orderForToken(context, (request.params as { orderId: string }).orderId, request);
    return customerOrderView(order, await listOrderEvents(context.database, order.id));
  });
}

/** The order this bearer token opens: an unknown order and a wrong token are the same ORDER_UNKNOWN. */
async function orderForToken(context: ShopContext, orderId: string, request: FastifyRequest): Promise<Order> {
  const token = bearerTokenOf(request);
  const order = await findOrder(context.database, orderId);
  if (order === undefined || token === undefined || !tokenMatches(token, order.tokenHash))
    throw new MpayError('ORDER_UNKNOWN');
  return order;
}
