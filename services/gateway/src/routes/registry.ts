import { publicJwkSet } from '@mpay/envelope';
import { exactObject, stringSchema } from '@mpay/http-server';
import { certificateReferencePattern, isPartyId, MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { type BankRegistration, parseBankRegistration, upsertBank } from '../registry/banks.ts';
import {
  activeBindingOf,
  type CustomerRegistration,
  registerAlias,
  revokeBinding,
  storeCustomer,
  verifyCustomerRegistration,
} from '../registry/bindings.ts';
import {
  currentCertificate,
  issuedCertificateByReference,
  revokeCertificate,
} from '../registry/certificates.ts';
import { cachedAt } from '../registry/key-cache.ts';
import { LookupRate } from '../registry/lookup-rate.ts';
import { findParty, resolveParty } from '../registry/parties.ts';
import { type MerchantRegistration, registerMerchant } from '../registry/register.ts';
import {
  aliasAnswer,
  certificateAnswer,
  customerRegistered,
  fspAnswer,
  partyAnswer,
  revoked,
  sealingKeyAnswer,
} from './answers.ts';
import { authenticateOperator, authenticateParty } from './auth.ts';
import { answerOnce } from './idempotent.ts';

const jwkSchema = { type: 'object', maxProperties: 16 } as const;

const merchantSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'displayName', 'signingJwk', 'encryptionJwk'],
  properties: {
    id: { type: 'string', maxLength: 200 },
    displayName: { type: 'string', maxLength: 100 },
    webhookUrl: { type: 'string', maxLength: 500 },
    signingJwk: jwkSchema,
    encryptionJwk: jwkSchema,
  },
} as const;

const customerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['binding', 'displayName'],
  properties: {
    binding: { type: 'string', minLength: 1, maxLength: 16_384 },
    displayName: { type: 'string', maxLength: 100 },
  },
} as const;

const bankSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'url', 'signingJwk'],
  properties: {
    id: { type: 'string', maxLength: 64 },
    url: { type: 'string', maxLength: 500 },
    signingJwk: jwkSchema,
  },
} as const;

const aliasSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['alias', 'partyId'],
  properties: { alias: { type: 'string', maxLength: 16 }, partyId: { type: 'string', maxLength: 200 } },
} as const;

const reasonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: { type: 'string', maxLength: 200 } },
} as const;

const bankRegistered = exactObject({ id: stringSchema });
const merchantRegistered = exactObject({ id: stringSchema, certificate: stringSchema });
const aliasRegistered = exactObject({ alias: stringSchema, partyId: stringSchema });

