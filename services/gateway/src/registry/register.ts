import { type PublicJwk, parsePublicJwk } from '@mpay/envelope';
import { accountNumberPattern, MpayError, parseMsisdn, parsePartyId } from '@mpay/protocol';
import type { GatewayContext } from '../context.ts';
import { certifyKeys } from './certificates.ts';
import { insertParty, type Party } from './parties.ts';

export interface PartyRegistration {
  id: string;
  displayName: string;
  bankId?: string | undefined;
  accountId?: string | undefined;
  webhookUrl?: string | undefined;
  aliases?: readonly string[] | undefined;
  signingJwk: unknown;
  encryptionJwk: unknown;
}

const displayNameLengthMax = 100;

function validateWebhookUrl(url: string | undefined): string | null {
  if (url === undefined) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MpayError('REQUEST_INVALID', 'webhookUrl');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    throw new MpayError('REQUEST_INVALID', 'webhookUrl');
  return parsed.toString();
}

function validate(registration: PartyRegistration): {
  party: Party;
  aliases: string[];
  signingJwk: PublicJwk;
  encryptionJwk: PublicJwk;
} {
  const parsed = parsePartyId(registration.id, 'id');
  if (parsed.kind !== 'person' && parsed.kind !== 'merchant') throw new MpayError('PARTY_ID_INVALID', 'kind');
  if (registration.displayName.length === 0 || registration.displayName.length > displayNameLengthMax) {
    throw new MpayError('REQUEST_INVALID', 'displayName');
  }
  if (registration.accountId !== undefined && !accountNumberPattern.test(registration.accountId)) {
    throw new MpayError('REQUEST_INVALID', 'accountId');
  }
  const signingJwk = parsePublicJwk(registration.signingJwk);
  const encryptionJwk = parsePublicJwk(registration.encryptionJwk);
  if (signingJwk.use !== 'sig' || encryptionJwk.use !== 'enc')
    throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  return {
    party: {
      id: parsed.id,
      kind: parsed.kind,
      displayName: registration.displayName,
      bankId: registration.bankId ?? ('bank' in parsed ? parsed.bank : null),
      accountId: registration.accountId ?? null,
      webhookUrl: validateWebhookUrl(registration.webhookUrl),
    },
    aliases: (registration.aliases ?? []).map((alias) => parseMsisdn(alias)),
    signingJwk,
    encryptionJwk,
  };
}

/**
 * Registers a person or merchant with its public keys; the FSP issues the key
 * certificate that vouches for them (iMS §4: "the FSP stores the certificates
 * with public keys of every merchant and customer").
 */
export async function registerParty(
  context: GatewayContext,
  registration: PartyRegistration,
): Promise<{ party: Party; certificate: string }> {
  const { party, aliases, signingJwk, encryptionJwk } = validate(registration);
  return context.database.transaction(async (sql) => {
    await insertParty(sql, party, aliases);
    const certificate = await certifyKeys(sql, context.fsp, {
      partyId: party.id,
      signingJwk,
      encryptionJwk,
      validityDays: context.limits.certificateValidityDays,
    });
    return { party, certificate };
  });
}
