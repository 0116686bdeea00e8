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
  flags: exactObject({
    debitsMustNotExceedCredits: booleanSchema,
    creditsMustNotExceedDebits: booleanSchema,
  }),
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

/** A refund or reversal: a new transfer naming the one it corrects (http/routes/corrections.ts). */
const correctionAnswer: JsonSchema = {
  ...transferAnswer,
  required: [...(transferAnswer.required as string[]), 'correction'],
  properties: {
    ...(transferAnswer.properties as object),
    correction: exactObject({ kind: { enum: ['refund', 'reversal'] }, originalId: stringSchema }),
  },
};

/** A payment order as the FSP sees it (http/routes/interbank.ts orderJson). */
const paymentOrderAnswer = exactObject(
  {
    id: stringSchema,
    state: stringSchema,
    payerId: stringSchema,
    debitAccountId: stringSchema,
    payeeId: stringSchema,
    creditBankId: stringSchema,
    amount: minor,
    currency: stringSchema,
    refusalCode: stringSchema,
    attempts: integerSchema,
    answer: compactJose,
    bankAnswer: compactJose,
  },
  ['payerId', 'payeeId', 'refusalCode', 'answer', 'bankAnswer'],
);

/** A refund order (http/routes/refunds.ts refundOrderJson). */
const refundOrderAnswer = exactObject(
  {
    id: stringSchema,
    state: stringSchema,
    originalOrderId: stringSchema,
    originalBank: stringSchema,
    payerId: stringSchema,
    payeeId: stringSchema,
    amount: minor,
    currency: stringSchema,
    refusalCode: stringSchema,
    attempts: integerSchema,
    answer: compactJose,
    bankAnswer: compactJose,
  },
  ['refusalCode', 'answer', 'bankAnswer'],
);

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
  violations: arrayOf(
    exactObject({ rule: stringSchema, ledger: stringSchema, accountId: stringSchema }, ['accountId']),
  ),
  mismatches: arrayOf(
    exactObject({ accountId: stringSchema, field: stringSchema, stored: minor, fromTransfers: minor }),
  ),
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

/** A key binding as GET /key-bindings/:serial publishes it (key-depository/bindings.ts viewOf). */
const keyBindingView = exactObject(
  {
    serial: stringSchema,
    binding: compactJose,
    status: { enum: ['active', 'revoked', 'expired'] },
    revokedAt: isoTime,
  },
  ['revokedAt'],
);

/** An enrolment: the bank-signed binding, the bank's encryption key and the sealed authenticator when it has one. */
const enrolmentAnswer = exactObject(
  { serial: stringSchema, binding: compactJose, bankEncryptionJwk: jwk, sealedAuthenticator: compactJose },
  ['bankEncryptionJwk', 'sealedAuthenticator'],
);

/** A movement of an account's statement (http/routes/statement.ts movementJson). */
const movement = {
  id: stringSchema,
  kind: stringSchema,
  direction: { enum: ['credit', 'debit'] },
  amount: minor,
  counterpartyAccountId: stringSchema,
  reference: stringSchema,
  createdAt: isoTime,
} as const;

const statementAnswer = exactObject(
  {
    accountId: stringSchema,
    currency: stringSchema,
    order: { const: 'newest_first' },
    balance: minor,
    available: minor,
    entries: arrayOf(
      exactObject(
        {
          ...movement,
          pendingId: stringSchema,
          correction: exactObject({ kind: stringSchema, originalId: stringSchema }),
          balanceAfter: minor,
        },
        ['pendingId', 'correction'],
      ),
    ),
    openHolds: arrayOf(exactObject({ ...movement, expiresAt: isoTime, status: stringSchema })),
    openHoldsTruncated: booleanSchema,
    nextCursor: nullable(stringSchema),
  },
  ['openHolds', 'openHoldsTruncated'],
);