export function registerRegistryRoutes(
  app: FastifyInstance,
  context: GatewayContext,
  operatorToken?: string,
): void {
  // Before the body is validated: an unauthenticated caller learns nothing about the schema.
  const preValidation = async (request: FastifyRequest) => authenticateOperator(operatorToken, request);
  const tags = ['registry'];
  app.get(
    '/fsp',
    { schema: { summary: "The FSP's id and public keys", tags, response: { 200: fspAnswer } } },
    async () => ({
      id: context.fsp.id,
      keys: publicJwkSet([context.fsp.signing.publicJwk, context.fsp.encryption.publicJwk]),
    }),
  );
  // A merchant's certificate, for whoever must check a merchant's signature (the wallet gets it with each request).
  const partySchema = { summary: "A merchant's current certificate", tags, response: { 200: partyAnswer } };
  app.get('/parties/:id', { schema: partySchema }, async (request) => {
    const party = await resolveParty(context.database, String((request.params as { id?: unknown }).id));
    if (party.kind !== 'merchant') throw new MpayError('PARTY_UNKNOWN');
    const certificate = await currentCertificate(context.database, party.id, context.clock());
    return {
      id: party.id,
      kind: party.kind,
      displayName: party.displayName,
      certificate: certificate.certificate,
    };
  });
  // A certificate the FSP issued, by its reference: for a wallet that lost the one a push/v2 names
  // (also one issued again since, with a new name, while its key is not revoked).
  const certificateSchema = {
    summary: 'A certificate the FSP issued, by its reference (base64url SHA-256 of its text)',
    tags,
    response: { 200: certificateAnswer },
  };
  app.get('/certificates/:reference', { schema: certificateSchema }, async (request) => {
    const reference = String((request.params as { reference?: unknown }).reference);
    const certificate = certificateReferencePattern.test(reference)
      ? await issuedCertificateByReference(context.database, reference)
      : undefined;
    if (certificate === undefined) throw new MpayError('NOT_FOUND', 'certificate');
    return { certificate };
  });
  // What a merchant seals a payment's private fields to (iMS large level): the customer's binding as the
  // customer's bank signed it, which names the device's encryption key. A merchant's signed token only,
  // and no more than what the merchant checks with the bank's key anyway.
  const sealingSchema = {
    summary: "A customer's bank-signed binding (its device encryption key), for a merchant",
    tags,
    response: { 200: sealingKeyAnswer },
  };
  app.get('/parties/:id/sealing-key', { schema: sealingSchema }, async (request) => {
    const caller = await authenticateParty(context, request);
    const merchant = await findParty(context.database, caller.partyId, cachedAt(context));
    if (merchant?.kind !== 'merchant') throw new MpayError('FORBIDDEN', 'a merchant asks');
    // A party id only, never a phone number: the merchant resolved the alias already.
    const id = String((request.params as { id?: unknown }).id);
    if (!isPartyId(id)) throw new MpayError('PARTY_UNKNOWN');
    const party = await resolveParty(context.database, id, cachedAt(context));
    if (party.kind !== 'person') throw new MpayError('PARTY_UNKNOWN');
    const bound = await activeBindingOf(context.database, party.id, context.clock(), context.keyCache).catch(
      () => {
        throw new MpayError('PARTY_UNKNOWN');
      },
    );
    return { partyId: party.id, bankId: bound.bankId, binding: bound.binding };
  });
  // A phone number is personal data: only a merchant resolves one, with its signed token, and only so often.
  const lookups = new LookupRate(context.limits.aliasLookupsPerMerchantMax, context.limits.rateWindowSeconds);
  const aliasLookup = {
    summary: 'The party id of a phone number, for a merchant',
    tags,
    response: { 200: aliasAnswer },
  };
  app.get('/aliases/:msisdn', { schema: aliasLookup }, async (request) => {
    const caller = await authenticateParty(context, request);
    // Through the key cache, as the payment request resolves the same alias: a change of `parties` or
    // `aliases` empties it at its commit (registry_changed).
    const merchant = await findParty(context.database, caller.partyId, cachedAt(context));
    if (merchant?.kind !== 'merchant') throw new MpayError('FORBIDDEN', 'a merchant asks');
    lookups.take(merchant.id, context.clock());
    const party = await resolveParty(
      context.database,
      String((request.params as { msisdn?: unknown }).msisdn),
      cachedAt(context),
    );
    if (party.kind !== 'person') throw new MpayError('PARTY_UNKNOWN');
    return { partyId: party.id };
  });
  // A customer (or a new device of one) registers with the binding its own bank issued at enrolment.
  const customer = {
    summary: 'Registers a customer (or a new device) with the binding its bank issued',
    tags,
    body: customerSchema,
    response: { 201: customerRegistered },
  };
  app.post('/customers', { schema: customer }, async (request, reply) => {
    const verified = await verifyCustomerRegistration(context, request.body as CustomerRegistration);
    const answer = await answerOnce(context, request, reply, verified.binding.subject, 201, (sql, now) =>
      storeCustomer(sql, verified, now),
    );
    // A new device's binding is the customer's newest now: this instance reads it at once (the others
    // when the registry's notification reaches them).
    context.keyCache?.clear();
    return answer;
  });
  const bank = {
    summary: 'Registers a bank (operator)',
    tags,
    body: bankSchema,
    response: { 201: bankRegistered },
  };
  app.post('/admin/banks', { schema: bank, preValidation }, async (request, reply) => {
    const bank = parseBankRegistration(request.body as BankRegistration);
    const answer = await answerOnce(context, request, reply, 'operator', 201, async (sql) => {
      await upsertBank(sql, bank);
      return { id: bank.id };
    });
    // A bank's new URL or key: this instance uses it at once (the others when the notification reaches them).
    context.keyCache?.clear();
    return answer;
  });
  app.post(
    '/admin/merchants',
    {
      schema: {
        summary: 'Registers a merchant and certifies its keys (operator)',
        tags,
        body: merchantSchema,
        response: { 201: merchantRegistered },
      },
      preValidation,
    },
    async (request, reply) => {
      const answer = await answerOnce(context, request, reply, 'operator', 201, (sql) =>
        registerMerchant(context, sql, request.body as MerchantRegistration),
      );
      // A merchant registered again (a new name, a new webhook): this instance reads it at once.
      context.keyCache?.clear();
      return answer;
    },
  );
  const alias = {
    summary: 'Adds a phone number alias of a party (operator)',
    tags,
    body: aliasSchema,
    response: { 201: aliasRegistered },
  };
  app.post('/admin/aliases', { schema: alias, preValidation }, async (request, reply) => {
    const { alias, partyId } = request.body as { alias: string; partyId: string };
    return answerOnce(context, request, reply, 'operator', 201, async (sql) => {
      await registerAlias(sql, alias, partyId);
      return { alias, partyId };
    });
  });
  app.post(
    '/admin/certificates/:serial/revoke',
    {
      schema: {
        summary: "Revokes a merchant's certificate (operator)",
        tags,
        body: reasonSchema,
        response: { 200: revoked },
      },
      preValidation,
    },
    async (request) => {
      const reason = (request.body as { reason?: string } | null)?.reason ?? 'unspecified';
      await revokeCertificate(
        context.database,
        String((request.params as { serial?: unknown }).serial),
        reason,
      );
      context.keyCache?.clear();
      return { revoked: true };
    },
  );
  const revokeBindingSchema = {
    summary: "Revokes a customer's key binding, a lost device (operator)",
    tags,
    noRequestBody: true,
    response: { 200: revoked },
  };
  app.post(
    '/admin/key-bindings/:bank/:serial/revoke',
    { schema: revokeBindingSchema, preValidation },
    async (request) => {
      const { bank, serial } = request.params as { bank?: unknown; serial?: unknown };
      const { partyId } = await revokeBinding(
        context.database,
        String(bank),
        String(serial),
        context.clock(),
      );
      // Committed: this instance stops using the key now, the others when the registry's notification comes.
      context.keyCache?.clear();
      // The lost device's open streams end now, here and at the other gateway instances;
      // the customer's other devices open theirs again.
      context.hub.disconnect(partyId);
      // The revocation holds whatever happens to the notice: a revoked key confirms nothing, its stream
      // at another instance only stays open until it ends.
      await context.hub
        .announce({ kind: 'disconnect', party: partyId })
        .catch((error: unknown) =>
          context.log.warn({ err: error, party: partyId }, 'revocation notice not sent'),
        );
      return { revoked: true };
    },
  );
}
