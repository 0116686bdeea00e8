import type { PublicJwk, VerificationKeyResolver } from '@mpay/envelope';
import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { FspIdentity } from '../context.ts';
import { certificateBySigningKid, checkCertificate, currentCertificate } from './certificates.ts';

/**
 * A key resolver for signatures by `partyId` (or by any registered party when
 * `partyId` is undefined, for request tokens; `owner` then receives the party
 * the key belongs to, which the caller must compare with the token's issuer):
 * the kid must belong to a certificate of that party that verifies, is valid
 * now and is not revoked.
 */
export function partySigningKeyResolver(
  sql: Sql,
  fsp: FspIdentity,
  clockSkewSeconds: number,
  partyId?: string,
  owner?: { partyId?: string },
): VerificationKeyResolver {
  return async (kid: string) => {
    const record = await certificateBySigningKid(sql, kid);
    if (record === undefined) throw new MpayError('KEY_UNKNOWN');
    if (owner !== undefined) owner.partyId = record.partyId;
    const certificate = await checkCertificate(fsp, record, partyId ?? record.partyId, clockSkewSeconds);
    return certificate.signingJwk;
  };
}

/** The public encryption key of a party, from its current, verified certificate. */
export async function partyEncryptionKey(
  sql: Sql,
  fsp: FspIdentity,
  partyId: string,
  clockSkewSeconds: number,
): Promise<{ jwk: PublicJwk; certificate: string }> {
  const record = await currentCertificate(sql, partyId);
  const certificate = await checkCertificate(fsp, record, partyId, clockSkewSeconds);
  return { jwk: certificate.encryptionJwk, certificate: record.certificate };
}