/** One result of POST /transfers/batch: the transfer, or its own error. */
const batchResult = {
  anyOf: [
    exactObject({ status: { enum: [200, 201] }, transfer: transferAnswer }),
    exactObject({
      status: integerSchema,
      error: exactObject({ code: stringSchema, message: stringSchema, detail: stringSchema }, ['detail']),
    }),
  ],
} as const;

const settlementRun = exactObject({
  id: stringSchema,
  peer: stringSchema,
  currency: stringSchema,
  amount: minor,
  transferId: stringSchema,
  createdAt: isoTime,
});

const outboxBacklog = exactObject({
  name: stringSchema,
  pending: integerSchema,
  retrying: integerSchema,
  overdue: integerSchema,
  oldestPendingAgeSeconds: nullable({ type: 'number' }),
});

const macroClientIssued = exactObject({
  clientId: stringSchema,
  partyId: stringSchema,
  bankId: stringSchema,
  statement: compactJose,
});

/** A session's outcome for the MPASP (macro/session-outcome.ts). */
const macroSessionOutcome = exactObject(
  {
    sessionId: stringSchema,
    state: stringSchema,
    refusalCode: stringSchema,
    orderId: stringSchema,
    statement: compactJose,
  },
  ['refusalCode', 'orderId'],
);

