import { publicJwkSet } from '@mpay/envelope';
import { verifySignedRequest } from '@mpay/http-client';
import {
  arrayOf,
  documentSecurity,
  exactObject,
  integerSchema,
  isoTime,
  joseBody,
  jwkSet,
  logReceipt,
  nullable,
  pendingState,
  rawBodyOf,
  type SecurityRequirement,
  signedRequest,
  stringSchema,
  uuid,
} from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CustodyContext } from '../context.ts';
import { bankOf } from '../customers/banks.ts';
import { type AuthenticatedDevice, addDevice, authenticateDevice } from '../customers/devices.ts';
import { enrolCustodyCustomer } from '../customers/enrol.ts';
import { registerWalletPin } from '../customers/wallet-pins.ts';
import { finishLogin, refuseFinish, startLogin } from '../pin/logins.ts';
import { newRegistration } from '../pin/registrations.ts';
import { unblockCustomer } from '../pin/tries.ts';
import { type PaymentEvidence, paymentEvidenceOf, refundEvidenceOf } from '../procedure/evidence.ts';
import { inboxPage } from '../procedure/inbox.ts';
import { type RefundReceiptRedirect, receiveRefundReceipt } from '../procedure/refund-receipt.ts';
import { authenticateFsp, type FspRedirect, receiveFromFsp } from '../procedure/step2-receive.ts';
import { authoriseDelegation, delegateSignaturesOf, startDelegation } from '../procedure/step6-delegate.ts';

const opaqueString = { type: 'string', pattern: '^[A-Za-z0-9_-]{16,4096}$' } as const;
const opaqueId = { type: 'string', pattern: '^[A-Za-z0-9_-]{22}$' } as const;
const partyIdString = { type: 'string', minLength: 3, maxLength: 200 } as const;
const deviceIdString = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const;
const paymentIdString = {
  type: 'string',
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
} as const;
const paymentIdPattern = new RegExp(paymentIdString.pattern);
const redirectData = { type: 'string', minLength: 1, maxLength: 60_000 } as const;

function objectSchema(properties: Record<string, unknown>, required: string[] = Object.keys(properties)) {
  return { type: 'object', additionalProperties: false, required, properties } as const;
}

