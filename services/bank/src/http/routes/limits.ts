import type { FastifyInstance } from 'fastify';
import { type AccountWithLimits, setAccountLimits } from '../../store/limits.ts';
import { bankDocs } from '../answers.ts';
import { callerOf } from '../authenticate.ts';
import type { RouteContext } from '../context.ts';
import { respondIdempotently } from '../idempotent.ts';
import { accountJson } from '../json.ts';
import { type IdParams, idParamsSchema, type SetLimitsBody, setLimitsBodySchema } from '../schemas.ts';

/** An account as GET /accounts/:id answers it: balances plus the debit limits in force. */
export function accountWithLimitsJson({ account, limits }: AccountWithLimits) {
  return {
    ...accountJson(account),
    limits: {
      ...(limits.perTransactionMax === undefined ? {} : { perTransactionMax: `${limits.perTransactionMax}` }),
      ...(limits.dailyDebitMax === undefined ? {} : { dailyDebitMax: `${limits.dailyDebitMax}` }),
    },
  };
}

/** The schema has checked the text (^[1-9][0-9]{0,17}$). */
function minorUnitsOf(text: string | undefined): bigint | undefined {
  return text === undefined ? undefined : BigInt(text);
}

/**
 * POST /accounts/:id/limits {perTransactionMax?, dailyDebitMax?} — the
 * operator sets the account's debit limits (minor units); the body is the
 * whole setting, an absent field removes that limit. Customer payment paths
 * enforce them with `checkDebitLimits`; the operator's own POST /transfers is
 * not limited. Answers the account with its limits (200); the history of
 * settings, with who set them, stays in `account_limits`.
 */
export function registerLimitRoutes(app: FastifyInstance, context: RouteContext): void {
  app.post<{ Params: IdParams; Body: SetLimitsBody }>(
    '/accounts/:id/limits',
    {
      schema: { ...bankDocs['POST /accounts/:id/limits'], params: idParamsSchema, body: setLimitsBodySchema },
    },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, async () => {
        const limits = {
          perTransactionMax: minorUnitsOf(request.body.perTransactionMax),
          dailyDebitMax: minorUnitsOf(request.body.dailyDebitMax),
        };
        const setBy = callerOf(request);
        const outcome = await setAccountLimits(
          context.database,
          request.params.id,
          limits,
          setBy,
          context.clock(),
        );
        return { statusCode: 200, body: accountWithLimitsJson(outcome) };
      }),
  );
}
