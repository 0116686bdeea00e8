import { answerKeyOf } from '@mpay/envelope';
import { gunzipRequests, gzipAnswers, joseBody, rawBodyOf, requestCodingsTaken } from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { deliverPaymentEffects } from '../outbox/deliver.ts';
import { cancelPayment } from '../payments/cancel.ts';
import {
  confirmPayment,
  receiptAnswerDelivered,
  receiptFormatOf,
  verifyConfirmation,
} from '../payments/confirm.ts';
import { declinePayment } from '../payments/decline.ts';
import { type IdempotencyClaim, requestHashOf } from '../payments/idempotency.ts';
import { requestPayment, verifyPaymentRequest } from '../payments/request.ts';
import { paymentStatus } from '../payments/status.ts';
import {
  confirmationAnswer,
  paymentRequestAccepted,
  paymentStatusAnswer,
  paymentStatusChange,
} from './answers.ts';
import { authenticateParty } from './auth.ts';

const joseContentTypes = ['application/jose', 'text/plain'];
const paymentIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;

function compactBody(request: FastifyRequest): string {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  if (!joseContentTypes.includes(type) || typeof request.body !== 'string') {
    throw new MpayError('REQUEST_INVALID', 'expected an application/jose body');
  }
  return request.body.trim();
}

/** A malformed id is an unknown payment: the same answer as any id that is not the caller's. */
export function paymentId(request: FastifyRequest): string {
  const id = (request.params as { id?: unknown }).id;
  if (typeof id !== 'string' || !paymentIdPattern.test(id)) throw new MpayError('PAYMENT_UNKNOWN');
  return id;
}

/** The request's Idempotency-Key, scoped to the verified caller, with the hash of the request it names. */
export function idempotencyClaim(request: FastifyRequest, scope: string): IdempotencyClaim | undefined {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !idempotencyKeyPattern.test(header))
    throw new MpayError('IDEMPOTENCY_KEY_INVALID');
  return { scope, key: header, requestHash: requestHashOf(request.method, request.url, rawBodyOf(request)) };
}

export function registerPaymentRoutes(app: FastifyInstance, context: GatewayContext): void {
  const tags = ['payments'];
  const requestSchema: FastifySchema = {
    summary: "A merchant's payment request (iMS step 1)",
    tags,
    rawBody: joseBody(
      "JWE to the FSP's encryption key of `{ ims }`, the merchant-signed iMS message",
      joseContentTypes,
    ),
    response: { 201: paymentRequestAccepted },
  };
  const confirmationSchema = {
    summary: "The customer's signed confirmation of a payment",
    tags,
    rawBody: joseBody(
      "The customer's consent encrypted to the FSP: consent/v1 (its JWS over the FSP's copy of the message, payload detached) or the whole signed message",
      joseContentTypes,
    ),
    querystring: {
      type: 'object',
      properties: {
        receipt: {
          type: 'string',
          description:
            "v2: the receipt as receipt/v2 (the FSP's JWS detached, only what the payer cannot derive from the message it confirmed), for a wallet that rebuilds it, encrypted to the device's key; v3: the same, encrypted under this confirmation's answer key (dir + A256GCM; HKDF-SHA-256 over the confirmation's own ECDH-ES agreement and protected header, label `mpay/answer-key/v1`); absent or any other value: the whole JWS, encrypted to the device's key. A custody customer's receipt is always the whole JWS to custody's key",
        },
      },
      additionalProperties: false,
    },
    response: {
      200: { ...confirmationAnswer, description: 'Completed: the receipt, encrypted to the device' },
      202: { ...confirmationAnswer, description: 'Authorised: the banks have not answered yet' },
    },
  };
  const declineSchema = {
    summary: 'The customer declines a payment',
    tags,
    rawBody: joseBody("The customer's signed decline", joseContentTypes),
    response: { 200: paymentStatusChange('declined') },
  };
  const cancellationSchema = {
    summary: 'The merchant cancels a payment not yet confirmed',
    tags,
    noRequestBody: true,
    response: { 200: paymentStatusChange('cancelled') },
  };
  const statusSchema = {
    summary: 'A payment as it stands, for its parties',
    tags,
    response: { 200: paymentStatusAnswer },
  };
  // Verification comes first and writes nothing, so an Idempotency-Key is only ever
  // claimed for a verified signer, in that signer's own scope, in the transaction that does the work.
  app.post('/payments', { schema: requestSchema }, async (request, reply) => {
    const verified = await verifyPaymentRequest(context, compactBody(request));
    const answer = await requestPayment(context, verified, idempotencyClaim(request, verified.merchant.id));
    return reply.code(answer.statusCode).send(answer.body);
  });
  // The answer carries the receipt encrypted to the device: gzipped for a device that takes it; the confirmation
  // itself may come gzipped (@mpay/http-server compression.ts), as every answer here and the device's stream say.
  app.post(
    '/payments/:id/confirmation',
    { schema: confirmationSchema, onSend: gzipAnswers(), preParsing: gunzipRequests() },
    async (request, reply) => {
      reply.header('accept-encoding', requestCodingsTaken);
      const body = compactBody(request);
      const verified = await verifyConfirmation(context, paymentId(request), body);
      const format = receiptFormatOf((request.query as { receipt?: unknown }).receipt);
      const result = await confirmPayment(
        context,
        verified,
        idempotencyClaim(request, verified.payment.customer.id),
        deliverPaymentEffects,
        format === 'v3'
          ? { format, answerKey: await answerKeyOf(body, context.fsp.encryption.privateJwk) }
          : { format },
      );
      if (result.status === 'completed') {
        // Once the answer carrying the receipt is handed to the connection, its push is not sent again.
        reply.raw.once('finish', () => {
          receiptAnswerDelivered(context, result.paymentId, verified.payment.customer.id).catch(
            (error: unknown) =>
              request.log.warn({ err: error, paymentId: result.paymentId }, 'receipt push not cancelled'),
          );
        });
      }
      return reply.code(result.status === 'completed' ? 200 : 202).send(result);
    },
  );
  app.post('/payments/:id/decline', { schema: declineSchema }, async (request) => {
    const payment = await declinePayment(context, paymentId(request), compactBody(request));
    return { paymentId: payment.id, status: 'declined' };
  });
  app.post('/payments/:id/cancellation', { schema: cancellationSchema }, async (request) => {
    const caller = await authenticateParty(context, request);
    const payment = await cancelPayment(context, paymentId(request), caller.partyId, caller.token);
    return { paymentId: payment.id, status: 'cancelled' };
  });
  app.get('/payments/:id', { schema: statusSchema }, async (request) => {
    const caller = await authenticateParty(context, request);
    return paymentStatus(context, paymentId(request), caller.partyId);
  });
}
