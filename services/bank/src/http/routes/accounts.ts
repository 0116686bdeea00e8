import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.ts';
import { respondIdempotently } from '../idempotent.ts';
import { accountJson } from '../json.ts';
import { type IdParams, idParamsSchema, type OpenAccountBody, openAccountBodySchema } from '../schemas.ts';

export function registerAccountRoutes(app: FastifyInstance, context: RouteContext): void {
  app.post<{ Body: OpenAccountBody }>(
    '/accounts',
    { schema: { body: openAccountBodySchema } },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, async () => {
        const { id = context.newId(), owner, currency, kind } = request.body;
        const outcome = await context.ledger.openAccount(
          { id, ledger: currency, owner, kind },
          context.clock(),
        );
        return { statusCode: outcome.created ? 201 : 200, body: accountJson(outcome.account) };
      }),
  );

  app.get<{ Params: IdParams }>('/accounts/:id', { schema: { params: idParamsSchema } }, async (request) =>
    accountJson(await context.ledger.getAccount(request.params.id)),
  );
}
