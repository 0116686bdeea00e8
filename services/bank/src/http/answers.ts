import {
  arrayOf,
  booleanSchema,
  compactJose,
  exactObject,
  integerSchema,
  isoTime,
  type JsonSchema,
  jwk,
  nullable,
  openObject,
  stringSchema,
} from '@mpay/http-server';
import type { FastifySchema } from 'fastify';

/**
 * What GET /openapi.json tells of the bank's routes beyond the request
 * schemas of schemas.ts (which the strict validator enforces): a summary and
 * the shape of each answer. Response schemas describe, they never serialize
 * (see @mpay/http-server openapi.ts); test/e2e/openapi-contract.test.ts
 * checks real answers against them. Typed FastifySchema, so that a route's
 * `reply.code(…)` stays a number.
 */

/** Minor units as decimal text (amounts never leave as JSON numbers). */
const minor = { type: 'string', pattern: '^-?[0-9]{1,20}$' } as const;

const accountAnswer = exactObject({
  id: stringSchema,
  owner: stringSchema,
  currency: stringSchema,
  kind: stringSchema,
  flags: { type: 'object' },
  debitsPending: minor,
  debitsPosted: minor,
  creditsPending: minor,
  creditsPosted: minor,
  balance: minor,
  available: minor,
  closed: booleanSchema,
});

const accountWithLimits: JsonSchema = {
  ...accountAnswer,
  required: [...(accountAnswer.required as string[]), 'limits'],
  properties: {
    ...(accountAnswer.properties as object),
    limits: exactObject({ perTransactionMax: minor, dailyDebitMax: minor }, [
      'perTransactionMax',
      'dailyDebitMax',
    ]),
  },
};

const transferAnswer = exactObject(
  {
    id: stringSchema,
    kind: stringSchema,
    debitAccountId: stringSchema,
    creditAccountId: stringSchema,
    amount: minor,
    currency: stringSchema,
    pendingId: stringSchema,
    timeoutSeconds: integerSchema,
    expiresAt: isoTime,
    status: stringSchema,
    reference: stringSchema,
    createdAt: isoTime,
  },
  ['pendingId', 'timeoutSeconds', 'expiresAt', 'status'],
);

const paymentOrderAnswer = openObject({
  id: stringSchema,
  state: stringSchema,
  debitAccountId: stringSchema,
  creditBankId: stringSchema,
  amount: minor,
  currency: stringSchema,
  attempts: integerSchema,
});

const auditAnswer = exactObject({
  ok: booleanSchema,
  accountsChecked: integerSchema,
  transfersChecked: integerSchema,
  ledgers: arrayOf(
    exactObject({
      currency: stringSchema,
      accounts: integerSchema,
      debitsPending: minor,
      debitsPosted: minor,
      creditsPending: minor,
      creditsPosted: minor,
    }),
  ),
  violations: arrayOf({}),
  mismatches: arrayOf({ type: 'object' }),
});

const bankingCustomer = exactObject({
  partyId: stringSchema,
  userId: stringSchema,
  msisdn: stringSchema,
  passwordRegistered: booleanSchema,
  failedLogins: integerSchema,
  blocked: booleanSchema,
});

const biller = exactObject({ id: stringSchema, name: stringSchema, payeeId: stringSchema });

/** SA2pMP's ID_C: SIM, phone id and account id. */
const deviceRegistered = exactObject({
  serial: stringSchema,
  partyId: stringSchema,
  clientId: exactObject({ sim: stringSchema, phoneId: stringSchema, accountId: stringSchema }),
});

function doc(summary: string, tag: string, response: Record<number, JsonSchema>, more: FastifySchema = {}) {
  const schema: FastifySchema = { summary, tags: [tag], response, ...more };
  return schema;
}

const noRequestBody: FastifySchema = { noRequestBody: true };

