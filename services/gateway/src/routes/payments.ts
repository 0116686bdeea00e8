import { MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { confirmPayment, verifyConfirmation } from '../payments/confirm.ts';
import { requestPayment, verifyPaymentRequest } from '../payments/request.ts';
import { paymentStatus } from '../payments/status.ts';
import { authenticateParty } from './auth.ts';
import { idempotent } from './idempotent.ts';

const joseContentTypes = ['application/jose', 'text/plain'];
const paymentIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function compactBody(request: FastifyRequest): string {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (!joseContentTypes.includes(type) || typeof request.body !== 'string') {
    throw new MpayError('REQUEST_INVALID', 'expected an application/jose body');
  }
  return request.body.trim();
}

export function paymentId(request: FastifyRequest): string {
  const id = (request.params as { id?: string }).id ?? '';
  if (!paymentIdPattern.test(id)) throw new MpayError('PAYMENT_UNKNOWN');
  return id;
}

export function registerPaymentRoutes(app: FastifyInstance, context: GatewayContext): void {
  // Verification comes first and writes nothing, so an Idempotency-Key is only ever
  // recorded for a verified signer, in that signer's own scope.
  app.post('/payments', async (request, reply) => {
    const verified = await verifyPaymentRequest(context, compactBody(request));
    return idempotent(
      context,
      request,
      reply,
      201,
      () => requestPayment(context, verified),
      verified.merchant.id,
    );
  });
  app.post('/payments/:id/confirmation', async (request, reply) => {
    const verified = await verifyConfirmation(context, paymentId(request), compactBody(request));
    return idempotent(
      context,
      request,
      reply,
      200,
      () => confirmPayment(context, verified),
      verified.payment.customerId,
    );
  });
  app.get('/payments/:id', async (request) => {
    const callerId = await authenticateParty(context, request);
    return paymentStatus(context, paymentId(request), callerId);
  });
}
