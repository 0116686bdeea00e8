import {
  decodeUnverified,
  type KeyBinding,
  type PublicJwk,
  parsePublicJwk,
  verifyKeyBinding,
} from '@mpay/envelope';
import { requestObject } from '@mpay/http-client';
import { MpayError, parseMsisdn, parsePartyId } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import { findBank } from './banks.ts';
import type { RegistryKeyCache } from './key-cache.ts';
import { addAlias, findParty, upsertParty } from './parties.ts';

/** A customer's key as its bank bound it, read back from the FSP's copy of the binding. */
export interface BoundKey {
  readonly serialNumber: string;
  readonly bankId: string;
  readonly partyId: string;
  readonly deviceId: string;
  readonly signingJwk: PublicJwk;
  readonly encryptionJwk: PublicJwk;
  readonly accounts: readonly string[];
  readonly notAfter: Date;
  /** The binding itself, the bank's compact JWS: whoever trusts the bank's key checks it without trusting the FSP. */
  readonly binding: string;
}

/** `v1`: the whole countersigned message; `v2`: both signatures detached, their claims beside it. */
export type PushFormat = 'v1' | 'v2';

interface BindingRow {
  serial_number: string;
  bank_id: string;
  party_id: string;
  device_id: string;
  signing_jwk: string;
  encryption_jwk: string;
  accounts: string;
  not_after: Date | string;
  binding: string;
}

const bindingColumns =
  'serial_number, bank_id, party_id, device_id, signing_jwk, encryption_jwk, accounts, not_after, binding';

function toBoundKey(row: BindingRow): BoundKey {
  return {
    serialNumber: row.serial_number,
    bankId: row.bank_id,
    partyId: row.party_id,
    deviceId: row.device_id,
    signingJwk: parsePublicJwk(JSON.parse(row.signing_jwk)),
    encryptionJwk: parsePublicJwk(JSON.parse(row.encryption_jwk)),
    accounts: JSON.parse(row.accounts) as string[],
    notAfter: new Date(row.not_after),
    binding: row.binding,
  };
}

/** What a wallet said of itself when it opened its stream (GET /devices/events). */
export interface DeviceStreamRequest {
  /** The form of the push it reads. */
  readonly pushFormat: PushFormat;
  /**
   * The merchant certificates it holds, by reference (at most
   * `deviceCertificatesMax`); undefined for a wallet that does not read a
   * certificate by reference (it sent no `certificates`).
   */
  readonly certificates: readonly string[] | undefined;
}

/**
 * Records what the device holding this signing key said when it opened its
 * stream (migration 0012): the push form it reads, whether it reads
 * certificates by reference, and the ones it holds, which replace those
 * recorded before. The device's row is written first: two opens of one key
 * at once take their turns on it.
 */
export async function recordDeviceStream(
  database: Database,
  signingKid: string,
  stream: DeviceStreamRequest,
  now: Date,
): Promise<void> {
  const references = [...(stream.certificates ?? [])].sort();
  await database.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO device_streams (signing_kid, push_format, certificate_references, opened_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (signing_kid) DO UPDATE
         SET push_format = $2, certificate_references = $3, opened_at = $4`,
      [signingKid, stream.pushFormat, stream.certificates !== undefined, now.toISOString()],
    );
    // Disjoint rows: one statement's parts do not see each other's changes.
    await tx.query(
      `WITH dropped AS (
         DELETE FROM device_certificates WHERE signing_kid = $1 AND NOT (certificate_sha256 = ANY($2::text[])))
       INSERT INTO device_certificates (signing_kid, certificate_sha256, recorded_at)
       SELECT $1, reference, $3 FROM unnest($2::text[]) AS reference
       ON CONFLICT DO NOTHING`,
      [signingKid, references, now.toISOString()],
    );
  });
}

/** How the FSP may write a push to a device: what its wallet last said, and whether it holds a certificate. */
export interface DevicePushForm {
  readonly pushFormat: PushFormat;
  /** The wallet reads a certificate by reference, and holds the one asked about. */
  readonly holdsCertificate: boolean;
}

/**
 * The push form for the device holding this signing key: `v1` and no
 * certificate held for a device whose wallet never opened its stream here.
 * `certificate` is the reference of the certificate the push would carry.
 */
export async function devicePushForm(
  sql: Sql,
  signingKid: string,
  certificate: string | undefined,
): Promise<DevicePushForm> {
  const { rows } = await sql.query<{ push_format: string; held: boolean }>(
    `SELECT s.push_format, s.certificate_references AND EXISTS (
         SELECT 1 FROM device_certificates d WHERE d.signing_kid = s.signing_kid AND d.certificate_sha256 = $2) AS held
     FROM device_streams s WHERE s.signing_kid = $1`,
    [signingKid, certificate ?? null],
  );
  const row = rows[0];
  return {
    pushFormat: row?.push_format === 'v2' ? 'v2' : 'v1',
    holdsCertificate: certificate !== undefined && row?.held === true,
  };
}

/**
 * The device confirmed a payment whose push carried this certificate: it
 * verified it, so it holds it; recorded only for a wallet that reads
 * certificates by reference (an older one would be sent one it cannot read).
 */
export async function recordDeviceCertificate(
  sql: Sql,
  signingKid: string,
  reference: string,
  now: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO device_certificates (signing_kid, certificate_sha256, recorded_at)
     SELECT $1, $2, $3 WHERE EXISTS (
       SELECT 1 FROM device_streams WHERE signing_kid = $1 AND certificate_references)
     ON CONFLICT DO NOTHING`,
    [signingKid, reference, now.toISOString()],
  );
}

