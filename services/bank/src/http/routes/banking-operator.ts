import { billerIdPattern, MpayError } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import { selectBillers } from '../../banking/business-logic-server/billers.ts';
import {
  registerBankingCustomer,
  registerBiller,
  resetBankingPassword,
  unblockBankingCustomer,
} from '../../banking/business-logic-server/customers.ts';
import type { BankingContext } from '../../banking/context.ts';
import { selectBankingTransaction } from '../../banking/transaction-log-server-client/store.ts';
import { bankDocs } from '../answers.ts';
import { callerOf } from '../authenticate.ts';
import { respondIdempotently } from '../idempotent.ts';
import { type IdParams, idParamsSchema, partyId } from '../schemas.ts';
import type { StrictSchema } from '../strict-validator.ts';

const customerBodySchema = {
  type: 'object',
  properties: {
    partyId,
    userId: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{2,63}$' },
    msisdn: { type: 'string', pattern: '^\\+[1-9][0-9]{6,14}$' },
  },
  required: ['partyId', 'userId', 'msisdn'],
  additionalProperties: false,
} as const satisfies StrictSchema;

interface CustomerBody {
  partyId: string;
  userId: string;
  msisdn: string;
}

const partyParamsSchema = {
  type: 'object',
  properties: { partyId },
  required: ['partyId'],
  additionalProperties: false,
} as const satisfies StrictSchema;

interface PartyParams {
  partyId: string;
}

/** The unblock and the password reset take no fields; the body may be absent. */
const emptyBodySchema = {
  type: ['object', 'null'],
  properties: {},
  additionalProperties: false,
} as const satisfies StrictSchema;

const billerBodySchema = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: billerIdPattern.source },
    name: { type: 'string', minLength: 1, maxLength: 100 },
    payeeId: partyId,
  },
  required: ['id', 'name', 'payeeId'],
  additionalProperties: false,
} as const satisfies StrictSchema;

interface BillerBody {
  id: string;
  name: string;
  payeeId: string;
}

/**
 * The operator's routes of the mobile banking server (authenticated by the
 * bank's request verifier; every POST takes an Idempotency-Key):
 *
 * - POST /banking/customers {partyId, userId, msisdn} → 201 {partyId, userId,
 *   msisdn}: the party must own an open customer account here
 *   (ACCOUNT_UNKNOWN); BANKING_CUSTOMER_EXISTS for a party or user id
 *   registered already.
 * - POST /banking/customers/:partyId/unblock → 200 the customer (failed
 *   logins 0, not blocked); POST /banking/customers/:partyId/password-reset →
 *   200 the customer (no password: the customer registers a new one; open
 *   sessions closed). NOT_FOUND for a party that is no banking customer.
 *   The customer: {partyId, userId, msisdn, passwordRegistered, failedLogins, blocked}.
 * - POST /banking/billers {id, name, payeeId} → 201 {id, name, payeeId}
 *   (BANKING_BILLER_EXISTS); GET /banking/billers → {billers: [{id, name, payeeId}]}.
 * - GET /banking/transactions/:id → the stored evidence of a banking
 *   transaction: {id, partyId, kind, transferId?, messages, logIndex?,
 *   receipt?} (messages: the device's JWS and the bank's record; logIndex
 *   once the log took it; receipt once the log proved it).
 */
export function registerBankingOperatorRoutes(app: FastifyInstance, context: BankingContext): void {
  app.post<{ Body: CustomerBody }>(
    '/banking/customers',
    { schema: { ...bankDocs['POST /banking/customers'], body: customerBodySchema } },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, async () => ({
        statusCode: 201,
        body: await registerBankingCustomer(context, request.body, callerOf(request)),
      })),
  );

  app.post<{ Params: PartyParams }>(
    '/banking/customers/:partyId/unblock',
    {
      schema: {
        ...bankDocs['POST /banking/customers/:partyId/unblock'],
        params: partyParamsSchema,
        body: emptyBodySchema,
      },
    },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, async () => ({
        statusCode: 200,
        body: await unblockBankingCustomer(context, request.params.partyId),
      })),
  );

  app.post<{ Params: PartyParams }>(
    '/banking/customers/:partyId/password-reset',
    {
      schema: {
        ...bankDocs['POST /banking/customers/:partyId/password-reset'],
        params: partyParamsSchema,
        body: emptyBodySchema,
      },
    },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, async () => ({
        statusCode: 200,
        body: await resetBankingPassword(context, request.params.partyId),
      })),
  );

  app.post<{ Body: BillerBody }>(
    '/banking/billers',
    { schema: { ...bankDocs['POST /banking/billers'], body: billerBodySchema } },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, async () => ({
        statusCode: 201,
        body: await registerBiller(context, request.body, callerOf(request)),
      })),
  );

  app.get('/banking/billers', { schema: bankDocs['GET /banking/billers'] }, async () => ({
    billers: await selectBillers(context.database),
  }));

  app.get<{ Params: IdParams }>(
    '/banking/transactions/:id',
    { schema: { ...bankDocs['GET /banking/transactions/:id'], params: idParamsSchema } },
    async (request) => {
      const transaction = await selectBankingTransaction(context.database, request.params.id);
      if (transaction === undefined) throw new MpayError('NOT_FOUND');
      return {
        id: transaction.id,
        partyId: transaction.partyId,
        kind: transaction.kind,
        ...(transaction.transferId === null ? {} : { transferId: transaction.transferId }),
        messages: transaction.messages,
        ...(transaction.logIndex === null ? {} : { logIndex: Number(transaction.logIndex) }),
        ...(transaction.receipt === null ? {} : { receipt: transaction.receipt }),
      };
    },
  );
}
