import { joseBody } from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import type { ShopContext } from '../context.ts';
import { receiveNotification } from '../notifications/receive.ts';
import { webhookAnswer } from './answers.ts';

/**
 * The FSP's signed webhooks (iMS step 9), as a compact JWS
 * (`application/jose`). Answered 200 only once the notification and its
 * effect are committed; a body that does not verify is refused with the
 * verification's generic code, and nothing is stored.
 */
export function registerWebhookRoutes(app: FastifyInstance, context: ShopContext): void {
  const schema = {
    summary: "The FSP's signed notification of a payment, claim or refund (iMS step 9)",
    tags: ['shop'],
    rawBody: joseBody("The FSP's compact JWS"),
    response: { 200: webhookAnswer },
  };
  app.post('/webhooks/mpay', { schema }, async (request) => {
    if (typeof request.body !== 'string') throw new MpayError('REQUEST_INVALID', 'content-type');
    const received = await receiveNotification(context, request.body);
    return { received: true, duplicate: !received.stored };
  });
}
