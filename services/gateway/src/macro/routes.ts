import {
  compactJose,
  errorBodySchema,
  exactObject,
  integerSchema,
  isoTime,
  type JsonSchema,
  joseBody,
  nullable,
  stringSchema,
} from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import { idempotencyClaim } from '../routes/payments.ts';
import { answerSecretQuestion } from './answer.ts';
import { finishChallengeOpening, startChallengeOpening } from './challenge.ts';
import { checkClientBankOutcomes } from './client-bank-outcome.ts';
import { sendClientBankRequests } from './client-bank-request.ts';
import type { MacroContext } from './context.ts';
import { finishMacroLogin, startMacroLogin } from './login.ts';
import {
  expireDueMacroPayments,
  openPaymentRequest,
  requestMacroPayment,
  sealedMacroPaymentStatus,
} from './payment-request.ts';
import { findMacroPayment, macroTransactionIdPattern } from './payment-store.ts';
import { openRegistration, registerClient, verifyRegistration } from './registration.ts';

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

const openingStartSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['startLoginRequest'],
  properties: { startLoginRequest: { type: 'string', maxLength: 2048 } },
} as const;

/** ID_T from the path: a malformed one is an unknown payment. */
function transactionIdOf(request: FastifyRequest): string {
  const id = (request.params as { transactionId?: unknown }).transactionId;
  if (typeof id !== 'string' || !macroTransactionIdPattern.test(id)) throw new MpayError('PAYMENT_UNKNOWN');
  return id;
}

function requireClaim(request: FastifyRequest, scope: string) {
  const claim = idempotencyClaim(request, scope);
  if (claim === undefined) throw new MpayError('IDEMPOTENCY_KEY_INVALID');
  return claim;
}

const loginFinishSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['finishLoginRequest'],
  properties: { finishLoginRequest: { type: ['string', 'null'], maxLength: 2048 } },
} as const;