/** The binding whose signing key has this kid, if it is neither revoked nor expired at `now`. */
export async function activeBindingByKid(sql: Sql, kid: string, now: Date): Promise<BoundKey | undefined> {
  const { rows } = await sql.query<BindingRow>(
    `SELECT ${bindingColumns} FROM key_bindings
     WHERE signing_kid = $1 AND revoked_at IS NULL AND not_before <= $2 AND not_after > $2`,
    [kid, now.toISOString()],
  );
  return rows[0] === undefined ? undefined : toBoundKey(rows[0]);
}

/**
 * The customer's newest active binding: its device gets the requests, its
 * first account pays. Through `cache` when given (the gateway's key cache).
 */
export async function activeBindingOf(
  sql: Sql,
  partyId: string,
  now: Date,
  cache?: RegistryKeyCache,
): Promise<BoundKey> {
  const read = async () => {
    const { rows } = await sql.query<BindingRow>(
      `SELECT ${bindingColumns} FROM key_bindings
       WHERE party_id = $1 AND revoked_at IS NULL AND not_before <= $2 AND not_after > $2
       ORDER BY created_at DESC, serial_number LIMIT 1`,
      [partyId, now.toISOString()],
    );
    return rows[0] === undefined ? undefined : toBoundKey(rows[0]);
  };
  const bound = cache === undefined ? await read() : await cache.binding(partyId, now, read);
  if (bound === undefined) throw new MpayError('KEY_UNKNOWN');
  return bound;
}

export interface CustomerRegistration {
  /** The key binding the customer's bank issued at enrolment (compact JWS). */
  readonly binding: string;
  readonly displayName: string;
}

const displayNameLengthMax = 100;

/** Asks the bank whether it still stands by the binding (it may have been revoked since it was issued). */
async function confirmedByBank(context: GatewayContext, url: string, binding: KeyBinding): Promise<void> {
  const { body } = await requestObject<{ status?: unknown }>(
    `${url}/key-bindings/${encodeURIComponent(binding.serialNumber)}`,
    { timeoutMs: context.limits.bankTimeoutMs, responseBytesMax: 16 * 1024 },
    'BANK_UNAVAILABLE',
  );
  if (body.status !== 'active') throw new MpayError('KEY_BINDING_REVOKED');
}

/**
 * Registers a customer (or a new device of one) with the FSP on the word of
 * the customer's bank: the binding must verify under the key of the bank that
 * the party's address names (`…@person.xbank` → xbank), be valid now, and be
 * active at that bank. The party's bank and accounts come from the binding,
 * never from the caller.
 */
export async function verifyCustomerRegistration(
  context: GatewayContext,
  registration: CustomerRegistration,
): Promise<VerifiedCustomer> {
  const displayName = registration.displayName.trim();
  if (displayName.length === 0 || displayName.length > displayNameLengthMax) {
    throw new MpayError('REQUEST_INVALID', 'displayName');
  }
  const claimedBank = claimedIssuer(registration.binding);
  const bank = await findBank(context.database, claimedBank);
  const now = context.clock();
  const binding = await verifyKeyBinding(registration.binding, async () => bank.signingJwk, {
    isRevoked: () => false,
    issuer: bank.id,
    clockSkewSeconds: context.limits.clockSkewSeconds,
    now: () => now.getTime(),
  });
  const party = parsePartyId(binding.subject, 'sub');
  if (party.kind !== 'person' || !('bank' in party) || party.bank !== bank.id) {
    throw new MpayError('KEY_BINDING_INVALID', 'subject');
  }
  await confirmedByBank(context, bank.url, binding);
  return { binding, compact: registration.binding, displayName, bankId: bank.id };
}

/** A customer registration whose binding verified under its bank's key and is active at that bank. */
export interface VerifiedCustomer {
  readonly binding: KeyBinding;
  readonly compact: string;
  readonly displayName: string;
  readonly bankId: string;
}

