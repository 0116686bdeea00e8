import { MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { idempotencyClaim } from '../routes/payments.ts';
import type { MacroContext } from './context.ts';
import { finishMacroLogin, startMacroLogin } from './login.ts';
import { openRegistration, registerClient, verifyRegistration } from './registration.ts';
import { forgetStaleMacroState } from './store.ts';

const joseContentTypes = ['application/jose', 'text/plain'];

function compactBody(request: FastifyRequest): string {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  if (!joseContentTypes.includes(type) || typeof request.body !== 'string') {
    throw new MpayError('REQUEST_INVALID', 'expected an application/jose body');
  }
  return request.body.trim();
}

const loginStartSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['clientId', 'startLoginRequest'],
  properties: {
    clientId: { type: 'string', maxLength: 100 },
    startLoginRequest: { type: 'string', maxLength: 2048 },
  },
} as const;

const loginFinishSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['finishLoginRequest'],
  properties: { finishLoginRequest: { type: ['string', 'null'], maxLength: 2048 } },
} as const;

/**
 * The MPASP's macro routes (seed 002 §3 and the hardened E_SP of issue 10):
 *
 * - POST /macro/registrations — `application/jose`, a JWE to the FSP (see
 *   `registration.ts`), an Idempotency-Key required → 201
 *   `{ clientId, mailedTo }`; the client id and the mPIN go by mail.
 * - POST /macro/sessions `{ clientId, startLoginRequest }` → 201
 *   `{ loginId, loginResponse }` (OPAQUE KE2; a started login counts as a
 *   failed try until it finishes well).
 * - POST /macro/sessions/:loginId/finish `{ finishLoginRequest }` (string, or
 *   null when the device found the mPIN wrong) → 201
 *   `{ sessionId, expiresAt, confirmation }`.
 *
 * Logins take no Idempotency-Key: each start is one counted try by design,
 * and a finish uses its login up.
 */
export function registerMacroRoutes(app: FastifyInstance, macro: MacroContext): void {
  app.post('/macro/registrations', async (request, reply) => {
    const opened = await openRegistration(macro.gateway, compactBody(request));
    const verified = await verifyRegistration(macro.gateway, opened);
    // Scoped to the verified party, like every other claim: a stranger's key never reads its answer.
    const claim = idempotencyClaim(request, verified.registration.partyId);
    if (claim === undefined) throw new MpayError('IDEMPOTENCY_KEY_INVALID');
    const answer = await registerClient(macro, verified, claim);
    return reply.code(answer.statusCode).send(answer.body);
  });
  app.post('/macro/sessions', { schema: { body: loginStartSchema } }, async (request, reply) => {
    const { clientId, startLoginRequest } = request.body as { clientId: string; startLoginRequest: string };
    return reply.code(201).send(await startMacroLogin(macro, clientId, startLoginRequest));
  });
  app.post(
    '/macro/sessions/:loginId/finish',
    { schema: { body: loginFinishSchema } },
    async (request, reply) => {
      const loginId = String((request.params as { loginId?: unknown }).loginId);
      const { finishLoginRequest } = request.body as { finishLoginRequest: string | null };
      return reply.code(201).send(await finishMacroLogin(macro, loginId, finishLoginRequest));
    },
  );
}

/** Background: forgets expired logins and channels, old attempts and the counts of ids nobody holds. */
export async function runMacroHousekeeping(macro: MacroContext): Promise<void> {
  await forgetStaleMacroState(macro.gateway.database, macro.gateway.clock(), macro.limits);
}
