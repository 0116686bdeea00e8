import type { PublicJwk, VerificationKeyResolver } from '@mpay/envelope';
import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { FspIdentity } from '../context.ts';
import { activeBindingByKid, activeBindingOf } from './bindings.ts';
import { certificateBySigningKid, checkCertificate, currentCertificate } from './certificates.ts';
import type { KeyOwner, RegistryKeyCache } from './key-cache.ts';

export interface KeyLookup {
  readonly sql: Sql;
  readonly fsp: FspIdentity;
  readonly clockSkewSeconds: number;
  readonly now: Date;
  /** The gateway's key cache (registry/key-cache.ts); none: every lookup reads and checks. */
  readonly cache?: RegistryKeyCache | undefined;
}

/**
 * Which party a signing key speaks for: a customer's key by its bank's
 * binding (active now), a merchant's by the FSP's certificate (verified, valid,
 * not revoked). Returns undefined for a kid nobody holds.
 */
async function ownerOfKid(lookup: KeyLookup, kid: string): Promise<KeyOwner | undefined> {
  const read = () => readOwnerOfKid(lookup, kid);
  if (lookup.cache === undefined) return (await read())?.owner;
  return lookup.cache.signer(kid, lookup.now, read);
}

async function readOwnerOfKid(
  lookup: KeyLookup,
  kid: string,
): Promise<{ owner: KeyOwner; validUntil: Date } | undefined> {
  const bound = await activeBindingByKid(lookup.sql, kid, lookup.now);
  if (bound !== undefined) {
    return { owner: { partyId: bound.partyId, jwk: bound.signingJwk }, validUntil: bound.notAfter };
  }
  const record = await certificateBySigningKid(lookup.sql, kid);
  if (record === undefined) return undefined;
  const certificate = await checkCertificate(
    lookup.fsp,
    record,
    record.partyId,
    lookup.clockSkewSeconds,
    lookup.now,
  ).catch(() => undefined);
  if (certificate === undefined) return undefined;
  return {
    owner: { partyId: record.partyId, jwk: certificate.signingJwk },
    validUntil: new Date(certificate.notAfter * 1000),
  };
}

/**
 * A key resolver for signatures by `partyId`, or by any registered party when
 * `partyId` is undefined (request tokens): `owner` then receives the party the
 * key belongs to, which the caller must compare with the token's issuer.
 * Every failure is KEY_UNKNOWN: which check failed is nobody's business.
 */
export function partySigningKeyResolver(
  lookup: KeyLookup,
  partyId?: string,
  owner?: { partyId?: string; kid?: string },
): VerificationKeyResolver {
  return async (kid: string) => {
    const found = await ownerOfKid(lookup, kid);
    if (found === undefined || (partyId !== undefined && found.partyId !== partyId)) {
      throw new MpayError('KEY_UNKNOWN');
    }
    if (owner !== undefined) {
      owner.partyId = found.partyId;
      owner.kid = kid;
    }
    return found.jwk;
  };
}

/** The key the FSP encrypts to for a party: the customer's bound device key, or the merchant's certified one. */
export async function partyEncryptionKey(
  lookup: KeyLookup,
  party: { id: string; kind: 'person' | 'merchant' },
): Promise<{ jwk: PublicJwk; certificate?: string }> {
  if (party.kind === 'person')
    return { jwk: (await activeBindingOf(lookup.sql, party.id, lookup.now, lookup.cache)).encryptionJwk };
  const load = async () => {
    const record = await currentCertificate(lookup.sql, party.id, lookup.now);
    const checked = await checkCertificate(lookup.fsp, record, party.id, lookup.clockSkewSeconds, lookup.now);
    return {
      key: { jwk: checked.encryptionJwk, certificate: record.certificate },
      validUntil: new Date(checked.notAfter * 1000),
    };
  };
  return lookup.cache === undefined
    ? (await load()).key
    : lookup.cache.encryptionKey(party.id, lookup.now, load);
}

export function keyLookup(
  context: {
    database: Sql;
    fsp: FspIdentity;
    limits: { clockSkewSeconds: number };
    clock: () => Date;
    keyCache?: RegistryKeyCache | undefined;
  },
  sql: Sql = context.database,
): KeyLookup {
  return {
    sql,
    fsp: context.fsp,
    clockSkewSeconds: context.limits.clockSkewSeconds,
    now: context.clock(),
    cache: context.keyCache,
  };
}
