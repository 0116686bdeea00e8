import { bankingUserIdPattern } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import { answerBankingRequest } from '../../banking/authentication-server/answer.ts';
import {
  finishBankingLogin,
  proveBankingLoginCode,
  startBankingLogin,
} from '../../banking/authentication-server/login.ts';
import {
  finishPasswordRegistration,
  registerBankingDevice,
  startPasswordRegistration,
} from '../../banking/authentication-server/registration.ts';
import { executeBankingRequest } from '../../banking/business-logic-server/dispatch.ts';
import type { BankingContext } from '../../banking/context.ts';
import { bankDocs } from '../answers.ts';
import { ledgerId } from '../schemas.ts';
import type { StrictSchema } from '../strict-validator.ts';

/** A compact JWS (three base64url parts), as long as a device statement may be. */
const compactJws = {
  type: 'string',
  maxLength: 16_384,
  pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$',
} as const;

/** A compact JWE under a session key (dir: the encrypted key part is empty). */
function directJwe(maxLength: number) {
  return {
    type: 'string',
    maxLength,
    pattern: '^[A-Za-z0-9_-]+\\.\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$',
  } as const;
}

const userId = { type: 'string', pattern: bankingUserIdPattern.source } as const;
/** OPAQUE messages: base64url, bounded (opaque.ts opaqueMessagePattern). */
const opaqueMessage = { type: 'string', pattern: '^[A-Za-z0-9_-]{16,2048}$' } as const;
/** An OPAQUE registration record as banking_customers keeps it (opaque.ts opaqueRecordPattern). */
const opaqueRecord = { type: 'string', pattern: '^[A-Za-z0-9_-]{16,1024}$' } as const;

const passwordStartBodySchema = {
  type: 'object',
  properties: { userId, registrationRequest: opaqueMessage, device: compactJws },
  required: ['userId', 'registrationRequest', 'device'],
  additionalProperties: false,
} as const satisfies StrictSchema;

const passwordFinishBodySchema = {
  type: 'object',
  properties: { userId, registrationRecord: opaqueRecord, device: compactJws },
  required: ['userId', 'registrationRecord', 'device'],
  additionalProperties: false,
} as const satisfies StrictSchema;

const deviceBodySchema = {
  type: 'object',
  properties: { device: compactJws },
  required: ['device'],
  additionalProperties: false,
} as const satisfies StrictSchema;

const loginStartBodySchema = {
  type: 'object',
  properties: { userId, startLoginRequest: opaqueMessage, device: compactJws },
  required: ['userId', 'startLoginRequest', 'device'],
  additionalProperties: false,
} as const satisfies StrictSchema;

const loginParamsSchema = {
  type: 'object',
  properties: { loginId: ledgerId },
  required: ['loginId'],
  additionalProperties: false,
} as const satisfies StrictSchema;

const loginFinishBodySchema = {
  type: 'object',
  properties: { finishLoginRequest: opaqueMessage, device: compactJws },
  required: ['finishLoginRequest', 'device'],
  additionalProperties: false,
} as const satisfies StrictSchema;

const loginCodeBodySchema = {
  type: 'object',
  properties: { code: directJwe(2_048) },
  required: ['code'],
  additionalProperties: false,
} as const satisfies StrictSchema;

const requestBodySchema = {
  type: 'object',
  properties: { sessionId: ledgerId, request: directJwe(32_768) },
  required: ['sessionId', 'request'],
  additionalProperties: false,
} as const satisfies StrictSchema;

interface LoginParams {
  loginId: string;
}

