import { type PublicJwk, parsePublicJwk } from '@mpay/envelope';
import { isMpayError, MpayError, parsePartyId } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import { findBank } from './banks.ts';
import { certifyKeys } from './certificates.ts';
import { upsertParty } from './parties.ts';

/** What the operator sends to register a merchant: the FSP vouches for merchants (iMS §4). */
export interface MerchantRegistration {
  readonly id: string;
  readonly displayName: string;
  readonly webhookUrl?: string | undefined;
  readonly signingJwk: unknown;
  readonly encryptionJwk: unknown;
}

const displayNameLengthMax = 100;

function validateWebhookUrl(url: string | undefined): string | null {
  if (url === undefined) return null;
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed === undefined || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw new MpayError('REQUEST_INVALID', 'webhookUrl');
  }
  return parsed.toString();
}

function validate(registration: MerchantRegistration): {
  id: string;
  bankId: string;
  displayName: string;
  webhookUrl: string | null;
  signingJwk: PublicJwk;
  encryptionJwk: PublicJwk;
} {
  const parsed = parsePartyId(registration.id, 'id');
  if (parsed.kind !== 'merchant' || !('bank' in parsed)) throw new MpayError('PARTY_ID_INVALID', 'kind');
  const displayName = registration.displayName.trim();
  if (displayName.length === 0 || displayName.length > displayNameLengthMax) {
    throw new MpayError('REQUEST_INVALID', 'displayName');
  }
  const signingJwk = parsePublicJwk(registration.signingJwk);
  const encryptionJwk = parsePublicJwk(registration.encryptionJwk);
  if (signingJwk.use !== 'sig' || encryptionJwk.use !== 'enc')
    throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  return {
    id: parsed.id,
    bankId: parsed.bank,
    displayName,
    webhookUrl: validateWebhookUrl(registration.webhookUrl),
    signingJwk,
    encryptionJwk,
  };
}

/**
 * Registers a merchant with its public keys; the FSP issues the key
 * certificate that vouches for them and for the merchant's display name (iMS
 * §4: "the FSP stores the certificates of the merchants"). Registering the
 * same key under a new name re-issues its certificate with that name. Runs in
 * the caller's transaction: a name the certificate refuses leaves nothing. No
 * account: the merchant's bank alone knows which of its accounts the merchant
 * is paid into, and credits only that one.
 */
export async function registerMerchant(
  context: GatewayContext,
  sql: Sql,
  registration: MerchantRegistration,
): Promise<{ id: string; certificate: string }> {
  const merchant = validate(registration);
  await findBank(sql, merchant.bankId);
  {
    await upsertParty(sql, {
      id: merchant.id,
      kind: 'merchant',
      displayName: merchant.displayName,
      bankId: merchant.bankId,
      webhookUrl: merchant.webhookUrl,
    });
    // The certificate names the merchant as registered: the one name a wallet shows as the payee.
    const certificate = await certifyKeys(sql, context.fsp, {
      partyId: merchant.id,
      name: merchant.displayName,
      signingJwk: merchant.signingJwk,
      encryptionJwk: merchant.encryptionJwk,
      validityDays: context.limits.certificateValidityDays,
      now: context.clock(),
    }).catch((error: unknown) => {
      // The envelope's rule for a certified name (no control or bidi characters) refused it.
      if (isMpayError(error, 'REQUEST_INVALID')) throw new MpayError('REQUEST_INVALID', 'displayName');
      throw error;
    });
    return { id: merchant.id, certificate };
  }
}