const tags = ['custody'];
const deviceBearer: readonly SecurityRequirement[] = [{ deviceToken: [] }];
/** What each route requires (GET /openapi.json); the others are public or carry their proof in the body (OPAQUE). */
const security: Readonly<Record<string, readonly SecurityRequirement[]>> = {
  'POST /customers/:partyId/unblock': signedRequest,
  'POST /fsp/messages': signedRequest,
  'GET /inbox': deviceBearer,
  'POST /delegations': deviceBearer,
  'POST /delegations/:delegationId/authorisation': deviceBearer,
  'GET /delegate-signatures': deviceBearer,
  'GET /payments/:paymentId/evidence': deviceBearer,
  'GET /payments/:paymentId/refunds/:refundId/evidence': deviceBearer,
};
const loginStarted = exactObject({ loginId: stringSchema, loginResponse: stringSchema });
const docs = {
  custody: {
    summary: "Custody's id, public keys and OPAQUE public key",
    tags,
    response: {
      200: exactObject({ id: stringSchema, keys: jwkSet, opaquePublicKey: stringSchema }),
    },
  },
  registration: {
    summary: 'Starts an OPAQUE PIN registration',
    tags,
    response: { 201: exactObject({ registrationId: stringSchema, registrationResponse: stringSchema }) },
  },
  walletPin: {
    summary: "Registers a device-key wallet's PIN, bound to its bank binding",
    tags,
    response: { 201: exactObject({ credentialId: stringSchema }) },
  },
  login: { summary: 'Starts a PIN login (OPAQUE)', tags, response: { 200: loginStarted } },
  finish: {
    summary: 'Finishes a PIN login',
    tags,
    response: { 200: exactObject({ status: { const: 'ok' } }) },
  },
  enrolment: {
    summary: 'Enrols a custody customer with the code its bank gave',
    tags,
    response: {
      201: exactObject({
        partyId: stringSchema,
        serial: stringSchema,
        binding: stringSchema,
        credentialId: stringSchema,
        deviceId: stringSchema,
        deviceToken: stringSchema,
      }),
    },
  },
  device: {
    summary: "Adds a phone of a custody customer (after the PIN's login)",
    tags,
    response: { 201: exactObject({ deviceToken: stringSchema }) },
  },
  unblock: {
    summary: "Unblocks a customer's PIN (the customer's bank, signed request)",
    tags,
    noRequestBody: true,
    response: {
      200: exactObject({ partyId: stringSchema, status: { enum: ['unblocked', 'not-blocked'] } }),
    },
  },
  redirect: {
    summary: "The FSP's redirect of a payment's events or a refund's receipt (iMS §5 step 1)",
    tags,
    response: { 200: exactObject({ status: { const: 'accepted' } }) },
  },
  inbox: {
    summary: "The phone's inbox after a cursor (long poll up to waitMs)",
    tags,
    querystring: {
      type: 'object',
      properties: { after: { type: 'string' }, waitMs: { type: 'string' } },
    },
    response: {
      200: exactObject({
        events: arrayOf(
          exactObject({ cursor: stringSchema, event: stringSchema, paymentId: uuid, forward: stringSchema }, [
            'paymentId',
          ]),
        ),
      }),
    },
  },
  delegation: {
    summary: 'Starts a delegate signature: the PIN login for one payment (steps 4–5)',
    tags,
    response: { 200: exactObject({ delegationId: stringSchema, loginResponse: stringSchema }) },
  },
  authorisation: {
    summary: "The phone's PIN proof and decision: custody signs in the HSM (step 6)",
    tags,
    rawBody: joseBody('JWE to custody of the OPAQUE finish and the decision'),
    response: {
      200: exactObject(
        { status: { enum: ['completed', 'authorised', 'declined'] }, paymentId: uuid, receipt: stringSchema },
        ['receipt'],
      ),
    },
  },
  signatures: {
    summary: 'What custody signed for the customer, newest first',
    tags,
    response: {
      200: exactObject({
        signatures: arrayOf(
          exactObject({
            paymentId: uuid,
            decision: stringSchema,
            kid: stringSchema,
            signedAt: isoTime,
            jws: stringSchema,
            logIndex: nullable(integerSchema),
          }),
        ),
      }),
    },
  },
  evidence: (summary: string) => ({
    summary,
    tags,
    response: { 200: logReceipt, 202: { ...pendingState, description: 'The log has not proved it yet' } },
  }),
} as const;

const schemas = {
  registration: objectSchema({ registrationRequest: opaqueString }),
  walletPin: objectSchema({
    registrationId: opaqueId,
    registrationRecord: opaqueString,
    binding: { type: 'string', minLength: 1, maxLength: 16_384 },
    proof: { type: 'string', minLength: 1, maxLength: 8_192 },
  }),
  login: objectSchema({ credentialId: opaqueId, startLoginRequest: opaqueString }),
  finish: objectSchema({ finishLoginRequest: { anyOf: [opaqueString, { type: 'null' }] } }),
  enrolment: objectSchema({
    partyId: partyIdString,
    bankId: { type: 'string', minLength: 1, maxLength: 64 },
    code: { type: 'string', minLength: 1, maxLength: 64 },
    deviceId: deviceIdString,
    displayName: { type: 'string', minLength: 1, maxLength: 100 },
    registrationId: opaqueId,
    registrationRecord: opaqueString,
  }),
  device: objectSchema({
    deviceId: deviceIdString,
    loginId: opaqueId,
    finishLoginRequest: { anyOf: [opaqueString, { type: 'null' }] },
  }),
  // A payment's events (step 1), or a refund's receipt, which names its refund.
  redirect: {
    oneOf: [
      objectSchema({
        event: { type: 'string', enum: ['payment-request', 'receipt', 'outcome'] },
        paymentId: paymentIdString,
        data: redirectData,
      }),
      objectSchema({
        event: { type: 'string', const: 'refund-receipt' },
        paymentId: paymentIdString,
        refundId: paymentIdString,
        data: redirectData,
      }),
    ],
  },
  delegation: objectSchema({ paymentId: paymentIdString, startLoginRequest: opaqueString }),
} as const;

