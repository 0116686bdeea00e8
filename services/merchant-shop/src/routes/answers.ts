import {
  arrayOf,
  booleanSchema,
  exactObject,
  integerSchema,
  isoTime,
  type JsonSchema,
  nullable,
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

const nullableText = nullable(stringSchema);
const nullableTime = nullable(isoTime);

/** views.ts customerOrderView: what the order's token reads. */
const customerOrderProperties = {
  orderId: uuid,
  status: stringSchema,
  lines: arrayOf(line),
  total: amountAnswer,
  payment: exactObject({
    transactionId: stringSchema,
    status: nullableText,
    failureCode: nullableText,
    refundStatus: nullableText,
  }),
  shipment: nullable(
    exactObject({
      status: stringSchema,
      carrier: nullableText,
      trackingReference: nullableText,
      history: arrayOf(exactObject({ status: stringSchema, at: isoTime })),
    }),
  ),
  createdAt: isoTime,
  updatedAt: isoTime,
};
export const customerOrderAnswer: JsonSchema = exactObject(customerOrderProperties);

export const checkoutAnswer: JsonSchema = exactObject({
  orderToken: stringSchema,
  order: customerOrderAnswer,
});

/** views.ts merchantOrderView: the customer's view, the internal state, the parties and the whole history. */
export const merchantOrderAnswer: JsonSchema = exactObject({
  ...customerOrderProperties,
  state: stringSchema,
  customer: stringSchema,
  description: stringSchema,
  payment: exactObject({
    transactionId: stringSchema,
    status: nullableText,
    payer: nullableText,
    securityLevel: nullableText,
    expiresAt: nullableTime,
    requestedAt: nullableTime,
    failureCode: nullableText,
    refund: nullable(exactObject({ id: nullableText, status: stringSchema, updatedAt: isoTime })),
  }),
  history: arrayOf(
    exactObject({
      event: stringSchema,
      from: nullableText,
      to: stringSchema,
      step: stringSchema,
      actor: stringSchema,
      detail: nullableText,
      notificationId: nullableText,
      at: isoTime,
    }),
  ),
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

/** notifications/store.ts decode: the stored FSP notification, its JWS and the object it carries by event. */
const notificationBase = {
  id: stringSchema,
  receivedAt: isoTime,
  jws: stringSchema,
  subject: stringSchema,
  status: nullableText,
  orderId: nullableText,
  outcome: stringSchema,
  outcomeDetail: nullableText,
};
const notification: JsonSchema = {
  anyOf: [
    exactObject({ ...notificationBase, event: { const: 'payment.updated' }, payment: { type: 'object' } }),
    exactObject({ ...notificationBase, event: { const: 'trade.claimed' }, claim: { type: 'object' } }),
    exactObject({ ...notificationBase, event: { const: 'refund.updated' }, refund: { type: 'object' } }),
  ],
};
export const notificationsAnswer: JsonSchema = exactObject({ notifications: arrayOf(notification) });
export const paymentNotificationsAnswer: JsonSchema = arrayOf(notification);

export const webhookAnswer: JsonSchema = exactObject({ received: { const: true }, duplicate: booleanSchema });

/** till/views.ts saleView (with `history` when one sale is read). */
const saleMembers = {
  saleId: uuid,
  status: stringSchema,
  state: stringSchema,
  amount: amountAnswer,
  reference: nullableText,
  qrPayload: stringSchema,
  codeExpiresAt: isoTime,
  customer: nullableText,
  claimedAt: nullableTime,
  securityLevel: nullableText,
  paymentExpiresAt: nullableTime,
  failureCode: nullableText,
  paidAt: nullableTime,
  createdAt: isoTime,
  updatedAt: isoTime,
  history: arrayOf(
    exactObject({
      event: stringSchema,
      from: stringSchema,
      to: stringSchema,
      actor: stringSchema,
      detail: nullableText,
      notificationId: nullableText,
      at: isoTime,
    }),
  ),
} as const;

export const saleAnswer: JsonSchema = exactObject(saleMembers, ['history']);

/** A page of sales: each with its `seq`, the cursor the next page's `before` takes. */
export const salesAnswer: JsonSchema = exactObject({
  sales: arrayOf(
    exactObject({ seq: { type: 'string', pattern: '^[0-9]{1,19}$' }, ...saleMembers }, ['history']),
  ),
});

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
    exactObject({
      kind: { enum: ['sale', 'order'] },
      paymentId: uuid,
      saleId: nullable(uuid),
      orderId: nullable(uuid),
      status: stringSchema,
      amount: amountAnswer,
      description: stringSchema,
      customer: nullableText,
      shipment: nullable(exactObject({ status: stringSchema })),
      refunds: arrayOf(tillRefundAnswer),
      refundable: exactObject({ currency: stringSchema, minor: stringSchema }),
      at: isoTime,
    }),
  ),
});
