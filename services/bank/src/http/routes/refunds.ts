import { signPayload } from '@mpay/envelope';
import { httpStatusOf } from '@mpay/http-server';
import { errorCategoryOf, isMpayError, isPartyId, MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { deliverRefundOrder } from '../../interbank/refund-deliver.ts';
import { placeRefundOrder, type RefundOrderInput } from '../../interbank/refund-order.ts';
import { type RefundOrder, selectRefundOrder } from '../../interbank/refund-orders-store.ts';
import { receiveRefundTransfer } from '../../interbank/refund-receive.ts';
import { OrderRefusal } from '../../interbank/refusal.ts';
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
import type { InterbankRouteContext } from './interbank.ts';

const bankId = { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' } as const;

/** The merchant's compact JWS (three base64url parts). */
const compactJws = {
  type: 'string',
  minLength: 5,
  maxLength: 16_384,
  pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$',
} as const;

const refundOrderBodySchema = {
  type: 'object',
  properties: {
    id: ledgerId,
    originalOrderId: ledgerId,
    originalBank: bankId,
    payerId: partyId,
    payeeId: partyId,
    amount: minorUnits,
    currency,
    reference,
    authorisation: compactJws,
  },
  required: [
    'id',
    'originalOrderId',
    'originalBank',
    'payerId',
    'payeeId',
    'amount',
    'currency',
    'reference',
    'authorisation',
  ],
  additionalProperties: false,
} as const satisfies StrictSchema;

interface RefundOrderBody {
  id: string;
  originalOrderId: string;
  originalBank: string;
  payerId: string;
  payeeId: string;
  amount: string;
  currency: string;
  reference: string;
  authorisation: string;
}

const refundTransferBodySchema = {
  type: 'object',
  properties: { message: { type: 'string', minLength: 1, maxLength: 8192 } },
  required: ['message'],
  additionalProperties: false,
} as const satisfies StrictSchema;

/** How long the bank's signed answer to a refund order verifies: the FSP checks it on receipt and keeps it. */
const bankAnswerLifetimeSeconds = 86_400;

/** What the bank signs about a refund order: who pays whom back how much, for which payment, its state, a refusal's code. */
interface SignedRefundOrder {
  readonly id: string;
  readonly state: 'completed' | 'refused';
  readonly originalOrderId: string;
  readonly payerId: string;
  readonly payeeId: string;
  readonly amount: string;
  readonly currency: string;
  readonly refusalCode?: string;
}

/**
 * The merchant's bank's own word on a refund order, for the FSP that ordered
 * it to keep as evidence: a compact JWS by the bank's signing key, addressed
 * to the FSP, for the refund id; `refundOrder`, never `paymentOrder`, so that
 * neither answer can stand for the other.
 */
function signRefundOrderAnswer(
  context: InterbankRouteContext,
  refundOrder: SignedRefundOrder,
  audience: string,
): Promise<string> {
  return signPayload(
    { refundOrder },
    {
      issuer: context.bank.id,
      audience,
      transactionId: refundOrder.id,
      expiresInSeconds: bankAnswerLifetimeSeconds,
    },
    context.bank.signingKey,
  );
}

/** A refund order as the FSP sees it, with the bank's signed answer once it is finished. */
async function refundOrderJson(context: InterbankRouteContext, order: RefundOrder) {
  const bankAnswer =
    order.state === 'sending'
      ? undefined
      : await signRefundOrderAnswer(
          context,
          {
            id: order.id,
            state: order.state,
            originalOrderId: order.originalOrderId,
            payerId: order.payerId,
            payeeId: order.payeeId,
            amount: order.amount.toString(),
            currency: order.ledger,
            ...(order.refusalCode === null ? {} : { refusalCode: order.refusalCode }),
          },
          order.orderedBy,
        );
  return {
    id: order.id,
    state: order.state,
    originalOrderId: order.originalOrderId,
    originalBank: order.originalBank,
    payerId: order.payerId,
    payeeId: order.payeeId,
    amount: order.amount.toString(),
    currency: order.ledger,
    ...(order.refusalCode === null ? {} : { refusalCode: order.refusalCode }),
    attempts: order.attempts,
    ...(order.answer === null ? {} : { answer: order.answer }),
    ...(bankAnswer === undefined ? {} : { bankAnswer }),
  };
}

/**
 * The answer to a refund order this bank refused before any money moved (a
 * decision: the merchant's signature, the original, the amount left, the
 * funds): the usual error body and status, plus the bank's signed word on
 * the refusal with the code only, never the reason.
 */
async function sendSignedRefusal(
  context: InterbankRouteContext,
  reply: FastifyReply,
  input: RefundOrderInput,
  orderedBy: string,
  refusal: MpayError,
): Promise<FastifyReply> {
  const bankAnswer = await signRefundOrderAnswer(
    context,
    {
      id: input.id,
      state: 'refused',
      originalOrderId: input.originalOrderId,
      payerId: input.payerId,
      payeeId: input.payeeId,
      amount: input.amount.toString(),
      currency: input.currency,
      refusalCode: refusal.code,
    },
    orderedBy,
  );
  return reply
    .status(httpStatusOf(refusal.code))
    .type('application/json')
    .send({ error: refusal.toJSON(), bankAnswer });
}

/** A refusal is a decision on the refund (signed) when the bank decided it, or the ledger refused (funds, account). */
function isDecision(error: unknown): error is MpayError {
  return error instanceof OrderRefusal || (isMpayError(error) && errorCategoryOf(error.code) === 'refused');
}

/**
 * The FSP's refund orders (authenticated by the request verifier): POST
 * /refund-orders places one at the merchant's bank (201 finished, 202 while
 * the customer's bank has not answered: ask again with the same body), GET
 * /refund-orders/:id reads it.
 */
export function registerRefundOrderRoutes(app: FastifyInstance, context: InterbankRouteContext): void {
  app.post<{ Body: RefundOrderBody }>(
    '/refund-orders',
    { schema: { ...bankDocs['POST /refund-orders'], body: refundOrderBodySchema } },
    async (request, reply) => {
      const { amount, ...rest } = request.body;
      if (!isPartyId(rest.payerId)) throw new MpayError('REQUEST_INVALID', 'payerId');
      if (!isPartyId(rest.payeeId)) throw new MpayError('REQUEST_INVALID', 'payeeId');
      const input: RefundOrderInput = { ...rest, amount: BigInt(amount) };
      const orderedBy = callerOf(request);
      let placed: RefundOrder;
      try {
        placed = await placeRefundOrder(context, input, orderedBy, context.clock());
      } catch (error) {
        if (isDecision(error)) return sendSignedRefusal(context, reply, input, orderedBy, error);
        throw error;
      }
      const order =
        placed.state === 'sending' ? ((await deliverRefundOrder(context, placed.id)) ?? placed) : placed;
      return reply.code(order.state === 'sending' ? 202 : 201).send(await refundOrderJson(context, order));
    },
  );

  app.get<{ Params: IdParams }>(
    '/refund-orders/:id',
    { schema: { ...bankDocs['GET /refund-orders/:id'], params: idParamsSchema } },
    async (request) => {
      const order = await selectRefundOrder(context.database, request.params.id);
      if (order === undefined) throw new MpayError('TRANSFER_UNKNOWN');
      return refundOrderJson(context, order);
    },
  );
}

/** The route peer banks call with refund-transfer messages; authenticated by the signed message itself. */
export function registerRefundTransferRoute(app: FastifyInstance, context: InterbankRouteContext): void {
  app.post<{ Body: { message: string } }>(
    '/interbank/refund-transfers',
    { schema: { ...bankDocs['POST /interbank/refund-transfers'], body: refundTransferBodySchema } },
    async (request) => {
      checkMessageSignerIsPeer(request, request.body.message);
      return { answer: await receiveRefundTransfer(context, request.body.message) };
    },
  );
}