/** Stores a verified registration: the person party and the FSP's copy of the binding (a new device adds a row). */
export async function storeCustomer(
  sql: Sql,
  customer: VerifiedCustomer,
  now: Date,
): Promise<{ partyId: string; serialNumber: string; bankId: string }> {
  const { binding, bankId } = customer;
  await upsertParty(sql, {
    id: binding.subject,
    kind: 'person',
    displayName: customer.displayName,
    bankId,
    webhookUrl: null,
  });
  const inserted = await sql.query(
    `INSERT INTO key_bindings (serial_number, bank_id, party_id, device_id, signing_kid, signing_jwk, encryption_jwk,
         accounts, binding, not_before, not_after, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, to_timestamp($10), to_timestamp($11), $12)
       ON CONFLICT DO NOTHING`,
    [
      binding.serialNumber,
      bankId,
      binding.subject,
      binding.deviceId,
      binding.signingJwk.kid,
      JSON.stringify(binding.signingJwk),
      JSON.stringify(binding.encryptionJwk),
      JSON.stringify(binding.accounts),
      customer.compact,
      binding.notBefore,
      binding.notAfter,
      now.toISOString(),
    ],
  );
  if (inserted.rowCount === 0) await requireSameBinding(sql, bankId, binding);
  return { partyId: binding.subject, serialNumber: binding.serialNumber, bankId };
}

/**
 * A binding that was not inserted is either this very binding again (a
 * retry: fine) or another binding of the same key (another bank, another
 * party): one key speaks for one customer only, so that is refused, and the
 * transaction (with the party it upserted) rolls back.
 */
async function requireSameBinding(sql: Sql, bankId: string, binding: KeyBinding): Promise<void> {
  const { rows } = await sql.query<{ bank_id: string; serial_number: string; party_id: string }>(
    'SELECT bank_id, serial_number, party_id FROM key_bindings WHERE signing_kid = $1',
    [binding.signingJwk.kid],
  );
  const stored = rows[0];
  const same =
    stored !== undefined &&
    stored.bank_id === bankId &&
    stored.serial_number === binding.serialNumber &&
    stored.party_id === binding.subject;
  if (!same) throw new MpayError('CRYPTO_KEY_INVALID', 'key already bound');
}

/** The `iss` of a binding before it is verified: only to pick the key it must verify under. */
function claimedIssuer(binding: string): string {
  const issuer = (decodeUnverified(binding)?.payload as { iss?: unknown } | undefined)?.iss;
  if (typeof issuer !== 'string') throw new MpayError('KEY_BINDING_INVALID');
  return issuer;
}

/**
 * A lost device: the FSP stops using the key at once (its bank revokes it for
 * debits on its side). Returns the party whose binding it was.
 */
export async function revokeBinding(
  sql: Sql,
  bankId: string,
  serialNumber: string,
  now: Date,
): Promise<{ partyId: string }> {
  const { rows } = await sql.query<{ party_id: string }>(
    `UPDATE key_bindings SET revoked_at = $3 WHERE bank_id = $1 AND serial_number = $2 AND revoked_at IS NULL
     RETURNING party_id`,
    [bankId, serialNumber, now.toISOString()],
  );
  const revoked = rows[0];
  if (revoked === undefined) throw new MpayError('NOT_FOUND', 'binding');
  return { partyId: revoked.party_id };
}

/** The operator maps an MSISDN to a registered customer (the alias merchants may address). */
export async function registerAlias(sql: Sql, msisdn: string, partyId: string): Promise<void> {
  const alias = parseMsisdn(msisdn);
  const party = parsePartyId(partyId, 'partyId');
  if (party.kind !== 'person') throw new MpayError('PARTY_ID_INVALID', 'partyId');
  // A party not registered (yet): its code, not the foreign key's internal error.
  if ((await findParty(sql, party.id)) === undefined) throw new MpayError('PARTY_UNKNOWN', 'partyId');
  await addAlias(sql, alias, partyId);
}

/** A device key whose binding is revoked, expired or gone: no push goes to it again. */
const bindingEnded = `NOT EXISTS (
  SELECT 1 FROM key_bindings k
  WHERE k.signing_kid = d.signing_kid AND k.revoked_at IS NULL AND k.not_after > $1)`;

/**
 * Housekeeping: forgets what was recorded for device keys whose binding
 * ended: the certificates they held (device_certificates) and what their
 * wallet said at its last stream open (device_streams); at most `batchMax`
 * rows of each a round. Returns how many rows in all.
 */
export async function forgetEndedDeviceKeys(sql: Sql, now: Date, batchMax: number): Promise<number> {
  let forgotten = 0;
  for (const table of ['device_certificates', 'device_streams'] as const) {
    const { rowCount } = await sql.query(
      `DELETE FROM ${table} WHERE ctid IN (
         SELECT d.ctid FROM ${table} d WHERE ${bindingEnded} LIMIT $2)`,
      [now.toISOString(), batchMax],
    );
    forgotten += rowCount;
  }
  return forgotten;
}
