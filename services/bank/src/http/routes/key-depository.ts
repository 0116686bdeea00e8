import { KEY_BINDING_ACCOUNTS_MAX } from '@mpay/envelope';
import type { FastifyInstance } from 'fastify';
import { readKeyBinding, revokeKeyBinding } from '../../key-depository/bindings.ts';
import type { DepositoryContext } from '../../key-depository/context.ts';
import { type EnrolmentRequest, enrol } from '../../key-depository/enrol.ts';
import { issueEnrolmentCode } from '../../key-depository/issue-code.ts';
import { resetSecondFactor } from '../../second-factor/reset.ts';
import { bankDocs } from '../answers.ts';
import { callerOf } from '../authenticate.ts';
import { respondIdempotently, respondIdempotentlyWithSecret } from '../idempotent.ts';
import { ledgerId, partyId } from '../schemas.ts';
import type { StrictSchema } from '../strict-validator.ts';

const enrolmentCodeBodySchema = {
  type: 'object',
  properties: {
    partyId,
    accountIds: { type: 'array', items: ledgerId, minItems: 1, maxItems: KEY_BINDING_ACCOUNTS_MAX },
  },
  required: ['partyId', 'accountIds'],
  additionalProperties: false,
} as const satisfies StrictSchema;

interface EnrolmentCodeBody {
  partyId: string;
  accountIds: string[];
}

/** A public JWK's members, bounded; what the keys are (allow-list, point, thumbprint) is checked on enrolment. */
const publicJwkSchema = {
  type: 'object',
  properties: {
    kty: { type: 'string', maxLength: 8 },
    crv: { type: 'string', maxLength: 16 },
    x: { type: 'string', maxLength: 64 },
    y: { type: 'string', maxLength: 64 },
    alg: { type: 'string', maxLength: 32 },
    use: { type: 'string', enum: ['sig', 'enc'] },
    kid: { type: 'string', maxLength: 256 },
    key_ops: { type: 'array', items: { type: 'string', maxLength: 16 }, minItems: 0, maxItems: 4 },
  },
  required: ['kty', 'crv', 'x', 'alg'],
  additionalProperties: false,
} as const satisfies StrictSchema;

const enrolmentBodySchema = {
  type: 'object',
  properties: {
    partyId,
    // Any text: a malformed code is a failed attempt like a wrong one.
    code: { type: 'string', minLength: 1, maxLength: 64 },
    deviceId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    signingJwk: publicJwkSchema,
    encryptionJwk: publicJwkSchema,
    proof: { type: 'string', minLength: 1, maxLength: 4096 },
  },
  required: ['partyId', 'code', 'deviceId', 'signingJwk', 'encryptionJwk', 'proof'],
  additionalProperties: false,
} as const satisfies StrictSchema;

const serialParamsSchema = {
  type: 'object',
  properties: { serial: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
  required: ['serial'],
  additionalProperties: false,
} as const satisfies StrictSchema;

interface SerialParams {
  serial: string;
}

const revocationBodySchema = {
  type: 'object',
  properties: { reason: { type: 'string', minLength: 1, maxLength: 256 } },
  required: ['reason'],
  additionalProperties: false,
} as const satisfies StrictSchema;

const secondFactorResetBodySchema = {
  type: 'object',
  properties: { partyId, reason: { type: 'string', minLength: 1, maxLength: 256 } },
  required: ['partyId', 'reason'],
  additionalProperties: false,
} as const satisfies StrictSchema;

/**
 * The operator's side of the key depository (authenticated by the request
 * verifier): POST /enrolment-codes {partyId, accountIds} → 201 {partyId,
 * code, expiresAt}; POST /key-bindings/:serial/revocation {reason} → 201,
 * or 200 when it was revoked already; POST /second-factor-resets {partyId,
 * reason} → 200 {partyId, reset} (the party's next enrolment gets a new
 * second factor).
 */
export function registerKeyDepositoryOperatorRoutes(app: FastifyInstance, context: DepositoryContext): void {
  app.post<{ Body: EnrolmentCodeBody }>(
    '/enrolment-codes',
    { schema: { ...bankDocs['POST /enrolment-codes'], body: enrolmentCodeBodySchema } },
    async (request, reply) =>
      respondIdempotentlyWithSecret(context.database, request, reply, async () => {
        const issued = await issueEnrolmentCode(context, request.body, callerOf(request));
        return {
          statusCode: 201,
          body: { partyId: issued.partyId, expiresAt: issued.expiresAt.toISOString() },
          secret: { code: issued.code },
        };
      }),
  );

  app.post<{ Params: SerialParams; Body: { reason: string } }>(
    '/key-bindings/:serial/revocation',
    {
      schema: {
        ...bankDocs['POST /key-bindings/:serial/revocation'],
        params: serialParamsSchema,
        body: revocationBodySchema,
      },
    },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, async () => {
        const { view, created } = await revokeKeyBinding(
          context,
          request.params.serial,
          request.body.reason,
          callerOf(request),
        );
        return { statusCode: created ? 201 : 200, body: view };
      }),
  );

  app.post<{ Body: { partyId: string; reason: string } }>(
    '/second-factor-resets',
    { schema: { ...bankDocs['POST /second-factor-resets'], body: secondFactorResetBodySchema } },
    async (request, reply) =>
      respondIdempotently(context.database, request, reply, async () => ({
        statusCode: 200,
        body: await resetSecondFactor(context, request.body.partyId, request.body.reason, callerOf(request)),
      })),
  );
}

/**
 * The public side, outside the request verifier: GET /bank (the bank's id,
 * its public signing keys and, when it has one, its public encryption key
 * `encryptionJwk`, to which devices seal one-time codes), POST /enrolments
 * (a customer's device; the one-time code and the proof of possession
 * authenticate it) and GET /key-bindings/:serial (a binding and its status,
 * for anyone to check).
 *
 * The enrolment's answer: `{ serial, binding }`, plus `bankEncryptionJwk`
 * when the bank has an encryption key, plus `sealedAuthenticator` (a JWE to
 * the device's encryption key) when this enrolment received the party's
 * second factor.
 */
export function registerKeyDepositoryPublicRoutes(app: FastifyInstance, context: DepositoryContext): void {
  const encryptionJwk = context.bank.encryption?.publicJwk;
  app.get('/bank', { schema: bankDocs['GET /bank'] }, async () => ({
    id: context.bank.id,
    keys: context.bank.keys,
    ...(encryptionJwk === undefined ? {} : { encryptionJwk }),
  }));

  app.post<{ Body: EnrolmentRequest }>(
    '/enrolments',
    { schema: { ...bankDocs['POST /enrolments'], body: enrolmentBodySchema } },
    async (request, reply) => {
      const enrolment = await enrol(context, request.body);
      const { sealedAuthenticator } = enrolment;
      return reply.code(enrolment.created ? 201 : 200).send({
        serial: enrolment.serial,
        binding: enrolment.binding,
        ...(encryptionJwk === undefined ? {} : { bankEncryptionJwk: encryptionJwk }),
        ...(sealedAuthenticator === undefined ? {} : { sealedAuthenticator }),
      });
    },
  );

  app.get<{ Params: SerialParams }>(
    '/key-bindings/:serial',
    { schema: { ...bankDocs['GET /key-bindings/:serial'], params: serialParamsSchema } },
    async (request) => readKeyBinding(context, request.params.serial),
  );
}
