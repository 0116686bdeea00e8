import { MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { claimTradeCode } from '../m-trade/claim.ts';
import { createTradeClaimLimits, type TradeClaimLimits } from '../m-trade/limits.ts';
import { findClaim } from '../m-trade/store.ts';
import { verifyTillCode } from '../m-trade/verify.ts';
import { findParty } from '../registry/parties.ts';
import { tradeClaimed, tradeNotification } from './answers.ts';
import { type AuthenticatedParty, authenticateParty } from './auth.ts';
import { answerOnce } from './idempotent.ts';

/** EMV limits a payload to 512 characters; a character is at most two UTF-16 units. The parser counts exactly. */
const claimSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['payload'],
  properties: { payload: { type: 'string', minLength: 1, maxLength: 1_024 } },
} as const;

const transactionIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * m-trade at the till (iMS §2.2, Figure 2):
 *
 * - POST /m-trade/claims — the customer's device (signed `Authorization: MPay`
 *   token of a customer's bound key) sends the till's QR code `{ payload }`;
 *   the FSP verifies it (CRC, layout, expiry, the merchant's certified
 *   signature), records the claim (first wins) and notifies the merchant.
 * - GET /m-trade/claims/:transactionId — the merchant (its certified key)
 *   reads the FSP's signed notification of a claim of its code (404 until
 *   there is one), for a till that takes no webhooks.
 */
export function registerTradeRoutes(
  app: FastifyInstance,
  context: GatewayContext,
  limits: TradeClaimLimits = createTradeClaimLimits(),
): void {
  const callers = new WeakMap<FastifyRequest, AuthenticatedParty>();
  // Before the body is validated: an unauthenticated caller learns nothing about the schema.
  const preValidation = async (request: FastifyRequest) => {
    callers.set(request, await authenticateParty(context, request));
  };
  const callerOf = (request: FastifyRequest): AuthenticatedParty => {
    const caller = callers.get(request);
    if (caller === undefined) throw new Error('assertion failed: preValidation authenticated the caller');
    return caller;
  };

  const tags = ['m-trade'];
  const claim = {
    summary: "The customer's device claims a till's QR code",
    tags,
    body: claimSchema,
    response: { 201: tradeClaimed },
  };
  app.post('/m-trade/claims', { schema: claim, preValidation }, async (request, reply) => {
    const customer = await findParty(context.database, callerOf(request).partyId);
    if (customer?.kind !== 'person') throw new MpayError('FORBIDDEN', 'a customer claims a till code');
    const verified = await verifyTillCode(context, (request.body as { payload: string }).payload);
    const answer = await answerOnce(context, request, reply, customer.id, 201, (sql, now) =>
      claimTradeCode(context, limits, sql, customer, verified, now),
    );
    context.kickOutbox();
    return answer;
  });

  const notification = {
    summary: "The FSP's signed notification of a claim of the merchant's code",
    tags,
    response: { 200: tradeNotification },
  };
  app.get('/m-trade/claims/:transactionId', { schema: notification, preValidation }, async (request) => {
    const transactionId = (request.params as { transactionId?: unknown }).transactionId;
    if (typeof transactionId !== 'string' || !transactionIdPattern.test(transactionId))
      throw new MpayError('NOT_FOUND');
    const claim = await findClaim(context.database, transactionId);
    // Another merchant's claim is as unknown as no claim.
    if (claim === undefined || claim.merchantId !== callerOf(request).partyId)
      throw new MpayError('NOT_FOUND');
    return { notification: claim.notification };
  });
}
