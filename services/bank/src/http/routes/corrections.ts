import type { FastifyInstance } from 'fastify';
import type { Correction, CorrectionRequest } from '../../corrections/correction.ts';
import { createCorrection, selectCorrectionsOf } from '../../store/corrections.ts';
import { bankDocs } from '../answers.ts';
import type { RouteContext } from '../context.ts';
import { respondIdempotently } from '../idempotent.ts';
import { transferJson } from '../json.ts';
import {
  type IdParams,
  idParamsSchema,
  type RefundBody,
  type ReverseBody,
  refundBodySchema,
  reverseBodySchema,
} from '../schemas.ts';

function correctionJson(correction: Correction) {
  return {
    ...transferJson({ transfer: correction.transfer }),
    correction: { kind: correction.kind, originalId: correction.originalId },
  };
}

/**
 * Corrections are new transfers, never updates; none is subject to debit limits.
 *
 * - POST /transfers/:id/refund {id, amount?, reference} — the payee gives
 *   back `amount` (default: all not yet refunded) of a posted transfer, as a
 *   new posted transfer from its credit account to its debit account. All
 *   refunds and reversals of one transfer add up to at most its amount
 *   (REFUND_EXCEEDS_ORIGINAL); a hold cannot be refunded (TRANSFER_NOT_POSTED:
 *   void it); the payee needs the funds (INSUFFICIENT_FUNDS).
 * - POST /transfers/:id/reverse {id, reference} — the operator's correction:
 *   moves back everything of the transfer not yet refunded.
 * - GET /transfers/:id/corrections — the transfer, what was corrected, what
 *   remains, and its refunds and reversals in commit order.
 *
 * The body's `id` names the correcting transfer: the same id again answers
 * the original correction (200), with other fields TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS.
 */
export function registerCorrectionRoutes(app: FastifyInstance, context: RouteContext): void {
  const correct = async (request: CorrectionRequest) => {
    const outcome = await createCorrection(context.database, request, context.clock(), context.limits);
    return { statusCode: outcome.created ? 201 : 200, body: correctionJson(outcome) };
  };

  app.post<{ Params: IdParams; Body: RefundBody }>(
    '/transfers/:id/refund',
    { schema: { ...bankDocs['POST /transfers/:id/refund'], params: idParamsSchema, body: refundBodySchema } },
    async (request, reply) => {
      const { id, amount, reference } = request.body;
      const refund: CorrectionRequest = {
        kind: 'refund',
        id,
        originalId: request.params.id,
        amount: amount === undefined ? undefined : BigInt(amount),
        reference,
      };
      return respondIdempotently(context.database, request, reply, () => correct(refund));
    },
  );

  app.post<{ Params: IdParams; Body: ReverseBody }>(
    '/transfers/:id/reverse',
    {
      schema: { ...bankDocs['POST /transfers/:id/reverse'], params: idParamsSchema, body: reverseBodySchema },
    },
    async (request, reply) => {
      const { id, reference } = request.body;
      const reversal: CorrectionRequest = { kind: 'reversal', id, originalId: request.params.id, reference };
      return respondIdempotently(context.database, request, reply, () => correct(reversal));
    },
  );

  app.get<{ Params: IdParams }>(
    '/transfers/:id/corrections',
    { schema: { ...bankDocs['GET /transfers/:id/corrections'], params: idParamsSchema } },
    async (request) => {
      const { original, corrected, corrections } = await selectCorrectionsOf(
        context.database,
        request.params.id,
        context.limits,
      );
      return {
        original: transferJson(await context.ledger.describeTransfer(original, context.clock())),
        corrected: corrected.toString(),
        remaining: (original.amount - corrected).toString(),
        corrections: corrections.map(correctionJson),
      };
    },
  );
}
