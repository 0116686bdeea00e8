import type { FastifyInstance } from 'fastify';
import { closeAccount } from '../../store/close.ts';
import { selectAccountLimits, selectAccountWithLimits } from '../../store/limits.ts';
import { bankDocs } from '../answers.ts';
import type { RouteContext } from '../context.ts';
import { respondIdempotently } from '../idempotent.ts';
import { accountJson } from '../json.ts';
import {
  closeAccountBodySchema,
  type IdParams,
  idParamsSchema,
  type OpenAccountBody,
  openAccountBodySchema,
} from '../schemas.ts';
import { accountWithLimitsJson } from './limits.ts';

export function registerAccountRoutes(app: FastifyInstance, context: RouteContext): void {
  app.post<{ Body: OpenAccountBody }>(
    '/accounts',
    { schema: { ...bankDocs['POST /accounts'], body: openAccountBodySchema } },
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

  /** The account with its balances, whether it is closed, and its debit limits. */
  app.get<{ Params: IdParams }>(
    '/accounts/:id',
    { schema: { ...bankDocs['GET /accounts/:id'], params: idParamsSchema } },
    async (request) =>
      accountWithLimitsJson(await selectAccountWithLimits(context.database, request.params.id)),
  );

  /**
   * POST /accounts/:id/close — closes an account with zero balance and no
   * open holds (else ACCOUNT_NOT_EMPTY, 409); a closed account refuses every
   * new transfer (ACCOUNT_CLOSED) and cannot reopen. Closing it again answers
   * the same closed account (200).
   */
  app.post<{ Params: IdParams }>(
    '/accounts/:id/close',
    {
      schema: {
        ...bankDocs['POST /accounts/:id/close'],
        params: idParamsSchema,
        body: closeAccountBodySchema,
      },
    },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, async () => {
        const { account } = await closeAccount(context.database, request.params.id);
        const limits = await selectAccountLimits(context.database, account.id);
        return { statusCode: 200, body: accountWithLimitsJson({ account, limits }) };
      }),
  );
}
