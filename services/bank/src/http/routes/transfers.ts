import { httpStatusOf } from '@mpay/http-server';
import {
  refuseLinkedChain,
  type TransferInput,
  type TransferRequest,
  type TransferResult,
  validateTransfer,
} from '@mpay/ledger';
import { assert, isMpayError, type MpayError } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import { bankDocs } from '../answers.ts';
import type { RouteContext } from '../context.ts';
import { respondIdempotently } from '../idempotent.ts';
import { transferJson } from '../json.ts';
import {
  type CreateTransferBody,
  type CreateTransfersBody,
  createTransferBodySchema,
  createTransfersBodySchema,
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

/**
 * The largest POST /transfers/batch body: 100 transfers of at most about 1.1 KB
 * each (a 128-character reference escaped as \\uXXXX is 768 bytes alone).
 */
export const transferBatchBodyLimitBytes = 128 * 1024;

type Validated = { readonly request: TransferRequest } | { readonly error: MpayError };

function validateEach(body: CreateTransfersBody, context: RouteContext): Validated[] {
  return body.transfers.map((item) => {
    try {
      return { request: validateTransfer(inputOf(item), context.limits) };
    } catch (error) {
      if (!isMpayError(error)) throw error;
      return { error };
    }
  });
}

/**
 * Each transfer alone, or (linked) all or none. A transfer the validation
 * refuses is refused like one the ledger refuses: alone, it takes nothing
 * else down; in a chain, the others answer LINKED_EVENT_FAILED.
 */
async function createEach(
  body: CreateTransfersBody,
  context: RouteContext,
  now: Date,
): Promise<TransferResult[]> {
  const validated = validateEach(body, context);
  const linked = body.linked ?? false;
  const refused = validated.findIndex((item) => 'error' in item);
  const first = validated[refused];
  if (linked && first !== undefined && 'error' in first) {
    return refuseLinkedChain(
      body.transfers.map((item) => item.id),
      refused,
      first.error,
    );
  }
  const requests = validated.flatMap((item) => ('request' in item ? [item.request] : []));
  const created = await context.ledger.createTransfers(requests, { linked }, now);
  let next = 0;
  return validated.map((item) => {
    if ('error' in item) return item;
    const result = created[next++];
    assert(result !== undefined, 'one result per valid transfer');
    return result;
  });
}

async function resultJson(result: TransferResult, context: RouteContext, now: Date) {
  if ('error' in result) return { status: httpStatusOf(result.error.code), error: result.error.toJSON() };
  const view = await context.ledger.describeTransfer(result.transfer, now);
  return { status: result.created ? 201 : 200, transfer: transferJson(view) };
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
    { schema: { ...bankDocs['POST /transfers'], body: createTransferBodySchema } },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, () => create(inputOf(request.body))),
  );

  /** Up to 100 transfers (optionally linked): 200 with one result per transfer, each with its own status. */
  app.post<{ Body: CreateTransfersBody }>(
    '/transfers/batch',
    {
      schema: { ...bankDocs['POST /transfers/batch'], body: createTransfersBodySchema },
      bodyLimit: transferBatchBodyLimitBytes,
    },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, async () => {
        const now = context.clock();
        const results = await createEach(request.body, context, now);
        const answers = await Promise.all(results.map((result) => resultJson(result, context, now)));
        return { statusCode: 200, body: { results: answers } };
      }),
  );

  app.post<{ Params: IdParams; Body: PostPendingBody }>(
    '/transfers/:id/post',
    {
      schema: {
        ...bankDocs['POST /transfers/:id/post'],
        params: idParamsSchema,
        body: postPendingBodySchema,
      },
    },
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
    {
      schema: {
        ...bankDocs['POST /transfers/:id/void'],
        params: idParamsSchema,
        body: voidPendingBodySchema,
      },
    },
    async (request, reply) => {
      const { id = context.newId(), reference } = request.body;
      const input = { id, kind: 'void_pending', pendingId: request.params.id, reference };
      return respondIdempotently(context.database, request, reply, () => create(input));
    },
  );

  app.get<{ Params: IdParams }>(
    '/transfers/:id',
    { schema: { ...bankDocs['GET /transfers/:id'], params: idParamsSchema } },
    async (request) => transferJson(await context.ledger.getTransfer(request.params.id, context.clock())),
  );
}
