import { signPayload } from '@mpay/envelope';
import { httpStatusOf } from '@mpay/http-server';
import { errorCategoryOf, isMpayError, isPartyId, MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { OrderApproval } from '../../interbank/approval.ts';
import { type DeliveryContext, deliverPlacedOrder } from '../../interbank/deliver.ts';
import { type OrderContext, type PaymentOrderInput, placeOrder } from '../../interbank/order.ts';
import type { PaymentOrder } from '../../interbank/orders-store.ts';
import { selectOrder } from '../../interbank/orders-store.ts';
import { type ReceiveContext, receiveFundsTransfer } from '../../interbank/receive.ts';
import { bookSettlement, type SettlementContext, settlementPositions } from '../../interbank/settlement.ts';
import { bankDocs } from '../answers.ts';
import { callerOf } from '../authenticate.ts';
import {
  currency,
  type IdParams,
  idParamsSchema,
  ledgerId,
  minorUnits,
  partyId,
  reference,
} from '../schemas.ts';
import type { StrictSchema } from '../strict-validator.ts';
import { checkMessageSignerIsPeer } from '../tls-peer.ts';

const bankId = { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' } as const;

/** A compact JWS, as the iMS message carries a signature (three base64url parts). */
const compactJws = {
  type: 'string',
  maxLength: 16_384,
  pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$',
} as const;

/**
 * `authorisation` is not required by the schema: an order without one is
 * refused with its own code (CUSTOMER_AUTHORISATION_REQUIRED) and recorded.
 */
const paymentOrderBodySchema = {
  type: 'object',
  properties: {
    id: ledgerId,
    payerId: partyId,
    debitAccountId: ledgerId,
    payeeId: partyId,
    creditBankId: bankId,
    amount: minorUnits,
    currency,
    reference,
    authorisation: compactJws,
  },
  required: ['id', 'payerId', 'debitAccountId', 'payeeId', 'creditBankId', 'amount', 'currency', 'reference'],
  additionalProperties: false,
} as const satisfies StrictSchema;

interface PaymentOrderBody {
  id: string;
  payerId: string;
  debitAccountId: string;
  payeeId: string;
  creditBankId: string;
  amount: string;
  currency: string;
  reference: string;
  authorisation?: string;
}

const fundsTransferBodySchema = {
  type: 'object',
  properties: { message: { type: 'string', minLength: 1, maxLength: 8192 } },
  required: ['message'],
  additionalProperties: false,
} as const satisfies StrictSchema;

const settlementBodySchema = {
  type: 'object',
  properties: {
    id: ledgerId,
    peer: bankId,
    currency,
    amount: { type: 'string', pattern: '^-?[1-9][0-9]{0,17}$' },
  },
  required: ['id', 'peer', 'currency', 'amount'],
  additionalProperties: false,
} as const satisfies StrictSchema;

export type InterbankRouteContext = OrderContext & DeliveryContext & ReceiveContext & SettlementContext;

/** How long the bank's signed answer to an order verifies: the FSP checks it on receipt and keeps it. */
const bankAnswerLifetimeSeconds = 86_400;

/**
 * What the bank signs about an order: who pays whom how much, its state and,
 * if refused, the code only; for a completed order accepted at a level that
 * asks for it, the bank's explicit approval (`OrderApproval`: level, checks,
 * approvedAt).
 */
interface SignedPaymentOrder {
  readonly id: string;
  readonly state: 'completed' | 'refused';
  readonly payerId: string;
  readonly payeeId: string;
  readonly amount: string;
  readonly currency: string;
  readonly refusalCode?: string;
  readonly approval?: OrderApproval;
}

/**
 * The bank's own word on an order, for the FSP that ordered it to keep as
 * evidence: a compact JWS by the bank's signing key (GET /bank), addressed to
 * the FSP, for the order id. Signed afresh on every answer, with the wall
 * clock (like the funds-transfer messages: freshness is about transport, not
 * the ledger's clock).
 */
function signBankAnswer(
  context: InterbankRouteContext,
  paymentOrder: SignedPaymentOrder,
  audience: string,
): Promise<string> {
  return signPayload(
    { paymentOrder },
    {
      issuer: context.bank.id,
      audience,
      transactionId: paymentOrder.id,
      expiresInSeconds: bankAnswerLifetimeSeconds,
    },
    context.bank.signingKey,
  );
}

/**
 * The signed answer for a finished order (completed, or refused by the
 * merchant bank). None while the order is still being delivered, nor for
 * orders placed before orders named their parties.
 */
async function bankAnswerOf(
  context: InterbankRouteContext,
  order: PaymentOrder,
): Promise<string | undefined> {
  if (order.state === 'sending' || order.payerId === null || order.payeeId === null) return undefined;
  return signBankAnswer(
    context,
    {
      id: order.id,
      state: order.state,
      payerId: order.payerId,
      payeeId: order.payeeId,
      amount: order.amount.toString(),
      currency: order.ledger,
      ...(order.refusalCode === null ? {} : { refusalCode: order.refusalCode }),
      // The approval stands for a payment that was made: none on an order the payee's bank refused.
      ...(order.state === 'completed' && order.approval !== null ? { approval: order.approval } : {}),
    },
    order.orderedBy,
  );
}

/**
 * The answer to an order this bank refused before any money moved (a
 * `refused`-category code: the customer's authorisation, the payee, the
 * ledger, the limits): the usual error body and status, unchanged, plus the
 * bank's signed word on the refusal, so that the FSP records it on evidence
 * rather than on an unsigned body. Only the code is signed, never the
 * reason. Reached only from the route handler, so only for an authenticated
 * caller whose order passed the schema.
 */
async function sendSignedRefusal(
  context: InterbankRouteContext,
  reply: FastifyReply,
  input: PaymentOrderInput,
  orderedBy: string,
  refusal: MpayError,
): Promise<FastifyReply> {
  const bankAnswer = await signBankAnswer(
    context,
    {
      id: input.id,
      state: 'refused',
      payerId: input.payerId,
      payeeId: input.payeeId,
      amount: input.amount.toString(),
      currency: input.currency,
      refusalCode: refusal.code,
    },
    orderedBy,
  );
  if (refusal.retryAfterSeconds !== undefined) reply.header('retry-after', String(refusal.retryAfterSeconds));
  return reply
    .status(httpStatusOf(refusal.code))
    .type('application/json')
    .send({ error: refusal.toJSON(), bankAnswer });
}

/** A payment order as the FSP sees it: no payee account (the payee's bank alone knows it). */
export async function orderJson(context: InterbankRouteContext, order: PaymentOrder) {
  const bankAnswer = await bankAnswerOf(context, order);
  return {
    id: order.id,
    state: order.state,
    ...(order.payerId === null ? {} : { payerId: order.payerId }),
    debitAccountId: order.debitAccountId,
    ...(order.payeeId === null ? {} : { payeeId: order.payeeId }),
    creditBankId: order.creditorBank,
    amount: order.amount.toString(),
    currency: order.ledger,
    ...(order.refusalCode === null ? {} : { refusalCode: order.refusalCode }),
    attempts: order.attempts,
    ...(order.answer === null ? {} : { answer: order.answer }),
    ...(bankAnswer === undefined ? {} : { bankAnswer }),
  };
}

function requirePartyIds(body: PaymentOrderBody): void {
  if (!isPartyId(body.payerId)) throw new MpayError('REQUEST_INVALID', 'payerId');
  if (!isPartyId(body.payeeId)) throw new MpayError('REQUEST_INVALID', 'payeeId');
  // The references a macro payment's and a banking request's own orders carry (macro/funds-transfer.ts,
  // banking/business-logic-server): only the client's approval or signed banking request places one.
  if (/^(macro|banking|bill) /.test(body.reference)) throw new MpayError('REQUEST_INVALID', 'reference');
}

const creditQuerySchema = {
  type: 'object',
  properties: { from: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' } },
  additionalProperties: false,
} as const satisfies StrictSchema;

/**
 * Routes the FSP and the operator call (authenticated by the bank's request
 * verifier): payment orders (iMS step 7: the customer's bank pays, locally or
 * through the merchant's bank), settlement positions and settlement runs.
 */
export function registerPaymentOrderRoutes(app: FastifyInstance, context: InterbankRouteContext): void {
  app.post<{ Body: PaymentOrderBody }>(
    '/payment-orders',
    { schema: { ...bankDocs['POST /payment-orders'], body: paymentOrderBodySchema } },
    async (request, reply) => {
      requirePartyIds(request.body);
      const { amount, ...rest } = request.body;
      const input: PaymentOrderInput = { ...rest, amount: BigInt(amount) };
      const orderedBy = callerOf(request);
      let placed: PaymentOrder;
      try {
        placed = await placeOrder(context, input, orderedBy, context.clock());
      } catch (error) {
        // Refused before any money moved: signed too. Any other failure (final, retryable) is answered unsigned.
        if (isMpayError(error) && errorCategoryOf(error.code) === 'refused') {
          return sendSignedRefusal(context, reply, input, orderedBy, error);
        }
        throw error;
      }
      const order = await deliverPlacedOrder(context, placed);
      // 201 for a finished order, 202 while the merchant bank has not answered: ask again with the same id.
      return reply.code(order.state === 'sending' ? 202 : 201).send(await orderJson(context, order));
    },
  );

  app.get<{ Params: IdParams }>(
    '/payment-orders/:id',
    { schema: { ...bankDocs['GET /payment-orders/:id'], params: idParamsSchema } },
    async (request) => {
      const order = await selectOrder(context.database, request.params.id);
      if (order === undefined) throw new MpayError('TRANSFER_UNKNOWN');
      return orderJson(context, order);
    },
  );

  // The merchant bank's record of a funds transfer it decided (the message as received, kept as evidence).
  app.get<{ Params: IdParams; Querystring: { from?: string } }>(
    '/interbank/credits/:id',
    {
      schema: {
        ...bankDocs['GET /interbank/credits/:id'],
        params: idParamsSchema,
        querystring: creditQuerySchema,
      },
    },
    async (request) => {
      // Ids are the debtor bank's: two peers may use one; `from` names the peer when they do.
      const from = request.query.from;
      const { rows } = await context.database.query<{
        id: string;
        debtor_bank: string;
        outcome: 'credited' | 'refused';
        refusal_code: string | null;
        payee_id: string | null;
        amount: string | number | bigint;
        ledger: string;
        message: string;
        created_at: Date | string;
      }>(
        `SELECT id, debtor_bank, outcome, refusal_code, payee_id, amount, ledger, message, created_at
           FROM interbank_credits WHERE id = $1 AND ($2::text IS NULL OR debtor_bank = $2) LIMIT 2`,
        [request.params.id, from ?? null],
      );
      const row = rows[0];
      if (row === undefined) throw new MpayError('TRANSFER_UNKNOWN');
      if (rows.length > 1) throw new MpayError('REQUEST_INVALID', 'from');
      return {
        id: row.id,
        debtorBank: row.debtor_bank,
        outcome: row.outcome,
        ...(row.refusal_code === null ? {} : { refusalCode: row.refusal_code }),
        ...(row.payee_id === null ? {} : { payeeId: row.payee_id }),
        amount: String(row.amount),
        currency: row.ledger,
        message: row.message,
        createdAt: new Date(row.created_at).toISOString(),
      };
    },
  );

  app.get('/settlement/positions', { schema: bankDocs['GET /settlement/positions'] }, async () => ({
    bank: context.interbank.self,
    positions: (await settlementPositions(context.database, context.interbank, context.clock())).map(
      (position) => ({
        ...position,
        net: position.net.toString(),
        pending: position.pending.toString(),
        inFlight: {
          count: position.inFlight.count,
          amount: position.inFlight.amount.toString(),
          overdue: position.inFlight.overdue,
        },
      }),
    ),
  }));

  app.post<{ Body: { id: string; peer: string; currency: string; amount: string } }>(
    '/settlements',
    { schema: { ...bankDocs['POST /settlements'], body: settlementBodySchema } },
    async (request, reply) => {
      const { amount, ...rest } = request.body;
      const booked = await bookSettlement(context, { ...rest, amount: BigInt(amount) }, context.clock());
      return reply
        .code(booked.created ? 201 : 200)
        .send({ id: request.body.id, transferId: booked.transferId });
    },
  );
}

/** The route peer banks call; authenticated by the signed message itself, not by the request verifier. */
export function registerFundsTransferRoute(app: FastifyInstance, context: InterbankRouteContext): void {
  app.post<{ Body: { message: string } }>(
    '/interbank/funds-transfers',
    { schema: { ...bankDocs['POST /interbank/funds-transfers'], body: fundsTransferBodySchema } },
    async (request) => {
      checkMessageSignerIsPeer(request, request.body.message);
      return { answer: await receiveFundsTransfer(context, request.body.message) };
    },
  );
}
