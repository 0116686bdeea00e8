import type { FastifyInstance } from 'fastify';
import type { MacroContext } from '../../macro/context.ts';
import { listMerchantConfirmations, parseAfter } from '../../macro/merchant-confirmation.ts';
import { bankDocs } from '../answers.ts';
import type { StrictSchema } from '../strict-validator.ts';
import { deviceOf } from './macro-approvals.ts';

const merchantConfirmationsQuerySchema = {
  type: 'object',
  properties: { after: { type: 'string', pattern: '^(0|[1-9][0-9]{0,17})$' } },
  additionalProperties: false,
} as const satisfies StrictSchema;

/**
 * The merchant's side of seed 002 step 9, called by the merchant's own
 * system (never through the MPASP), outside the request verifier:
 *
 * GET /macro/merchant-confirmations?after=SEQUENCE, authenticated as the
 * client's device routes are (`Authorization: MPay <request token>` by a key
 * of an active binding at this bank, issuer its subject) → 200 `{
 * confirmations: [{ sequence, sessionId, payConfirm }], next? }`: the
 * Pay_Confirms naming the party as ID_M, oldest first, at most 50 a page;
 * `payConfirm` the bank's JWS over the core's PayConfirmToMerchantContent
 * (aud the party, txn SID_T) sealed to the asking device; `next` the `after`
 * of the next page when this one is full. AUTHENTICATION_FAILED (401),
 * REQUEST_INVALID for a malformed `after`.
 */
export function registerMacroMerchantRoutes(app: FastifyInstance, context: MacroContext): void {
  app.get<{ Querystring: { after?: string } }>(
    '/macro/merchant-confirmations',
    {
      schema: {
        ...bankDocs['GET /macro/merchant-confirmations'],
        querystring: merchantConfirmationsQuerySchema,
      },
    },
    async (request) => {
      const device = await deviceOf(context, request);
      return listMerchantConfirmations(context, device, parseAfter(request.query.after));
    },
  );
}