/**
 * The device-facing routes of the mobile banking server (SA2pMP, the
 * authentication server's side), public: each is authenticated by what it
 * carries (a bound key's signature, the login's factors, the session key).
 *
 * Registration (BANKING_REGISTRATION_FAILED for any refusal):
 * - POST /banking/devices {device} → 201 {serial, partyId, clientId} (200: the same again)
 * - POST /banking/passwords/start {userId, registrationRequest, device} → 200 {registrationResponse}
 *   (answered under a fresh OPAQUE credential identifier, kept pending)
 * - POST /banking/passwords/finish {userId, registrationRecord, device} → 201 {userId, registeredAt}
 *   (BANKING_PASSWORD_EXISTS while one is registered; refused without a start since the last reset)
 *
 * Login (BANKING_LOGIN_FAILED, BANKING_LOGIN_BLOCKED; SERVICE_UNAVAILABLE when the SMS
 * gateway refused the code, the login then refused, not counted):
 * - POST /banking/logins {userId, startLoginRequest, device} → 200 {loginId, loginResponse}
 *   device = JWS by the device's bound key (iss party, aud bank, txn a fresh UUID v4, ≤ 120 s) over
 *   `{ bankingLoginStart: { userId, messageHash } }`, messageHash = base64url(SHA-256(utf8 KE1)).
 *   Counted, answered from the record (loginId = that txn) only for a statement of an active
 *   binding of that customer with a banking device, not used before; BANKING_LOGIN_BLOCKED only
 *   then. Anything else: a decoy KE2 with a random loginId, not counted, nothing stored.
 * - POST /banking/logins/:loginId/finish {finishLoginRequest, device} → 200 {loginId, answer}
 * - POST /banking/logins/:loginId/code {code} → 201 {sessionId, expiresAt, statement}
 *
 * Requests, E(S(msg, ID_C)):
 * - POST /banking/requests {sessionId, request} → 200 {sessionId, requestId, answer}
 *   (BANKING_SESSION_INVALID, CRYPTO_DECRYPTION_FAILED, BANKING_REQUEST_INVALID,
 *   BANKING_REQUEST_EXPIRED, BANKING_REQUEST_REPLAYED, and the business refusals).
 *   Idempotent per request id: a retry with the same signed content (sent again, or
 *   signed again) gets the recorded outcome again, sealed under the session key, and
 *   runs nothing; the same id with other content is BANKING_REQUEST_REPLAYED.
 */
export function registerBankingDeviceRoutes(app: FastifyInstance, context: BankingContext): void {
  app.post<{ Body: { device: string } }>(
    '/banking/devices',
    { schema: { ...bankDocs['POST /banking/devices'], body: deviceBodySchema } },
    async (request, reply) => {
      const registered = await registerBankingDevice(context, request.body.device, context.clock());
      return reply.code(registered.created ? 201 : 200).send({
        serial: registered.serial,
        partyId: registered.partyId,
        clientId: registered.clientId,
      });
    },
  );

  app.post<{ Body: { userId: string; registrationRequest: string; device: string } }>(
    '/banking/passwords/start',
    { schema: { ...bankDocs['POST /banking/passwords/start'], body: passwordStartBodySchema } },
    async (request) => {
      const { userId, registrationRequest, device } = request.body;
      return startPasswordRegistration(
        context,
        { userId, message: registrationRequest, device },
        context.clock(),
      );
    },
  );

  app.post<{ Body: { userId: string; registrationRecord: string; device: string } }>(
    '/banking/passwords/finish',
    { schema: { ...bankDocs['POST /banking/passwords/finish'], body: passwordFinishBodySchema } },
    async (request, reply) => {
      const { userId, registrationRecord, device } = request.body;
      const registered = await finishPasswordRegistration(
        context,
        { userId, message: registrationRecord, device },
        context.clock(),
      );
      return reply.code(201).send(registered);
    },
  );

  app.post<{ Body: { userId: string; startLoginRequest: string; device: string } }>(
    '/banking/logins',
    { schema: { ...bankDocs['POST /banking/logins'], body: loginStartBodySchema } },
    async (request) => startBankingLogin(context, request.body, context.clock()),
  );

  app.post<{ Params: LoginParams; Body: { finishLoginRequest: string; device: string } }>(
    '/banking/logins/:loginId/finish',
    {
      schema: {
        ...bankDocs['POST /banking/logins/:loginId/finish'],
        params: loginParamsSchema,
        body: loginFinishBodySchema,
      },
    },
    async (request) => finishBankingLogin(context, request.params.loginId, request.body, context.clock()),
  );

  app.post<{ Params: LoginParams; Body: { code: string } }>(
    '/banking/logins/:loginId/code',
    {
      schema: {
        ...bankDocs['POST /banking/logins/:loginId/code'],
        params: loginParamsSchema,
        body: loginCodeBodySchema,
      },
    },
    async (request, reply) => {
      const session = await proveBankingLoginCode(
        context,
        request.params.loginId,
        request.body.code,
        context.clock(),
      );
      return reply.code(201).send(session);
    },
  );

  app.post<{ Body: { sessionId: string; request: string } }>(
    '/banking/requests',
    { schema: { ...bankDocs['POST /banking/requests'], body: requestBodySchema } },
    async (request) => answerBankingRequest(context, request.body, executeBankingRequest),
  );
}
