import {
  arrayOf,
  booleanSchema,
  compactJose,
  exactObject,
  integerSchema,
  isoTime,
  type JsonSchema,
  jwkSet,
  nullable,
  stringSchema,
  uuid,
} from '@mpay/http-server';

/**
 * The shapes of the gateway's answers, for GET /openapi.json (response
 * schemas describe, they never serialize: see @mpay/http-server openapi.ts).
 * test/e2e/openapi-contract.test.ts checks real answers against them.
 */

/** A decimal amount as the payment's parties see it (`{ currency: 'EUR', value: '12.50' }`). */
export const decimalAmount: JsonSchema = exactObject({ currency: stringSchema, value: stringSchema });

export const fspAnswer: JsonSchema = exactObject({ id: stringSchema, keys: jwkSet });

export const partyAnswer: JsonSchema = exactObject({
  id: stringSchema,
  kind: { const: 'merchant' },
  displayName: stringSchema,
  certificate: stringSchema,
});

export const certificateAnswer: JsonSchema = exactObject({ certificate: stringSchema });

export const sealingKeyAnswer: JsonSchema = exactObject({
  partyId: stringSchema,
  bankId: stringSchema,
  binding: compactJose,
});

export const aliasAnswer: JsonSchema = exactObject({ partyId: stringSchema });

export const customerRegistered: JsonSchema = exactObject({
  partyId: stringSchema,
  serialNumber: stringSchema,
  bankId: stringSchema,
});

export const revoked: JsonSchema = exactObject({ revoked: { const: true } });

export const paymentRequestAccepted: JsonSchema = exactObject({
  paymentId: uuid,
  status: stringSchema,
  securityLevel: stringSchema,
  protections: arrayOf(stringSchema),
  expiresAt: isoTime,
  delivered: booleanSchema,
});

export const confirmationAnswer: JsonSchema = exactObject(
  { status: { enum: ['completed', 'authorised'] }, paymentId: uuid, receipt: compactJose },
  ['receipt'],
);

export function paymentStatusChange(status: string): JsonSchema {
  return exactObject({ paymentId: uuid, status: { const: status } });
}

export const paymentStatusAnswer: JsonSchema = exactObject({
  id: uuid,
  status: stringSchema,
  procedure: stringSchema,
  securityLevel: stringSchema,
  amount: decimalAmount,
  payer: stringSchema,
  payee: stringSchema,
  failureCode: nullable(stringSchema),
  expiresAt: isoTime,
  createdAt: isoTime,
  updatedAt: isoTime,
  history: arrayOf(exactObject({ status: stringSchema, step: nullable(stringSchema), at: isoTime })),
});

export const refundAnswer: JsonSchema = exactObject(
  {
    refundId: stringSchema,
    paymentId: uuid,
    status: stringSchema,
    amount: decimalAmount,
    reason: stringSchema,
    failureCode: stringSchema,
    receipt: compactJose,
    createdAt: isoTime,
    updatedAt: isoTime,
    history: arrayOf(exactObject({ status: stringSchema, step: stringSchema, at: isoTime })),
  },
  ['reason', 'failureCode', 'receipt'],
);

export { logReceipt } from '@mpay/http-server';

export const tradeClaimed: JsonSchema = exactObject({
  transactionId: uuid,
  status: { const: 'claimed' },
  claimedAt: isoTime,
});

export const tradeNotification: JsonSchema = exactObject({ notification: compactJose });

export const devicePaymentRequests: JsonSchema = exactObject(
  { requests: arrayOf(exactObject({ paymentId: uuid, message: stringSchema })), next: stringSchema },
  ['next'],
);

const adminParty: JsonSchema = exactObject({ id: stringSchema, displayName: stringSchema });

/** A payment as the operator lists it (admin-payments.ts summaryJson). */
const adminPaymentSummary: JsonSchema = exactObject(
  {
    id: uuid,
    procedure: stringSchema,
    state: stringSchema,
    status: stringSchema,
    securityLevel: stringSchema,
    amount: exactObject({ currency: stringSchema, minor: stringSchema }),
    merchant: adminParty,
    customer: adminParty,
    failureCode: stringSchema,
    createdAt: isoTime,
    updatedAt: isoTime,
    expiresAt: isoTime,
  },
  ['failureCode'],
);

export const adminPaymentsPage: JsonSchema = exactObject({
  payments: arrayOf(adminPaymentSummary),
  next: nullable(stringSchema),
  counts: exactObject({
    byState: { type: 'object', additionalProperties: integerSchema },
    byStatus: { type: 'object', additionalProperties: integerSchema },
  }),
});

export const adminPaymentDetail: JsonSchema = exactObject({
  payment: adminPaymentSummary,
  steps: arrayOf(
    exactObject({
      sequence: integerSchema,
      from: nullable(stringSchema),
      to: stringSchema,
      status: stringSchema,
      event: nullable(stringSchema),
      step: nullable(stringSchema),
      detail: nullable(stringSchema),
      at: isoTime,
    }),
  ),
  effects: arrayOf(
    exactObject(
      {
        kind: stringSchema,
        attempts: integerSchema,
        state: { enum: ['delivered', 'abandoned', 'pending'] },
        createdAt: isoTime,
        deliveredAt: isoTime,
        abandonedAt: isoTime,
        lastError: stringSchema,
      },
      ['deliveredAt', 'abandonedAt', 'lastError'],
    ),
  ),
  log: nullable(exactObject({ index: nullable(stringSchema), receipted: booleanSchema })),
});

export const outboxesAnswer: JsonSchema = exactObject({
  service: stringSchema,
  outboxes: arrayOf(
    exactObject({
      name: stringSchema,
      pending: integerSchema,
      retrying: integerSchema,
      abandoned: integerSchema,
      oldestPendingAgeSeconds: nullable({ type: 'number' }),
    }),
  ),
});

/** The Server-Sent Events stream of payment requests for a customer's device. */
export const deviceEventStream: JsonSchema = {
  content: { 'text/event-stream': { schema: { type: 'string' } } },
  description: 'Server-Sent Events: `payment-request` events, each a sealed push message',
};
