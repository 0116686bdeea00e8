import { arrayOf, exactObject, pendingState } from '@mpay/http-server';
import { isRefundId, MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { deliverPaymentEffects } from '../outbox/deliver.ts';
import { paymentOfParty } from '../payments/status.ts';
import { refundLogReceiptOf } from '../refunds/log.ts';
import { createRefund, parseRefundRequestBody, verifyRefundRequest } from '../refunds/request.ts';
import { findRefund, listRefundsOfPayment, type Refund } from '../refunds/store.ts';
import { refundOfParty, refundView } from '../refunds/view.ts';
import { logReceipt, refundAnswer } from './answers.ts';
import { authenticateParty } from './auth.ts';
import { paymentId } from './payments.ts';

/** A malformed refund id is an unknown refund. */
function refundIdOf(request: FastifyRequest): string {
  const id = (request.params as { refundId?: unknown }).refundId;
  if (!isRefundId(id)) throw new MpayError('REFUND_UNKNOWN');
  return id;
}

/** Refunds GET /payments/:id/refunds lists at most (newest first); a payment rarely has more than a few. */
export const refundsListedMax = 100;

/** 200 once the refund has its outcome (completed, refused, failed), 202 while its banks have not answered. */
function statusCodeOf(status: string): number {
  return status === 'requested' || status === 'ordered' ? 202 : 200;
}

/**
 * Refunds through the payment chain.
 *
 * - POST /payments/:id/refunds — the merchant (signed request, body
 *   `{refund: <the merchant's JWS over the refund content>, reason?}`) gives
 *   back all or part of a completed payment. Idempotent by the refund id the
 *   signature names: the same id with the same payment, amount and reason
 *   answers the refund as it stands; with anything else REFUND_ID_REUSED. The
 *   order to the merchant's bank is delivered at once and the answer waits
 *   for it up to `confirmationWaitMs`: 200 with the outcome, 202 while the
 *   banks have not answered (ask with GET).
 * - GET /payments/:id/refunds — the payment's refunds, newest first (at
 *   most `refundsListedMax`), for its parties: a phone that was offline
 *   when a refund receipt was pushed finds it here.
 * - GET /payments/:id/refunds/:refundId — the refund, for the payment's
 *   parties; the customer's answer carries the refund receipt, encrypted.
 * - GET /payments/:id/refunds/:refundId/evidence — the refund's log receipt
 *   (200), 202 while the log has not proved it, EVIDENCE_UNKNOWN if none.
 */
const tags = ['refunds'];
const refundOutcome = {
  200: { ...refundAnswer, description: 'The refund has its outcome' },
  202: { ...refundAnswer, description: 'The banks have not answered yet' },
};
const refundRequestSchema: FastifySchema = {
  summary: 'The merchant refunds all or part of a completed payment',
  tags,
  rawBody: {
    contentTypes: ['application/json'],
    description:
      "`{ refund: <the merchant's JWS over the refund content>, reason? }` (parseRefundRequestBody)",
    schema: {
      type: 'object',
      required: ['refund'],
      properties: { refund: { type: 'string' }, reason: { type: 'string' } },
    },
  },
  response: refundOutcome,
};
const refundListSchema = {
  summary: "A payment's refunds, newest first",
  tags,
  response: { 200: exactObject({ refunds: arrayOf(refundAnswer) }) },
};
const refundSchema: FastifySchema = { summary: 'A refund as it stands', tags, response: refundOutcome };
const refundEvidenceSchema = {
  summary: "A refund's log receipt (mpay-receipt/v1)",
  tags,
  response: { 200: logReceipt, 202: { ...pendingState, description: 'The log has not proved it yet' } },
};

export function registerRefundRoutes(app: FastifyInstance, context: GatewayContext): void {
  app.post('/payments/:id/refunds', { schema: refundRequestSchema }, async (request, reply) => {
    const caller = await authenticateParty(context, request);
    const id = paymentId(request);
    const verified = await verifyRefundRequest(
      context,
      id,
      caller.partyId,
      parseRefundRequestBody(request.body),
    );
    const { refund } = await createRefund(context, verified);
    const view = await refundView(context, await awaitMerchantBank(context, refund));
    return reply.code(statusCodeOf(view.status)).send(view);
  });

  app.get('/payments/:id/refunds', { schema: refundListSchema }, async (request) => {
    const caller = await authenticateParty(context, request);
    const payment = await paymentOfParty(context, paymentId(request), caller.partyId);
    const isCustomer = caller.partyId === payment.customer.id;
    const refunds = await listRefundsOfPayment(context.database, payment.id, refundsListedMax);
    return { refunds: await Promise.all(refunds.map((refund) => refundView(context, refund, isCustomer))) };
  });

  app.get('/payments/:id/refunds/:refundId', { schema: refundSchema }, async (request, reply) => {
    const caller = await authenticateParty(context, request);
    const { refund, isCustomer } = await refundOfParty(
      context,
      paymentId(request),
      refundIdOf(request),
      caller.partyId,
    );
    const view = await refundView(context, refund, isCustomer);
    return reply.code(statusCodeOf(view.status)).send(view);
  });

  app.get(
    '/payments/:id/refunds/:refundId/evidence',
    { schema: refundEvidenceSchema },
    async (request, reply: FastifyReply) => {
      const caller = await authenticateParty(context, request);
      const { refund } = await refundOfParty(
        context,
        paymentId(request),
        refundIdOf(request),
        caller.partyId,
      );
      const logged = await refundLogReceiptOf(context.database, refund.id);
      if (!logged.queued) throw new MpayError('EVIDENCE_UNKNOWN');
      if (logged.receipt === undefined) return reply.code(202).send({ state: 'pending' });
      return reply.type('application/json').send(logged.receipt);
    },
  );
}

/**
 * Delivers the refund's order now and waits, up to `confirmationWaitMs`, for
 * the merchant's bank to take it (the background round may hold the row:
 * then its answer is awaited). A customer at another bank is usually paid
 * back within that call; when the customer's bank is slow the refund is
 * `ordered` and the merchant asks again with GET.
 */
async function awaitMerchantBank(context: GatewayContext, refund: Refund): Promise<Refund> {
  const deadline = Date.now() + context.limits.confirmationWaitMs;
  for (;;) {
    await deliverPaymentEffects(context, refund.paymentId, 'refund_order', 0);
    const current = await findRefund(context.database, refund.id);
    const remainingMs = deadline - Date.now();
    if (current.state !== 'merchant_refund_verified' || remainingMs <= 0) return current;
    // Waiting for a condition (the bank's answer), polled at the outbox's base backoff.
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(remainingMs, context.limits.outboxBackoffBaseMs)),
    );
  }
}