const tags = ['macro'];
const registrationAnswer = exactObject({ clientId: stringSchema, mailedTo: stringSchema });
const loginStarted = exactObject({ loginId: stringSchema, loginResponse: stringSchema });
const sessionAnswer = exactObject({ sessionId: stringSchema, expiresAt: isoTime, confirmation: compactJose });
const challengedAnswer = exactObject({
  transactionId: stringSchema,
  requestId: stringSchema,
  status: stringSchema,
  step: nullable(integerSchema),
  challengedAt: isoTime,
  expiresAt: isoTime,
  challengeOpenings: stringSchema,
});
const openingStarted = exactObject({
  openingId: stringSchema,
  loginResponse: stringSchema,
  expiresAt: isoTime,
});
const challengeAnswer = exactObject({ challenge: stringSchema });
const secretAnswerAccepted = exactObject({
  transactionId: stringSchema,
  sessionId: stringSchema,
  status: stringSchema,
  step: nullable(integerSchema),
});
/** A refused secret answer: mpay's error body with failure_msg1 sealed for the client. */
const secretAnswerRefused: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: { ...(errorBodySchema.properties as object), failureMsg1: stringSchema },
  description: 'AUTHENTICATION_FAILED, with failure_msg1 sealed under the channel key',
};
const sealedStatus = exactObject({ transactionId: stringSchema, statusMessage: stringSchema });
const jose = (description: string) => joseBody(description, joseContentTypes);

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
 *
 * The macro payment, steps 1–5 of §4.2 (payment-request.ts, challenge.ts, answer.ts):
 *
 * - POST /macro/payments — `application/jose`: E_SP{PaymentRequestContent, MSISDN}
 *   (JWE dir A256GCM, kid ID_C, under the request key), an Idempotency-Key
 *   required (scope ID_C) → 201 `{ transactionId, requestId, status, step,
 *   challengedAt, expiresAt, challengeOpenings }`.
 * - POST /macro/payments/:transactionId/challenge/openings `{ startLoginRequest }`
 *   → 201 `{ openingId, loginResponse, expiresAt }` (a counted try).
 * - POST /macro/payments/:transactionId/challenge/openings/:openingId/finish
 *   `{ finishLoginRequest }` (null: the device found the mPIN wrong) → 201
 *   `{ challenge }` (E_SP{ID_T, T_iS, SQn} under the payment's channel key, kid ID_T).
 * - POST /macro/payments/:transactionId/secret-answer — `application/jose`:
 *   E_SP{SecretAnswerContent} under that key, an Idempotency-Key required
 *   (scope ID_C) → 202 `{ transactionId, sessionId, status, step }`, or 401
 *   AUTHENTICATION_FAILED with `failureMsg1` sealed, or 422 PAYMENT_EXPIRED.
 * - GET /macro/payments/:transactionId → 200 `{ transactionId, statusMessage }`:
 *   MacroPaymentStatusContent sealed under the client's request key (kid ID_C).
 *
 * Openings take no Idempotency-Key, as logins: each start is a counted try.
 */
export function registerMacroRoutes(app: FastifyInstance, macro: MacroContext): void {
  const registration: FastifySchema = {
    summary: 'Registers a macro client (ID_C and mPIN go by mail)',
    tags,
    rawBody: jose('JWE to the FSP of the registration'),
    response: { 201: registrationAnswer },
  };
  app.post('/macro/registrations', { schema: registration }, async (request, reply) => {
    const opened = await openRegistration(macro.gateway, compactBody(request));
    const verified = await verifyRegistration(macro.gateway, opened);
    // Scoped to the verified party, like every other claim: a stranger's key never reads its answer.
    const claim = idempotencyClaim(request, verified.registration.partyId);
    if (claim === undefined) throw new MpayError('IDEMPOTENCY_KEY_INVALID');
    const answer = await registerClient(macro, verified, claim);
    return reply.code(answer.statusCode).send(answer.body);
  });
  const loginStart = {
    summary: 'Starts an mPIN login (OPAQUE KE1 → KE2)',
    tags,
    body: loginStartSchema,
    response: { 201: loginStarted },
  };
  app.post('/macro/sessions', { schema: loginStart }, async (request, reply) => {
    const { clientId, startLoginRequest } = request.body as { clientId: string; startLoginRequest: string };
    return reply.code(201).send(await startMacroLogin(macro, clientId, startLoginRequest));
  });
  app.post(
    '/macro/sessions/:loginId/finish',
    {
      schema: {
        summary: 'Finishes an mPIN login: a session',
        tags,
        body: loginFinishSchema,
        response: { 201: sessionAnswer },
      },
    },
    async (request, reply) => {
      const loginId = String((request.params as { loginId?: unknown }).loginId);
      const { finishLoginRequest } = request.body as { finishLoginRequest: string | null };
      return reply.code(201).send(await finishMacroLogin(macro, loginId, finishLoginRequest));
    },
  );
  registerMacroPaymentRoutes(app, macro);
}

function registerMacroPaymentRoutes(app: FastifyInstance, macro: MacroContext): void {
  const paymentRequest: FastifySchema = {
    summary: 'A macro payment request (§4.2 steps 1–3): the secret-question challenge',
    tags,
    rawBody: jose('E_SP{PaymentRequestContent, MSISDN} under the request key'),
    response: { 201: challengedAnswer },
  };
  app.post('/macro/payments', { schema: paymentRequest }, async (request, reply) => {
    // Opening comes first and writes nothing: a key is claimed only for the client whose key opened the message.
    const opened = await openPaymentRequest(macro, compactBody(request));
    const answer = await requestMacroPayment(macro, opened, requireClaim(request, opened.client.clientId));
    return reply.code(answer.statusCode).send(answer.body);
  });
  const status = {
    summary: "A macro payment's status, sealed under the client's request key",
    tags,
    response: { 200: sealedStatus },
  };
  app.get('/macro/payments/:transactionId', { schema: status }, async (request) =>
    sealedMacroPaymentStatus(macro, transactionIdOf(request)),
  );
  app.post(
    '/macro/payments/:transactionId/challenge/openings',
    {
      schema: {
        summary: "Starts opening the payment's challenge with the mPIN (a counted try)",
        tags,
        body: openingStartSchema,
        response: { 201: openingStarted },
      },
    },
    async (request, reply) => {
      const { startLoginRequest } = request.body as { startLoginRequest: string };
      return reply
        .code(201)
        .send(await startChallengeOpening(macro, transactionIdOf(request), startLoginRequest));
    },
  );
  app.post(
    '/macro/payments/:transactionId/challenge/openings/:openingId/finish',
    {
      schema: {
        summary: 'Finishes the opening: the challenge E_SP{ID_T, T_iS, SQn}',
        tags,
        body: loginFinishSchema,
        response: { 201: challengeAnswer },
      },
    },
    async (request, reply) => {
      const openingId = String((request.params as { openingId?: unknown }).openingId);
      const { finishLoginRequest } = request.body as { finishLoginRequest: string | null };
      return reply
        .code(201)
        .send(await finishChallengeOpening(macro, transactionIdOf(request), openingId, finishLoginRequest));
    },
  );
  const secretAnswer: FastifySchema = {
    summary: "The client's answer to the secret question (§4.2 step 5)",
    tags,
    rawBody: jose('E_SP{SecretAnswerContent} under the channel key'),
    response: { 202: secretAnswerAccepted, 401: secretAnswerRefused },
  };
  app.post(
    '/macro/payments/:transactionId/secret-answer',
    { schema: secretAnswer },
    async (request, reply) => {
      const transactionId = transactionIdOf(request);
      const body = compactBody(request);
      const payment = await findMacroPayment(macro.gateway.database, transactionId);
      if (payment === undefined) throw new MpayError('PAYMENT_UNKNOWN');
      // Scoped to the payment's client: only its channel key opens the body, checked in the transaction.
      const answer = await answerSecretQuestion(
        macro,
        transactionId,
        body,
        requireClaim(request, payment.payment.clientId),
      );
      return reply.code(answer.statusCode).send(answer.body);
    },
  );
}

/**
 * Background, what is due: expires payments past T_EXP; sends the due step-6 requests to the client banks
 * and asks them for the outcomes of step 12. (The housekeeping, forgetStaleMacroState, runs far less often.)
 */
export async function runMacroDueWork(macro: MacroContext): Promise<void> {
  await expireDueMacroPayments(macro);
  await sendClientBankRequests(macro);
  await checkClientBankOutcomes(macro);
}
