import { type TransferInput, validateTransfer } from '@mpay/ledger';
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.ts';
import { respondIdempotently } from '../idempotent.ts';
import { transferJson } from '../json.ts';
import {
  type CreateTransferBody,
  createTransferBodySchema,
  type IdParams,
  idParamsSchema,
  type PostPendingBody,
  postPendingBodySchema,
  type VoidPendingBody,
  voidPendingBodySchema,
} from '../schemas.ts';

/** The schema has checked the amount text (^[1-9][0-9]{0,17}$); the ledger rules check its maximum. */
function minorUnitsOf(text: string | undefined): bigint | undefined {
  return text === undefined ? undefined : BigInt(text);
}

function inputOf(body: CreateTransferBody): TransferInput {
  const { currency, amount, kind = 'posted', ...rest } = body;
  return { ...rest, kind, ledger: currency, amount: minorUnitsOf(amount) };
}

export function registerTransferRoutes(app: FastifyInstance, context: RouteContext): void {
  const create = async (input: TransferInput) => {
    const now = context.clock();
    const outcome = await context.ledger.createTransfer(validateTransfer(input, context.limits), now);
    const view = await context.ledger.describeTransfer(outcome.transfer, now);
    return { statusCode: outcome.created ? 201 : 200, body: transferJson(view) };
  };

  app.post<{ Body: CreateTransferBody }>(
    '/transfers',
    { schema: { body: createTransferBodySchema } },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, () => create(inputOf(request.body))),
  );

  app.post<{ Params: IdParams; Body: PostPendingBody }>(
    '/transfers/:id/post',
    { schema: { params: idParamsSchema, body: postPendingBodySchema } },
    async (request, reply) => {
      const { id = context.newId(), amount, reference } = request.body;
      const input = {
        id,
        kind: 'post_pending',
        pendingId: request.params.id,
        amount: minorUnitsOf(amount),
        reference,
      };
      return respondIdempotently(context.database, request, reply, () => create(input));
    },
  );

  app.post<{ Params: IdParams; Body: VoidPendingBody }>(
    '/transfers/:id/void',
    { schema: { params: idParamsSchema, body: voidPendingBodySchema } },
    async (request, reply) => {
      const { id = context.newId(), reference } = request.body;
      const input = { id, kind: 'void_pending', pendingId: request.params.id, reference };
      return respondIdempotently(context.database, request, reply, () => create(input));
    },
  );

  app.get<{ Params: IdParams }>('/transfers/:id', { schema: { params: idParamsSchema } }, async (request) =>
    transferJson(await context.ledger.getTransfer(request.params.id, context.clock())),
  );
}
