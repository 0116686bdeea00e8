import {
  arrayOf,
  booleanSchema,
  exactObject,
  integerSchema,
  isoTime,
  type JsonSchema,
  nullable,
  openObject,
  stringSchema,
  uuid,
} from '@mpay/http-server';

/**
 * The shapes of the shop's answers, for GET /openapi.json (response schemas
 * describe, they never serialize: see @mpay/http-server openapi.ts).
 * test/e2e/openapi-contract.test.ts checks real answers against them.
 */

/** views.ts AmountView: minor units as decimal text and the display value. */
export const amountAnswer: JsonSchema = exactObject({
  currency: stringSchema,
  minor: stringSchema,
  value: stringSchema,
});

const line = exactObject({
  productId: stringSchema,
  name: stringSchema,
  quantity: integerSchema,
  unitPrice: amountAnswer,
  lineTotal: amountAnswer,
});

export const productsAnswer: JsonSchema = exactObject({
  products: arrayOf(exactObject({ id: stringSchema, name: stringSchema, price: amountAnswer })),
});

const cartProperties = {
  cartId: uuid,
  checkedOut: booleanSchema,
  lines: arrayOf(line),
  total: nullable(amountAnswer),
  updatedAt: isoTime,
};
export const cartAnswer: JsonSchema = exactObject(cartProperties);
export const newCartAnswer: JsonSchema = exactObject({ cartToken: stringSchema, ...cartProperties });

export const customerOrderAnswer: JsonSchema = openObject({
  orderId: uuid,
  status: stringSchema,
  lines: arrayOf(line),
  total: amountAnswer,
  payment: openObject({ transactionId: nullable(stringSchema), status: nullable(stringSchema) }),
  shipment: nullable(openObject({ status: stringSchema })),
  createdAt: isoTime,
  updatedAt: isoTime,
});

export const checkoutAnswer: JsonSchema = exactObject({
  orderToken: stringSchema,
  order: customerOrderAnswer,
});

export const merchantOrderAnswer: JsonSchema = openObject({
  orderId: uuid,
  status: stringSchema,
  state: stringSchema,
  total: amountAnswer,
  payment: openObject({ transactionId: nullable(stringSchema) }),
  history: arrayOf(openObject({ event: stringSchema, at: isoTime })),
});

export const orderListAnswer: JsonSchema = exactObject({
  orders: arrayOf(
    exactObject({
      orderId: uuid,
      seq: stringSchema,
      status: stringSchema,
      state: stringSchema,
      customer: stringSchema,
      total: amountAnswer,
      transactionId: nullable(stringSchema),
      createdAt: isoTime,
      updatedAt: isoTime,
    }),
  ),
});

const notification = openObject({ id: stringSchema, event: stringSchema });
export const notificationsAnswer: JsonSchema = exactObject({ notifications: arrayOf(notification) });
export const paymentNotificationsAnswer: JsonSchema = arrayOf(notification);

export const webhookAnswer: JsonSchema = exactObject({ received: { const: true }, duplicate: booleanSchema });

export const saleAnswer: JsonSchema = openObject({
  saleId: uuid,
  status: stringSchema,
  state: stringSchema,
  amount: amountAnswer,
  qrPayload: stringSchema,
  codeExpiresAt: isoTime,
});

export const salesAnswer: JsonSchema = exactObject({ sales: arrayOf(saleAnswer) });

export const tillRefundAnswer: JsonSchema = exactObject({
  refundId: uuid,
  paymentId: uuid,
  kind: stringSchema,
  amount: amountAnswer,
  reason: nullable(stringSchema),
  status: stringSchema,
  failureCode: nullable(stringSchema),
  createdAt: isoTime,
  updatedAt: isoTime,
});

export const paidPaymentsAnswer: JsonSchema = exactObject({
  payments: arrayOf(
    openObject({
      kind: { enum: ['sale', 'order'] },
      paymentId: uuid,
      refunds: arrayOf(tillRefundAnswer),
      at: isoTime,
    }),
  ),
});
