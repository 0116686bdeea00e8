import type { FastifyInstance } from 'fastify';
import type { DepositoryContext } from '../../key-depository/context.ts';
import { type ClientIdRequest, issueClientId } from '../../macro/client-ids.ts';
import { bankDocs } from '../answers.ts';
import { callerOf } from '../authenticate.ts';
import { respondIdempotently } from '../idempotent.ts';
import { partyId } from '../schemas.ts';
import type { StrictSchema } from '../strict-validator.ts';

const clientIdBodySchema = {
  type: 'object',
  properties: {
    partyId,
    msisdn: { type: 'string', pattern: '^\\+[1-9][0-9]{6,14}$' },
    bindingSerial: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
  },
  required: ['partyId', 'msisdn', 'bindingSerial'],
  additionalProperties: false,
} as const satisfies StrictSchema;

/**
 * POST /macro/clients {partyId, msisdn, bindingSerial}, called by the MPASP
 * (the FSP, authenticated by the request verifier) when one of this bank's
 * customers registers for macro payments: → 201 (issued now) or 200 (the
 * party's id, issued before) `{ clientId, partyId, bankId, statement }`, the
 * statement being the bank's compact JWS over `{ macroClient: { kind:
 * 'macro_client_id', clientId, partyId, bankId } }`, audience the caller,
 * `txn` the client id. Refused: PARTY_ID_INVALID (not a person of this
 * bank), KEY_BINDING_INVALID (no such binding of this party here),
 * KEY_BINDING_REVOKED, KEY_BINDING_EXPIRED.
 */
export function registerMacroClientRoutes(app: FastifyInstance, context: DepositoryContext): void {
  app.post<{ Body: ClientIdRequest }>(
    '/macro/clients',
    { schema: { ...bankDocs['POST /macro/clients'], body: clientIdBodySchema } },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, async () => {
        const issued = await issueClientId(context, request.body, callerOf(request));
        return {
          statusCode: issued.created ? 201 : 200,
          body: {
            clientId: issued.content.clientId,
            partyId: issued.content.partyId,
            bankId: issued.content.bankId,
            statement: issued.statement,
          },
        };
      }),
  );
}
