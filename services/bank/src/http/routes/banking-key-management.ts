import type { FastifyInstance } from 'fastify';
import type { BankingContext } from '../../banking/context.ts';
import { issueRenewalNotice } from '../../banking/key-management-server/renewal-notices.ts';
import { bankDocs } from '../answers.ts';
import { callerOf } from '../authenticate.ts';
import { respondIdempotently } from '../idempotent.ts';
import type { StrictSchema } from '../strict-validator.ts';

const renewalNoticeBodySchema = {
  type: 'object',
  properties: {
    serial: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    // Its characters are checked by issueRenewalNotice (no control characters, trimmed).
    reason: { type: 'string', minLength: 1, maxLength: 200 },
  },
  required: ['serial', 'reason'],
  additionalProperties: false,
} as const satisfies StrictSchema;

interface RenewalNoticeBody {
  serial: string;
  reason: string;
}

/**
 * The operator's routes of the key management server (authenticated by the
 * request verifier, Idempotency-Key on POST): POST /banking/renewal-notices
 * {serial, reason} → 201 {noticeId, serial, state: 'sent'}: the bank asks a
 * banking device to renew its key (SA2pMP §4.3) and texts the customer's
 * registered MSISDN; 200 with the open notice when the binding has one
 * already (no second SMS). BANKING_DEVICE_UNKNOWN for a serial with no
 * banking device, KEY_BINDING_REVOKED / KEY_BINDING_EXPIRED for a binding
 * that can no longer sign a renewal (its device enrols again).
 */
export function registerBankingKeyManagementRoutes(app: FastifyInstance, context: BankingContext): void {
  app.post<{ Body: RenewalNoticeBody }>(
    '/banking/renewal-notices',
    { schema: { ...bankDocs['POST /banking/renewal-notices'], body: renewalNoticeBodySchema } },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, async () => {
        const { notice, created } = await issueRenewalNotice(
          context,
          { serial: request.body.serial, reason: request.body.reason, createdBy: callerOf(request) },
          context.clock(),
        );
        return {
          statusCode: created ? 201 : 200,
          body: { noticeId: notice.id, serial: notice.serial, state: notice.state },
        };
      }),
  );
}