/** The device's approval or decline answered (http/routes/macro-approvals.ts). */
const macroApprovalAnswer = exactObject(
  {
    sessionId: stringSchema,
    state: stringSchema,
    order: exactObject({ id: stringSchema, state: stringSchema, refusalCode: stringSchema }, ['refusalCode']),
    statement: compactJose,
  },
  ['order'],
);

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
      201: enrolmentAnswer,
      200: enrolmentAnswer,
    },
  ),
  'GET /key-bindings/:serial': doc('A key binding and its status, for anyone to check', 'key depository', {
    200: keyBindingView,
  }),
  'POST /enrolment-codes': doc('Issues a one-time enrolment code (operator)', 'key depository', {
    // `code` in the first answer only: a replay of the same Idempotency-Key answers without it (http/idempotent.ts).
    201: exactObject({ partyId: stringSchema, expiresAt: isoTime, code: stringSchema }, ['code']),
  }),
  'POST /key-bindings/:serial/revocation': doc(
    'Revokes a key binding, a lost device (operator)',
    'key depository',
    {
      201: keyBindingView,
      200: keyBindingView,
    },
  ),
  'POST /second-factor-resets': doc("Resets a party's second factor (operator)", 'key depository', {
    200: exactObject({ partyId: stringSchema, reset: booleanSchema }),
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
    200: statementAnswer,
  }),
  'POST /transfers': doc('Creates a transfer (operator)', 'transfers', {
    201: transferAnswer,
    200: transferAnswer,
  }),
  'POST /transfers/batch': doc('Creates transfers, each alone or linked all or none', 'transfers', {
    200: exactObject({ results: arrayOf(batchResult) }),
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
    201: correctionAnswer,
    200: correctionAnswer,
  }),
  'POST /transfers/:id/reverse': doc("The operator's reversal of a posted transfer", 'transfers', {
    201: correctionAnswer,
    200: correctionAnswer,
  }),
  'GET /transfers/:id/corrections': doc('A transfer with its refunds and reversals', 'transfers', {
    200: exactObject({
      original: transferAnswer,
      corrected: minor,
      remaining: minor,
      corrections: arrayOf(correctionAnswer),
    }),
  }),
  'GET /audit': doc("The ledger's invariants, checked now", 'operations', { 200: auditAnswer }),
  'GET /settlements': doc('Settlement runs booked here, newest first', 'operations', {
    200: exactObject({ settlements: arrayOf(settlementRun) }),
  }),
  'GET /outboxes': doc("Each outbox's backlog", 'operations', {
    200: exactObject({ outboxes: arrayOf(outboxBacklog) }),
  }),
  'POST /payment-orders': doc("The FSP's payment order (iMS step 7)", 'interbank', {
    201: { ...paymentOrderAnswer, description: 'Finished' },
    202: { ...paymentOrderAnswer, description: "The merchant's bank has not answered yet" },
  }),
  'GET /payment-orders/:id': doc('A payment order as the FSP sees it', 'interbank', {
    200: paymentOrderAnswer,
  }),
  'GET /interbank/credits/:id': doc('A credit a peer bank asked of this bank', 'interbank', {
    200: exactObject(
      {
        id: stringSchema,
        debtorBank: stringSchema,
        outcome: { enum: ['credited', 'refused'] },
        refusalCode: stringSchema,
        payeeId: stringSchema,
        amount: minor,
        currency: stringSchema,
        message: stringSchema,
        createdAt: isoTime,
      },
      ['refusalCode', 'payeeId'],
    ),
  }),
  'GET /settlement/positions': doc('What this bank owes each peer, per currency', 'interbank', {
    200: exactObject({
      bank: stringSchema,
      positions: arrayOf(
        exactObject({
          peer: stringSchema,
          currency: stringSchema,
          net: minor,
          pending: minor,
          inFlight: exactObject({ count: integerSchema, amount: minor, overdue: integerSchema }),
        }),
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
    201: refundOrderAnswer,
    202: refundOrderAnswer,
  }),
  'GET /refund-orders/:id': doc('A refund order', 'refunds', {
    200: refundOrderAnswer,
  }),
  'POST /interbank/refund-transfers': doc("A peer bank's signed refund transfer", 'refunds', {
    200: exactObject({ answer: compactJose }),
  }),
  'POST /macro/clients': doc('Issues a macro client id to a customer (the MPASP)', 'macro', {
    201: macroClientIssued,
    200: macroClientIssued,
  }),
  'POST /macro/payment-requests': doc("The MPASP's step 6: a PApp_Req for the client's device", 'macro', {
    202: exactObject({ state: { const: 'approval_requested' }, sessionId: stringSchema }),
  }),
  'GET /macro/sessions/:sessionId/outcome': doc(
    "A macro session's outcome (step 12), for the MPASP",
    'macro',
    {
      200: macroSessionOutcome,
    },
  ),
  'GET /macro/payment-requests/:sessionId': doc('A macro payment request as the bank recorded it', 'macro', {
    200: exactObject(
      {
        sessionId: stringSchema,
        requestedBy: stringSchema,
        state: stringSchema,
        request: stringSchema,
        failure: stringSchema,
      },
      ['failure'],
    ),
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
    201: macroApprovalAnswer,
    202: macroApprovalAnswer,
    200: macroApprovalAnswer,
  }),
  'GET /macro/confirmations/:sessionId': doc("The client's Pay_Confirm (step 11)", 'macro', {
    200: exactObject(
      { sessionId: stringSchema, state: stringSchema, refusalCode: stringSchema, payConfirm: compactJose },
      ['refusalCode', 'payConfirm'],
    ),
  }),
  'GET /macro/merchant-confirmations': doc("The merchant's Pay_Confirms (step 9), oldest first", 'macro', {
    200: exactObject(
      {
        confirmations: arrayOf(
          exactObject({ sequence: stringSchema, sessionId: stringSchema, payConfirm: compactJose }),
        ),
        next: stringSchema,
      },
      ['next'],
    ),
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
    200: exactObject({ noticeId: stringSchema, serial: stringSchema, state: stringSchema }),
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
    200: exactObject(
      {
        id: stringSchema,
        partyId: stringSchema,
        kind: stringSchema,
        transferId: stringSchema,
        messages: arrayOf(stringSchema),
        logIndex: integerSchema,
        receipt: stringSchema,
      },
      ['transferId', 'logIndex', 'receipt'],
    ),
  }),
} as const satisfies Record<string, FastifySchema>;

/** For a POST that reads no body. */
export function withoutBody(schema: FastifySchema): FastifySchema {
  return { ...schema, ...noRequestBody };
}
