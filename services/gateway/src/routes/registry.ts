import { publicJwkSet } from '@mpay/envelope';
import { MpayError, parseMsisdn, parsePartyId } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { currentCertificate, revokeCertificate } from '../registry/certificates.ts';
import { insertBank, resolveParty } from '../registry/parties.ts';
import { type PartyRegistration, registerParty } from '../registry/register.ts';
import { authenticateOperator } from './auth.ts';
import { idempotent } from './idempotent.ts';

const registrationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'displayName', 'signingJwk', 'encryptionJwk'],
  properties: {
    id: { type: 'string', maxLength: 200 },
    displayName: { type: 'string', maxLength: 100 },
    bankId: { type: 'string', maxLength: 32 },
    accountId: { type: 'string', maxLength: 36 },
    webhookUrl: { type: 'string', maxLength: 500 },
    aliases: { type: 'array', maxItems: 4, items: { type: 'string', maxLength: 16 } },
    signingJwk: { type: 'object' },
    encryptionJwk: { type: 'object' },
  },
} as const;

function parseBank(body: unknown): { id: string; url: string } {
  const { id, url } = (body ?? {}) as { id?: unknown; url?: unknown };
  if (typeof id !== 'string' || typeof url !== 'string' || url.length > 500)
    throw new MpayError('REQUEST_INVALID');
  if (parsePartyId(id, 'id').kind !== 'bank') throw new MpayError('PARTY_ID_INVALID', 'id');
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new MpayError('REQUEST_INVALID', 'url');
  }
  return { id, url: parsed.origin };
}

export function registerRegistryRoutes(
  app: FastifyInstance,
  context: GatewayContext,
  operatorToken?: string,
): void {
  app.get('/fsp', async () => ({
    id: context.fsp.id,
    keys: publicJwkSet([context.fsp.signing.publicJwk, context.fsp.encryption.publicJwk]),
  }));
  app.get('/parties/:id', async (request) => {
    const party = await resolveParty(context.database, (request.params as { id: string }).id);
    const certificate = await currentCertificate(context.database, party.id);
    return {
      id: party.id,
      kind: party.kind,
      displayName: party.displayName,
      certificate: certificate.certificate,
    };
  });
  app.get('/aliases/:msisdn', async (request) => {
    const party = await resolveParty(
      context.database,
      parseMsisdn((request.params as { msisdn: string }).msisdn),
    );
    return { partyId: party.id };
  });
  app.post('/admin/parties', { schema: { body: registrationSchema } }, async (request, reply) => {
    authenticateOperator(operatorToken, request);
    return idempotent(context, request, reply, 201, () =>
      registerParty(context, request.body as PartyRegistration),
    );
  });
  app.post('/admin/banks', async (request, reply) => {
    authenticateOperator(operatorToken, request);
    const bank = parseBank(request.body);
    return idempotent(context, request, reply, 201, async () => {
      await insertBank(context.database, bank);
      return { id: bank.id };
    });
  });
  app.post('/admin/certificates/:serial/revoke', async (request) => {
    authenticateOperator(operatorToken, request);
    const reason = (request.body as { reason?: unknown } | null)?.reason;
    await revokeCertificate(
      context.database,
      (request.params as { serial: string }).serial,
      typeof reason === 'string' ? reason : 'unspecified',
    );
    return { revoked: true };
  });
}
