import { MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import type { ShopContext } from '../context.ts';
import { cancelSale } from '../till/cancel.ts';
import type { TillConfig } from '../till/config.ts';
import { createSale, type SaleInput } from '../till/create-sale.ts';
import { followSale } from '../till/follow.ts';
import { listPaidPayments } from '../till/payments.ts';
import { followRefund, type RefundRequest, refundPayment } from '../till/refunds.ts';
import { listSaleEvents, listSales } from '../till/store.ts';
import { paidPaymentView, refundView, saleView } from '../till/views.ts';
import { paidPaymentsAnswer, saleAnswer, salesAnswer, tillRefundAnswer } from './answers.ts';
import { uuidPattern } from './customer.ts';

/** The staff's key for one sale: what a retried request repeats (the page makes one per sale it enters). */
const idempotencyKeyPattern = /^[A-Za-z0-9_-]{16,64}$/;

const amountSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['currency', 'minor'],
  properties: {
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
    // Decimal minor units (bigint); the till's own limit answers AMOUNT_TOO_LARGE.
    minor: { type: 'string', pattern: '^[1-9][0-9]{0,17}$' },
  },
} as const;

const saleBody = {
  type: 'object',
  additionalProperties: false,
  required: ['amount'],
  properties: { amount: amountSchema, reference: { type: 'string', maxLength: 400 } },
} as const;

const saleParams = {
  type: 'object',
  additionalProperties: false,
  required: ['saleId'],
  properties: { saleId: { type: 'string', pattern: uuidPattern } },
} as const;

const refundBody = {
  type: 'object',
  additionalProperties: false,
  required: ['paymentId', 'refundId', 'amount'],
  properties: {
    paymentId: { type: 'string', pattern: uuidPattern },
    refundId: { type: 'string', pattern: uuidPattern },
    amount: amountSchema,
    reason: { type: 'string', maxLength: 400 },
  },
} as const;

const refundParams = {
  type: 'object',
  additionalProperties: false,
  required: ['refundId'],
  properties: { refundId: { type: 'string', pattern: uuidPattern } },
} as const;

const pageQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' },
    before: { type: 'string', pattern: '^[1-9][0-9]{0,17}$' },
  },
} as const;

function pageSize(context: ShopContext, limit: string | undefined): number {
  if (limit === undefined) return context.limits.pageSizeDefault;
  const size = Number(limit);
  if (size > context.limits.pageSizeMax) throw new MpayError('REQUEST_INVALID', 'limit');
  return size;
}

function idempotencyKeyOf(request: FastifyRequest): string {
  const header = request.headers['idempotency-key'];
  if (typeof header !== 'string' || !idempotencyKeyPattern.test(header))
    throw new MpayError('IDEMPOTENCY_KEY_INVALID');
  return header;
}

/**
 * The shop's till for its staff (iMS §2.2, m-trade): a sale becomes a QR
 * code the merchant signs; its status follows the customer's claim, the
 * payment request and the FSP's signed outcome; the staff refund paid sales
 * and orders. Every route requires the merchant's bearer token, checked in
 * constant time before the request is even validated (401
 * AUTHENTICATION_FAILED, the same for a missing and a wrong token). An
 * unknown sale is PAYMENT_UNKNOWN (a sale is a payment; its id the
 * payment's); an unknown refund REFUND_UNKNOWN.
 */
const tags = ['till'];
const docs = {
  newSale: {
    summary: 'A sale: its QR code, signed by the merchant',
    tags,
    response: { 200: saleAnswer, 201: saleAnswer },
  },
  sales: { summary: 'Sales, newest first', tags, response: { 200: salesAnswer } },
  sale: { summary: 'A sale as it stands, with its events', tags, response: { 200: saleAnswer } },
  cancellation: {
    summary: 'Cancels a sale not yet paid',
    tags,
    noRequestBody: true,
    response: { 200: saleAnswer },
  },
  payments: {
    summary: 'Paid sales and orders, with what is left to refund',
    tags,
    response: { 200: paidPaymentsAnswer },
  },
  newRefund: {
    summary: 'Refunds a paid sale or order',
    tags,
    response: { 200: tillRefundAnswer, 201: tillRefundAnswer },
  },
  refund: { summary: 'A refund as it stands', tags, response: { 200: tillRefundAnswer } },
} satisfies Record<string, FastifySchema>;

export function registerTillRoutes(
  app: FastifyInstance,
  context: ShopContext,
  till: TillConfig,
  authenticate: (request: FastifyRequest) => Promise<void>,
): void {
  const preValidation = authenticate;

  app.post(
    '/till/sales',
    { preValidation, schema: { ...docs.newSale, body: saleBody } as FastifySchema },
    async (request, reply) => {
      const result = await createSale(context, till, idempotencyKeyOf(request), request.body as SaleInput);
      return reply.status(result.created ? 201 : 200).send(saleView(result.sale));
    },
  );

  app.get(
    '/till/sales',
    { preValidation, schema: { ...docs.sales, querystring: pageQuery } },
    async (request) => {
      const query = request.query as { limit?: string; before?: string };
      const listed = await listSales(context.database, {
        beforeSeq: query.before,
        limit: pageSize(context, query.limit),
      });
      const sales = [];
      for (const sale of listed) {
        const current = await followSale(context, till, sale.id);
        if (current !== undefined) sales.push({ seq: current.seq, ...saleView(current) });
      }
      return { sales };
    },
  );

  app.get(
    '/till/sales/:saleId',
    { preValidation, schema: { ...docs.sale, params: saleParams } },
    async (request) => {
      const sale = await followSale(context, till, (request.params as { saleId: string }).saleId);
      if (sale === undefined) throw new MpayError('PAYMENT_UNKNOWN');
      return saleView(sale, await listSaleEvents(context.database, sale.id));
    },
  );

  app.post(
    '/till/sales/:saleId/cancellation',
    { preValidation, schema: { ...docs.cancellation, params: saleParams } },
    async (request) => {
      const sale = await cancelSale(context, till, (request.params as { saleId: string }).saleId);
      return saleView(sale, await listSaleEvents(context.database, sale.id));
    },
  );

  app.get(
    '/till/payments',
    { preValidation, schema: { ...docs.payments, querystring: pageQuery } },
    async (request) => {
      const query = request.query as { limit?: string };
      const payments = await listPaidPayments(context, till, pageSize(context, query.limit));
      return { payments: payments.map(paidPaymentView) };
    },
  );

  app.post(
    '/till/refunds',
    { preValidation, schema: { ...docs.newRefund, body: refundBody } as FastifySchema },
    async (request, reply) => {
      const result = await refundPayment(context, till, request.body as RefundRequest);
      return reply.status(result.created ? 201 : 200).send(refundView(result.refund));
    },
  );

  app.get(
    '/till/refunds/:refundId',
    { preValidation, schema: { ...docs.refund, params: refundParams } },
    async (request) => {
      const refund = await followRefund(context, (request.params as { refundId: string }).refundId);
      if (refund === undefined) throw new MpayError('REFUND_UNKNOWN');
      return refundView(refund);
    },
  );
}