function bodyOf<T>(request: FastifyRequest): T {
  return request.body as T;
}

function param(request: FastifyRequest, name: string, pattern: RegExp): string {
  const value = (request.params as Record<string, unknown>)[name];
  if (typeof value !== 'string' || !pattern.test(value)) throw new MpayError('NOT_FOUND');
  return value;
}

/** The customer's bank, by its signed request (`Authorization: MPay …`, audience custody). */
async function authenticateBankOf(context: CustodyContext, request: FastifyRequest, partyId: string) {
  const { rows } = await context.database.query<{ bank_id: string }>(
    'SELECT bank_id FROM customers WHERE party_id = $1',
    [partyId],
  );
  const bankId = rows[0]?.bank_id;
  if (bankId === undefined) throw new MpayError('AUTHENTICATION_FAILED');
  const bank = bankOf(context, bankId);
  const verified = await verifySignedRequest(
    {
      method: request.method,
      path: request.url,
      body: rawBodyOf(request),
      authorization: request.headers.authorization,
    },
    {
      audience: context.custody.id,
      resolveKey: async (kid) => (kid === bank.signingJwk.kid ? bank.signingJwk : undefined),
      clockSkewSeconds: context.limits.clockSkewSeconds,
    },
  );
  if (verified.issuer !== bank.id) throw new MpayError('AUTHENTICATION_FAILED');
  return verified;
}

/** A signed request is used once: its nonce is kept until it would have expired (a replay is refused). */
async function useNonce(
  sql: Sql,
  issuer: string,
  nonce: string,
  expiresAtSeconds: number,
  skewSeconds: number,
) {
  const inserted = await sql.query(
    'INSERT INTO used_nonces (issuer, nonce, expires_at) VALUES ($1, $2, to_timestamp($3)) ON CONFLICT DO NOTHING',
    [issuer, nonce, expiresAtSeconds + skewSeconds],
  );
  if (inserted.rowCount !== 1) throw new MpayError('MESSAGE_REPLAYED');
}

/** Waits until the customer's inbox may have something after `after`, or the wait is over. */
async function waitForInbox(
  context: CustodyContext & { waitForInbox: (partyId: string, ms: number) => Promise<boolean> },
  partyId: string,
  after: bigint,
  waitMs: number,
) {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const events = await inboxPage(context, partyId, after);
    const remainingMs = deadline - Date.now();
    if (events.length > 0 || remainingMs <= 0) return events;
    // A closing service answers its long polls now (empty), instead of holding its close for their wait.
    if (!(await context.waitForInbox(partyId, Math.min(remainingMs, 1_000)))) return events;
  }
}