/** Keyed by `METHOD url` as the route registers it. */
export const bankDocs = {
  'GET /bank': doc("The bank's id, public signing keys and encryption key", 'key depository', {
    200: exactObject({ id: stringSchema, keys: exactObject({ keys: arrayOf(jwk) }), encryptionJwk: jwk }, [
      'encryptionJwk',
    ]),
  }),
  'POST /enrolments': doc(
    "Enrols a customer's device key with a one-time code (a bank-signed binding)",
    'key depository',
    {
      201: openObject({ serial: stringSchema, binding: compactJose }),
      200: openObject({ serial: stringSchema, binding: compactJose }),
    },
  ),
  'GET /key-bindings/:serial': doc('A key binding and its status, for anyone to check', 'key depository', {
    200: openObject({ serial: stringSchema }),
  }),
  'POST /enrolment-codes': doc('Issues a one-time enrolment code (operator)', 'key depository', {
    201: openObject({ partyId: stringSchema, expiresAt: isoTime }),
  }),
  'POST /key-bindings/:serial/revocation': doc(
    'Revokes a key binding, a lost device (operator)',
    'key depository',
    {
      201: openObject({ serial: stringSchema }),
      200: openObject({ serial: stringSchema }),
    },
  ),
  'POST /second-factor-resets': doc("Resets a party's second factor (operator)", 'key depository', {
    200: openObject({ partyId: stringSchema }),
  }),
  'POST /accounts': doc('Opens an account (operator)', 'accounts', {
    201: accountAnswer,
    200: accountAnswer,
  }),
  'GET /accounts/:id': doc('An account with its balances and debit limits', 'accounts', {
    200: accountWithLimits,
  }),
  'POST /accounts/:id/close': doc('Closes an empty account', 'accounts', { 200: accountWithLimits }),
  'POST /accounts/:id/limits': doc("Sets an account's debit limits", 'accounts', { 200: accountWithLimits }),
  'GET /accounts/:id/statement': doc("An account's statement, newest first, page by page", 'accounts', {
    200: openObject({ entries: arrayOf({ type: 'object' }), nextCursor: nullable(stringSchema) }),
  }),
  'POST /transfers': doc('Creates a transfer (operator)', 'transfers', {
    201: transferAnswer,
    200: transferAnswer,
  }),
  'POST /transfers/batch': doc('Creates transfers, each alone or linked all or none', 'transfers', {
    200: openObject({ results: arrayOf({ type: 'object' }) }),
    201: openObject({ results: arrayOf({ type: 'object' }) }),
  }),
  'POST /transfers/:id/post': doc('Posts a pending transfer (a hold), all or part', 'transfers', {
    201: transferAnswer,
    200: transferAnswer,
  }),
  'POST /transfers/:id/void': doc('Voids a pending transfer', 'transfers', {
    201: transferAnswer,
    200: transferAnswer,
  }),
  'GET /transfers/:id': doc('A transfer', 'transfers', { 200: transferAnswer }),
  'POST /transfers/:id/refund': doc('Refunds all or part of a posted transfer', 'transfers', {
    201: transferAnswer,
    200: transferAnswer,
  }),
  'POST /transfers/:id/reverse': doc("The operator's reversal of a posted transfer", 'transfers', {
    201: transferAnswer,
    200: transferAnswer,
  }),
  'GET /transfers/:id/corrections': doc('A transfer with its refunds and reversals', 'transfers', {
    200: openObject({ transfer: transferAnswer }),
  }),
  'GET /audit': doc("The ledger's invariants, checked now", 'operations', { 200: auditAnswer }),
  'GET /settlements': doc('Settlement runs booked here, newest first', 'operations', {
    200: openObject({ settlements: arrayOf({ type: 'object' }) }),
  }),
  'GET /outboxes': doc("Each outbox's backlog", 'operations', {
    200: openObject({ outboxes: arrayOf({ type: 'object' }) }),
  }),
  'POST /payment-orders': doc("The FSP's payment order (iMS step 7)", 'interbank', {
    201: { ...paymentOrderAnswer, description: 'Finished' },
    202: { ...paymentOrderAnswer, description: "The merchant's bank has not answered yet" },
  }),
  'GET /payment-orders/:id': doc('A payment order as the FSP sees it', 'interbank', {
    200: paymentOrderAnswer,
  }),
  'GET /interbank/credits/:id': doc('A credit a peer bank asked of this bank', 'interbank', {
    200: openObject({
      id: stringSchema,
      debtorBank: stringSchema,
      outcome: { enum: ['credited', 'refused'] },
    }),
  }),
  'GET /settlement/positions': doc('What this bank owes each peer, per currency', 'interbank', {
    200: exactObject({
      bank: stringSchema,
      positions: arrayOf(
        openObject({ peer: stringSchema, currency: stringSchema, net: minor, pending: minor }),
      ),
    }),
  }),
  'POST /settlements': doc('Books a settlement with a peer', 'interbank', {
    201: exactObject({ id: stringSchema, transferId: stringSchema }),
    200: exactObject({ id: stringSchema, transferId: stringSchema }),
  }),
  'POST /interbank/funds-transfers': doc("A peer bank's signed funds transfer", 'interbank', {
    200: exactObject({ answer: compactJose }),
  }),
  'POST /refund-orders': doc("The FSP's refund order at the merchant's bank", 'refunds', {
    201: openObject({ id: stringSchema, state: stringSchema }),
    202: openObject({ id: stringSchema, state: stringSchema }),
  }),
  'GET /refund-orders/:id': doc('A refund order', 'refunds', {
    200: openObject({ id: stringSchema, state: stringSchema }),
  }),
  'POST /interbank/refund-transfers': doc("A peer bank's signed refund transfer", 'refunds', {
    200: exactObject({ answer: compactJose }),
  }),
  'POST /macro/clients': doc('Issues a macro client id to a customer (the MPASP)', 'macro', {
    201: openObject({
      clientId: stringSchema,
      partyId: stringSchema,
      bankId: stringSchema,
      statement: compactJose,
    }),
    200: openObject({
      clientId: stringSchema,
      partyId: stringSchema,
      bankId: stringSchema,
      statement: compactJose,
    }),
  }),
  'POST /macro/payment-requests': doc("The MPASP's step 6: a PApp_Req for the client's device", 'macro', {
    202: exactObject({ state: { const: 'approval_requested' }, sessionId: stringSchema }),
  }),
  'GET /macro/sessions/:sessionId/outcome': doc(
    "A macro session's outcome (step 12), for the MPASP",
    'macro',
    {
      200: openObject({ sessionId: stringSchema, state: stringSchema, statement: compactJose }),
    },
  ),
  'GET /macro/payment-requests/:sessionId': doc('A macro payment request as the bank recorded it', 'macro', {
    200: openObject({ sessionId: stringSchema }),
  }),
  'GET /macro/approval-requests': doc(
    "The device's open approval requests (PApp_Req), oldest first",
    'macro',
    {
      200: exactObject({
        approvalRequests: arrayOf(
          exactObject({ sessionId: stringSchema, expiresAt: isoTime, pappReq: stringSchema }),
        ),
      }),
    },
  ),
  'POST /macro/approvals/:sessionId': doc("The device's signed approval or decline (PApp_Resp)", 'macro', {
    201: openObject({ sessionId: stringSchema, state: stringSchema, statement: compactJose }),
    202: openObject({ sessionId: stringSchema, state: stringSchema, statement: compactJose }),
    200: openObject({ sessionId: stringSchema, state: stringSchema, statement: compactJose }),
  }),
  'GET /macro/confirmations/:sessionId': doc("The client's Pay_Confirm (step 11)", 'macro', {
    200: openObject({ sessionId: stringSchema, state: stringSchema }),
  }),
  'GET /macro/merchant-confirmations': doc("The merchant's Pay_Confirms (step 9), oldest first", 'macro', {
    200: openObject({
      confirmations: arrayOf(openObject({ sessionId: stringSchema, payConfirm: stringSchema })),
    }),
  }),
  'POST /banking/devices': doc('Registers a banking device (SA2pMP)', 'banking', {
    201: deviceRegistered,
    200: deviceRegistered,
  }),
  'POST /banking/passwords/start': doc('Starts an OPAQUE password registration', 'banking', {
    200: exactObject({ registrationResponse: stringSchema }),
  }),
  'POST /banking/passwords/finish': doc('Finishes the password registration', 'banking', {
    201: exactObject({ userId: stringSchema, registeredAt: isoTime }),
  }),
  'POST /banking/logins': doc('Starts a login: the password (OPAQUE) and the device key', 'banking', {
    200: exactObject({ loginId: stringSchema, loginResponse: stringSchema }),
  }),
  'POST /banking/logins/:loginId/finish': doc('Finishes the password step; the code goes by SMS', 'banking', {
    200: exactObject({ loginId: stringSchema, answer: stringSchema }),
  }),
  'POST /banking/logins/:loginId/code': doc('The one-time code: a banking session', 'banking', {
    201: exactObject({ sessionId: stringSchema, expiresAt: isoTime, statement: compactJose }),
  }),
  'POST /banking/requests': doc('A banking request E(S(msg, ID_C)) in a session', 'banking', {
    200: exactObject({ sessionId: stringSchema, requestId: stringSchema, answer: stringSchema }),
  }),
  'POST /banking/renewal-notices': doc('Asks a banking device to renew its key (operator)', 'banking', {
    201: exactObject({ noticeId: stringSchema, serial: stringSchema, state: stringSchema }),
    200: openObject({ noticeId: stringSchema, serial: stringSchema, state: stringSchema }),
  }),
  'POST /banking/customers': doc('Registers a banking customer (operator)', 'banking', {
    201: exactObject({ partyId: stringSchema, userId: stringSchema, msisdn: stringSchema }),
  }),
  'POST /banking/customers/:partyId/unblock': doc("Unblocks a customer's logins (operator)", 'banking', {
    200: bankingCustomer,
  }),
  'POST /banking/customers/:partyId/password-reset': doc(
    "Resets a customer's password (operator)",
    'banking',
    {
      200: bankingCustomer,
    },
  ),
  'POST /banking/billers': doc('Registers a biller (operator)', 'banking', { 201: biller }),
  'GET /banking/billers': doc('The billers', 'banking', { 200: exactObject({ billers: arrayOf(biller) }) }),
  'GET /banking/transactions/:id': doc("A banking transaction's stored evidence (operator)", 'banking', {
    200: openObject({
      id: stringSchema,
      partyId: stringSchema,
      kind: stringSchema,
      messages: arrayOf(stringSchema),
    }),
  }),
} as const satisfies Record<string, FastifySchema>;

/** For a POST that reads no body. */
export function withoutBody(schema: FastifySchema): FastifySchema {
  return { ...schema, ...noRequestBody };
}
