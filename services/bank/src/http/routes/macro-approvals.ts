import { httpStatusOf, rawBodyOf } from '@mpay/http-server';
import { isErrorCode, MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { answerApprovalRequest } from '../../macro/approval.ts';
import { requestApproval } from '../../macro/approval-request.ts';
import { selectMacroApproval, selectPendingMacroApprovals } from '../../macro/approvals-store.ts';
import { readConfirmation } from '../../macro/confirmation.ts';
import { type MacroContext, macroBankLimits } from '../../macro/context.ts';
import { type AuthenticatedDevice, authenticateDevice } from '../../macro/device.ts';
import { readSessionOutcome } from '../../macro/session-outcome.ts';
import { bankDocs } from '../answers.ts';
import { callerOf } from '../authenticate.ts';
import { ledgerId } from '../schemas.ts';
import type { StrictSchema } from '../strict-validator.ts';

/** A compact JWS (three base64url parts). */
const compactJws = {
  type: 'string',
  maxLength: 16_384,
  pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$',
} as const;

/** A compact JWE (five base64url parts; the encrypted key is empty for ECDH-ES). */
const compactJwe = {
  type: 'string',
  maxLength: 32_768,
  pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$',
} as const;

const paymentRequestBodySchema = {
  type: 'object',
  properties: { request: compactJws },
  required: ['request'],
  additionalProperties: false,
} as const satisfies StrictSchema;

const approvalBodySchema = {
  type: 'object',
  properties: { approval: compactJwe },
  required: ['approval'],
  additionalProperties: false,
} as const satisfies StrictSchema;

const sessionParamsSchema = {
  type: 'object',
  properties: { sessionId: ledgerId },
  required: ['sessionId'],
  additionalProperties: false,
} as const satisfies StrictSchema;

interface SessionParams {
  sessionId: string;
}

/**
 * POST /macro/payment-requests `{ request }`, seed 002 step 6, called by the
 * MPASP (the FSP, authenticated by the request verifier): `request` is the
 * MPASP's compact JWS over the core's ClientBankRequestContent (the content's
 * members next to the claims; iss the caller, aud this bank, txn SID_T).
 * → 202 `{ state: 'approval_requested', sessionId }`: PApp_Req was made for
 * the client's device (GET /macro/approval-requests).
 * → 422 (INSUFFICIENT_FUNDS; 400 for CURRENCY_MISMATCH) `{ state:
 * 'refused', sessionId, code, failure, error }`: send_failure_msg2, `failure`
 * the bank's compact JWS over the core's FailureMsg2 (aud the caller, txn
 * SID_T). The same content under the same SID_T gets the same answer;
 * another is MACRO_SESSION_REUSED (409). Other refusals, nothing recorded:
 * CRYPTO_VERIFICATION_FAILED, MESSAGE_INVALID / PARTY_ID_INVALID /
 * PAYMENT_MESSAGE_MISMATCH (the core's parse), MACRO_RECIPIENT_INVALID,
 * MESSAGE_EXPIRED, REQUEST_INVALID, MACRO_CLIENT_UNKNOWN (404).
 *
 * GET /macro/sessions/:sessionId/outcome, step 12 for every end of the
 * session, called by the MPASP that sent its step 6 (any other caller:
 * MACRO_APPROVAL_UNKNOWN, 404) → 200 `{ sessionId, state, refusalCode?,
 * orderId?, statement }`, state approval_requested | declined | refused |
 * approved, `statement` the bank's compact JWS over `{ macroSession: {
 * sessionId, transactionId, state, amount, expiresAt, refusalCode?, orderId?
 * } }` (aud the caller, txn SID_T; session-outcome.ts).
 */
export function registerMacroPaymentRequestRoute(app: FastifyInstance, context: MacroContext): void {
  app.post<{ Body: { request: string } }>(
    '/macro/payment-requests',
    { schema: { ...bankDocs['POST /macro/payment-requests'], body: paymentRequestBodySchema } },
    async (request, reply) => {
      const record = await requestApproval(context, request.body.request, callerOf(request));
      if (record.approvalRequest !== null) {
        return reply.code(202).send({ state: 'approval_requested', sessionId: record.sessionId });
      }
      const code = record.refusalCode;
      if (code === null || !isErrorCode(code) || record.failure === null) {
        throw new Error('assertion failed: a request refused at step 6 has its code and failure_msg2');
      }
      return reply.code(httpStatusOf(code)).send({
        state: 'refused',
        sessionId: record.sessionId,
        code,
        failure: record.failure,
        error: new MpayError(code).toJSON(),
      });
    },
  );

  app.get<{ Params: SessionParams }>(
    '/macro/sessions/:sessionId/outcome',
    { schema: { ...bankDocs['GET /macro/sessions/:sessionId/outcome'], params: sessionParamsSchema } },
    async (request) => readSessionOutcome(context, callerOf(request), request.params.sessionId),
  );

  // The operator's evidence of step 6 (the FSP's allow-list has no GET here): the MPASP's signed request
  // as received, and the bank's signed send_failure_msg2 when it refused.
  app.get<{ Params: SessionParams }>(
    '/macro/payment-requests/:sessionId',
    { schema: { ...bankDocs['GET /macro/payment-requests/:sessionId'], params: sessionParamsSchema } },
    async (request) => {
      const record = await selectMacroApproval(context.database, request.params.sessionId);
      if (record === undefined) throw new MpayError('MACRO_APPROVAL_UNKNOWN');
      return {
        sessionId: record.sessionId,
        requestedBy: record.requestedBy,
        state: record.state,
        request: record.request,
        ...(record.failure === null ? {} : { failure: record.failure }),
      };
    },
  );
}

/** The device (customer's or merchant's) that signed a request to a device route. */
export function deviceOf(context: MacroContext, request: FastifyRequest): Promise<AuthenticatedDevice> {
  const authorization = request.headers.authorization;
  return authenticateDevice(
    context.database,
    context.bank,
    {
      method: request.method,
      url: request.url,
      authorization: typeof authorization === 'string' ? authorization : undefined,
      rawBody: rawBodyOf(request),
    },
    context.clock(),
  );
}

/**
 * The client's side of steps 6, 7 and 11, called by the customer's device
 * directly (never through the MPASP), outside the request verifier:
 *
 * GET /macro/approval-requests, device-authenticated (`Authorization: MPay
 * <request token>` by a device key of an active binding here, issuer its
 * subject) → 200 `{ approvalRequests: [{ sessionId, expiresAt, pappReq }] }`:
 * the party's open requests (oldest first, at most 50), `pappReq` the bank's
 * JWS over the core's PAppReqContent (aud the party id, txn SID_T) sealed to
 * the encryption key of the device the request chose.
 *
 * POST /macro/approvals/:sessionId `{ approval }`, `approval` a compact JWE
 * to the bank's encryption key (GET /bank `encryptionJwk`) of
 * `{ pappResp }`, the device's compact JWS over the core's PAppRespContent
 * (iss the party id, aud this bank, txn SID_T). Authenticated by that
 * signature. → 201 `{ sessionId, state: 'approved', order: { id, state:
 * 'completed' }, statement }`, 202 while the merchant bank has not answered
 * (order state 'sending'), 200 `{ sessionId, state: 'declined', statement }`;
 * `statement` the bank's JWS over `{ macroApproval: { sessionId,
 * transactionId, clientId, state, amount, orderId?, orderState?, merchantId? } }`
 * (aud the party id). Refused: MACRO_APPROVAL_UNKNOWN (404),
 * MACRO_APPROVAL_REPLAYED (409), MACRO_APPROVAL_EXPIRED (422),
 * MACRO_APPROVAL_INVALID (403), CRYPTO_DECRYPTION_FAILED, REQUEST_INVALID,
 * and the order's refusals (INSUFFICIENT_FUNDS, LIMIT_EXCEEDED, …).
 *
 * GET /macro/confirmations/:sessionId, device-authenticated → 200 `{
 * sessionId, state, refusalCode?, payConfirm? }`, state one of
 * approval_requested, declined, refused, sending, completed; `payConfirm`
 * (when completed) the bank's JWS over the core's PayConfirmToClientContent
 * sealed to the asking device.
 */
export function registerMacroDeviceRoutes(app: FastifyInstance, context: MacroContext): void {
  app.get(
    '/macro/approval-requests',
    { schema: bankDocs['GET /macro/approval-requests'] },
    async (request) => {
      const device = await deviceOf(context, request);
      const pending = await selectPendingMacroApprovals(
        context.database,
        device.partyId,
        context.clock(),
        macroBankLimits.pendingApprovalsPageMax,
      );
      return {
        approvalRequests: pending.map((record) => ({
          sessionId: record.sessionId,
          expiresAt: record.expiresAt.toISOString(),
          pappReq: record.approvalRequest,
        })),
      };
    },
  );

  app.post<{ Params: SessionParams; Body: { approval: string } }>(
    '/macro/approvals/:sessionId',
    {
      schema: {
        ...bankDocs['POST /macro/approvals/:sessionId'],
        params: sessionParamsSchema,
        body: approvalBodySchema,
      },
    },
    async (request, reply) => {
      const outcome = await answerApprovalRequest(context, request.params.sessionId, request.body.approval);
      const order = outcome.order;
      const status = order === undefined ? 200 : order.state === 'sending' ? 202 : 201;
      return reply.code(status).send({
        sessionId: outcome.sessionId,
        state: outcome.state,
        ...(order === undefined
          ? {}
          : {
              order: {
                id: order.id,
                state: order.state,
                ...(order.refusalCode === null ? {} : { refusalCode: order.refusalCode }),
              },
            }),
        statement: outcome.statement,
      });
    },
  );

  app.get<{ Params: SessionParams }>(
    '/macro/confirmations/:sessionId',
    { schema: { ...bankDocs['GET /macro/confirmations/:sessionId'], params: sessionParamsSchema } },
    async (request) => readConfirmation(context, await deviceOf(context, request), request.params.sessionId),
  );
}