export function registerCustodyRoutes(
  app: FastifyInstance,
  context: CustodyContext & { waitForInbox: (partyId: string, ms: number) => Promise<boolean> },
): void {
  documentSecurity(app, security);
  /** Long polls open per phone. */
  const polls = new Map<string, number>();
  /** Evidence requests open per customer (each signs in the HSM and calls the FSP). */
  const evidenceRequests = new Map<string, number>();
  app.get('/custody', { schema: docs.custody }, async () => ({
    id: context.custody.id,
    keys: publicJwkSet([context.custody.signing.publicJwk, context.custody.encryption.publicJwk]),
    opaquePublicKey: context.pins.publicKey,
  }));

  // OPAQUE: registration and login (for custody customers and device-key wallets alike).
  app.post(
    '/pin-registrations',
    { schema: { ...docs.registration, body: schemas.registration } },
    async (request, reply) => {
      const body = bodyOf<{ registrationRequest: string }>(request);
      return reply.code(201).send(await newRegistration(context, body.registrationRequest));
    },
  );
  app.post(
    '/wallet-pins',
    { schema: { ...docs.walletPin, body: schemas.walletPin } },
    async (request, reply) => {
      return reply.code(201).send(await registerWalletPin(context, bodyOf(request)));
    },
  );
  app.post('/pin-logins', { schema: { ...docs.login, body: schemas.login } }, async (request) => {
    const body = bodyOf<{ credentialId: string; startLoginRequest: string }>(request);
    return startLogin(context, body.credentialId, body.startLoginRequest, { purpose: 'login' });
  });
  app.post(
    '/pin-logins/:loginId/finish',
    { schema: { ...docs.finish, body: schemas.finish } },
    async (request) => {
      const loginId = param(request, 'loginId', /^[A-Za-z0-9_-]{22}$/);
      const body = bodyOf<{ finishLoginRequest: string | null }>(request);
      const finished = await context.database.transaction((sql) =>
        finishLogin(context, sql, loginId, body.finishLoginRequest, (login) => login.purpose === 'login'),
      );
      if (!finished.ok) return refuseFinish(context, finished.partyId);
      return { status: 'ok' };
    },
  );

  // Custody customers: enrolment, more phones, the bank's unblock.
  app.post(
    '/enrolments',
    { schema: { ...docs.enrolment, body: schemas.enrolment } },
    async (request, reply) => {
      return reply.code(201).send(await enrolCustodyCustomer(context, bodyOf(request)));
    },
  );
  app.post(
    '/customers/:partyId/devices',
    { schema: { ...docs.device, body: schemas.device } },
    async (request, reply) => {
      const partyId = param(request, 'partyId', /^[^\s/]{3,200}$/);
      const body = bodyOf<{ deviceId: string; loginId: string; finishLoginRequest: string | null }>(request);
      return reply
        .code(201)
        .send(await addDevice(context, partyId, body.deviceId, body.loginId, body.finishLoginRequest));
    },
  );
  app.post('/customers/:partyId/unblock', { schema: docs.unblock }, async (request) => {
    const partyId = param(request, 'partyId', /^[^\s/]{3,200}$/);
    const verified = await authenticateBankOf(context, request, partyId);
    const now = context.clock();
    const unblocked = await context.database.transaction(async (sql) => {
      await useNonce(
        sql,
        verified.issuer,
        verified.nonce,
        verified.expiresAtSeconds,
        context.limits.clockSkewSeconds,
      );
      return unblockCustomer(context, sql, partyId, now);
    });
    context.log.warn({ partyId, unblocked }, "PIN unblocked by the customer's bank");
    return { partyId, status: unblocked ? 'unblocked' : 'not-blocked' };
  });

  // Step 1 → 2: the FSP's redirect.
  app.post('/fsp/messages', { schema: { ...docs.redirect, body: schemas.redirect } }, async (request) => {
    await authenticateFsp(context, {
      method: request.method,
      path: request.url,
      body: rawBodyOf(request),
      authorization: request.headers.authorization,
    });
    const redirect = bodyOf<FspRedirect | RefundReceiptRedirect>(request);
    if (redirect.event === 'refund-receipt') await receiveRefundReceipt(context, redirect);
    else await receiveFromFsp(context, redirect);
    return { status: 'accepted' };
  });

  // The phone: its inbox (step 2's delivery, step 10), the delegation (steps 4–6), what custody signed.
  app.get('/inbox', { schema: docs.inbox }, async (request) => {
    const device = await authenticateDevice(context, request.headers.authorization);
    const query = request.query as { after?: unknown; waitMs?: unknown };
    const after =
      typeof query.after === 'string' && /^[0-9]{1,18}$/.test(query.after) ? BigInt(query.after) : 0n;
    const waitMs =
      typeof query.waitMs === 'string' && /^[0-9]{1,6}$/.test(query.waitMs) ? Number(query.waitMs) : 0;
    // A phone holds a bounded number of long polls; more are answered at once, so no phone can
    // take the request slots the FSP's redirects and the PIN authorisations need.
    const key = `${device.partyId}\n${device.deviceId}`;
    const open = polls.get(key) ?? 0;
    const wait =
      open < context.limits.inboxPollsPerDeviceMax ? Math.min(waitMs, context.limits.inboxWaitMsMax) : 0;
    polls.set(key, open + 1);
    try {
      return { events: await waitForInbox(context, device.partyId, after, wait) };
    } finally {
      const left = (polls.get(key) ?? 1) - 1;
      if (left === 0) polls.delete(key);
      else polls.set(key, left);
    }
  });
  app.post('/delegations', { schema: { ...docs.delegation, body: schemas.delegation } }, async (request) => {
    const device = await authenticateDevice(context, request.headers.authorization);
    const body = bodyOf<{ paymentId: string; startLoginRequest: string }>(request);
    return startDelegation(context, device, body.paymentId, body.startLoginRequest);
  });
  app.post('/delegations/:delegationId/authorisation', { schema: docs.authorisation }, async (request) => {
    const device = await authenticateDevice(context, request.headers.authorization);
    const delegationId = param(request, 'delegationId', /^[A-Za-z0-9_-]{22}$/);
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim();
    if (type !== 'application/jose' || typeof request.body !== 'string') {
      throw new MpayError('REQUEST_INVALID', 'expected an application/jose body');
    }
    return authoriseDelegation(context, device, delegationId, request.body.trim());
  });
  app.get('/delegate-signatures', { schema: docs.signatures }, async (request) => {
    const device = await authenticateDevice(context, request.headers.authorization);
    return { signatures: await delegateSignaturesOf(context, device.partyId, 100) };
  });
  /**
   * The log's evidence, asked of the FSP by `ask` for the phone's customer:
   * 200 the file, 202 while pending; at most evidenceRequestsPerCustomerMax
   * open per customer (each signs in the HSM and calls the FSP).
   */
  async function serveEvidence(
    request: FastifyRequest,
    reply: FastifyReply,
    ask: (device: AuthenticatedDevice, paymentId: string) => Promise<PaymentEvidence>,
  ) {
    const device = await authenticateDevice(context, request.headers.authorization);
    const paymentId = param(request, 'paymentId', paymentIdPattern);
    const open = evidenceRequests.get(device.partyId) ?? 0;
    if (open >= context.limits.evidenceRequestsPerCustomerMax)
      throw new MpayError('REQUEST_RATE_LIMITED', 'evidence');
    evidenceRequests.set(device.partyId, open + 1);
    try {
      const evidence = await ask(device, paymentId);
      if (evidence.state === 'pending') return reply.code(202).send({ state: 'pending' });
      return reply.type('application/json').send(evidence.file);
    } finally {
      const left = (evidenceRequests.get(device.partyId) ?? 1) - 1;
      if (left === 0) evidenceRequests.delete(device.partyId);
      else evidenceRequests.set(device.partyId, left);
    }
  }
  // A payment custody signed for the customer, and a refund of one whose receipt custody forwarded.
  app.get(
    '/payments/:paymentId/evidence',
    { schema: docs.evidence('The log receipt of a payment custody signed') },
    async (request, reply) =>
      serveEvidence(request, reply, (device, paymentId) => paymentEvidenceOf(context, device, paymentId)),
  );
  app.get(
    '/payments/:paymentId/refunds/:refundId/evidence',
    { schema: docs.evidence('The log receipt of a refund of such a payment') },
    async (request, reply) =>
      serveEvidence(request, reply, (device, paymentId) =>
        refundEvidenceOf(context, device, paymentId, param(request, 'refundId', paymentIdPattern)),
      ),
  );
}
