import { parseIdempotencyKey, runIdempotent, sha256Hex } from '@mpay/http';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { confirmPayment } from '../payments/confirm.ts';
import { requestPayment } from '../payments/request.ts';
import { paymentStatus } from '../payments/status.ts';
import { authenticateParty } from './auth.ts';

const joseContentTypes = ['application/jose', 'text/plain'];
const paymentIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function compactBody(request: FastifyRequest): string {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (!joseContentTypes.includes(type) || typeof request.body !== 'string') {
    throw new MpayError('REQUEST_INVALID', 'expected an application/jose body');
  }
  return request.body.trim();
}

function paymentId(request: FastifyRequest): string {
  const id = (request.params as { id?: string }).id ?? '';
  if (!paymentIdPattern.test(id)) throw new MpayError('PAYMENT_UNKNOWN');
  return id;
}

/** Runs a POST once per Idempotency-Key (when the client sent one). */
async function idempotent(
  context: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  statusCode: number,
  handle: () => Promise<unknown>,
): Promise<unknown> {
  const key = parseIdempotencyKey(request.headers['idempotency-key']);
  if (key === undefined) return reply.status(statusCode).send(await handle());
  const scope = `${request.method} ${request.routeOptions.url}`;
  const stored = await runIdempotent(
    context.database,
    { scope, key, requestHash: await sha256Hex(`${request.url}\n${String(request.body)}`) },
    async () => ({ statusCode, body: await handle() }),
  );
  return reply.status(stored.statusCode).send(stored.body);
}

export function registerPaymentRoutes(app: FastifyInstance, context: GatewayContext): void {
  app.post('/payments', async (request, reply) =>
    idempotent(context, request, reply, 201, () => requestPayment(context, compactBody(request))),
  );
  app.post('/payments/:id/confirmation', async (request, reply) =>
    idempotent(context, request, reply, 200, () =>
      confirmPayment(context, paymentId(request), compactBody(request)),
    ),
  );
  app.get('/payments/:id', async (request) => {
    const callerId = await authenticateParty(context, request);
    return paymentStatus(context, paymentId(request), callerId);
  });
}
