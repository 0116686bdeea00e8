import {
  issueKeyCertificate,
  type KeyCertificate,
  type PublicJwk,
  verifyKeyCertificate,
} from '@mpay/envelope';
import { isMpayError, MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { FspIdentity } from '../context.ts';

export interface CertificateRecord {
  serialNumber: string;
  partyId: string;
  certificate: string;
  revokedAt: Date | null;
}

/**
 * The FSP vouches for a party's keys and, when given, its display name: a
 * signed certificate with a validity period, stored for lookup by kid. The
 * same party registering the same key again (a retry, a restart) gets its
 * certificate back, re-issued first when it does not name `name` (issued
 * before certificates carried names, or the party was renamed).
 */
export async function certifyKeys(
  sql: Sql,
  fsp: FspIdentity,
  request: {
    partyId: string;
    /** The display name the wallet shows; REQUEST_INVALID when it is not a certifiable name. */
    name?: string | undefined;
    signingJwk: PublicJwk;
    encryptionJwk: PublicJwk;
    validityDays: number;
    now: Date;
  },
): Promise<string> {
  const notBefore = Math.floor(request.now.getTime() / 1000);
  const serialNumber = crypto.randomUUID();
  const certificate = await issueKeyCertificate(
    {
      issuer: fsp.id,
      subject: request.partyId,
      name: request.name,
      signingJwk: request.signingJwk,
      encryptionJwk: request.encryptionJwk,
      notBefore,
      notAfter: notBefore + request.validityDays * 86_400,
      serialNumber,
      now: () => request.now.getTime(),
    },
    fsp.signing.privateJwk,
  );
  const inserted = await sql.query(
    `INSERT INTO key_certificates (serial_number, party_id, signing_kid, encryption_kid, certificate, not_before, not_after)
     VALUES ($1, $2, $3, $4, $5, to_timestamp($6), to_timestamp($7)) ON CONFLICT (signing_kid) DO NOTHING`,
    [
      serialNumber,
      request.partyId,
      request.signingJwk.kid,
      request.encryptionJwk.kid,
      certificate,
      notBefore,
      notBefore + request.validityDays * 86_400,
    ],
  );
  if (inserted.rowCount === 1) return certificate;
  const existing = await certificateBySigningKid(sql, request.signingJwk.kid ?? '');
  if (existing === undefined || existing.partyId !== request.partyId || existing.revokedAt !== null) {
    throw new MpayError('CRYPTO_KEY_INVALID', 'key already certified');
  }
  if (request.name === undefined) return existing.certificate;
  return (await certifyName(sql, fsp, existing, request.name, request.now)) ?? existing.certificate;
}

/**
 * Re-issues a stored certificate so that it names `name`: the same subject,
 * keys and validity period, a new serial number, issued now. It replaces the
 * stored one in place, as the registry keeps one certificate per signing key
 * (a revocation by the old serial number then finds nothing; revoking the new
 * one stops the key, which is what the gateway checks). Returns the new
 * certificate, or undefined when there is nothing to re-issue: it names
 * `name` already, it is no longer valid, or it is not this FSP's (its key
 * rotated). REQUEST_INVALID when `name` is not a certifiable name.
 */
async function certifyName(
  sql: Sql,
  fsp: FspIdentity,
  record: CertificateRecord,
  name: string,
  now: Date,
): Promise<string | undefined> {
  const stored = await verifyKeyCertificate(record.certificate, async () => fsp.signing.publicJwk, {
    isRevoked: () => record.revokedAt !== null,
    now: () => now.getTime(),
  }).catch(() => undefined);
  if (stored === undefined || stored.name === name) return undefined;
  const serialNumber = crypto.randomUUID();
  const certificate = await issueKeyCertificate(
    {
      issuer: fsp.id,
      subject: stored.subject,
      name,
      signingJwk: stored.signingJwk,
      encryptionJwk: stored.encryptionJwk,
      notBefore: stored.notBefore,
      notAfter: stored.notAfter,
      serialNumber,
      now: () => now.getTime(),
    },
    fsp.signing.privateJwk,
  );
  const updated = await sql.query(
    `UPDATE key_certificates SET serial_number = $2, certificate = $3
     WHERE serial_number = $1 AND revoked_at IS NULL`,
    [record.serialNumber, serialNumber, certificate],
  );
  // Revoked or re-issued by someone else meanwhile: theirs stands.
  return updated.rowCount === 1 ? certificate : undefined;
}

/** How many certificates `certifyMerchantNames` reads at a time, by default. */
const certificatesPerBatchMaxDefault = 100;

/**
 * At start: gives every merchant's valid, unrevoked certificate the merchant's
 * registered display name when it does not carry it (certificates issued
 * before names were certified, or a rename), by `certifyName`. A registered
 * name that is not certifiable (older registrations accepted any text) is left
 * out and its certificate stays without a name: wallets then show the
 * merchant's id. Read in batches by signing kid (which a re-issue keeps), with
 * no transaction held open. Returns how many were re-issued and how many names
 * were not certifiable.
 */
export async function certifyMerchantNames(
  sql: Sql,
  fsp: FspIdentity,
  now: Date,
  certificatesPerBatchMax = certificatesPerBatchMaxDefault,
): Promise<{ reissued: number; refused: number }> {
  if (!Number.isSafeInteger(certificatesPerBatchMax) || certificatesPerBatchMax < 1)
    throw new RangeError('certificatesPerBatchMax must be a positive integer');
  let reissued = 0;
  let refused = 0;
  let after = '';
  for (;;) {
    const { rows } = await sql.query<CertificateRow & { signing_kid: string; display_name: string }>(
      `SELECT c.serial_number, c.party_id, c.certificate, c.revoked_at, c.signing_kid, p.display_name
       FROM key_certificates c JOIN parties p ON p.id = c.party_id
       WHERE p.kind = 'merchant' AND c.revoked_at IS NULL AND c.not_after > $1 AND c.signing_kid > $2
       ORDER BY c.signing_kid LIMIT $3`,
      [now.toISOString(), after, certificatesPerBatchMax],
    );
    for (const row of rows) {
      const outcome = await certifyName(sql, fsp, toRecord(row), row.display_name, now).catch(
        (error: unknown) => {
          if (isMpayError(error, 'REQUEST_INVALID')) return 'refused' as const;
          throw error;
        },
      );
      if (outcome === 'refused') refused += 1;
      else if (outcome !== undefined) reissued += 1;
    }
    const last = rows.at(-1);
    if (last === undefined || rows.length < certificatesPerBatchMax) return { reissued, refused };
    after = last.signing_kid;
  }
}

export async function revokeCertificate(sql: Sql, serialNumber: string, reason: string): Promise<void> {
  const updated = await sql.query(
    'UPDATE key_certificates SET revoked_at = now(), revocation_reason = $2 WHERE serial_number = $1 AND revoked_at IS NULL',
    [serialNumber, reason.slice(0, 200)],
  );
  if (updated.rowCount === 0) throw new MpayError('NOT_FOUND', 'certificate');
}

interface CertificateRow {
  serial_number: string;
  party_id: string;
  certificate: string;
  revoked_at: Date | string | null;
}

function toRecord(row: CertificateRow): CertificateRecord {
  return {
    serialNumber: row.serial_number,
    partyId: row.party_id,
    certificate: row.certificate,
    revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at),
  };
}

const certificateColumns = 'serial_number, party_id, certificate, revoked_at';

export async function certificateBySigningKid(sql: Sql, kid: string): Promise<CertificateRecord | undefined> {
  const { rows } = await sql.query<CertificateRow>(
    `SELECT ${certificateColumns} FROM key_certificates WHERE signing_kid = $1`,
    [kid],
  );
  return rows[0] === undefined ? undefined : toRecord(rows[0]);
}

/** The newest certificate of a party that is not revoked (the one others encrypt to). */
export async function currentCertificate(sql: Sql, partyId: string, now: Date): Promise<CertificateRecord> {
  const { rows } = await sql.query<CertificateRow>(
    `SELECT ${certificateColumns} FROM key_certificates
     WHERE party_id = $1 AND revoked_at IS NULL AND not_after > $2 ORDER BY not_before DESC LIMIT 1`,
    [partyId, now.toISOString()],
  );
  if (rows[0] === undefined) throw new MpayError('KEY_UNKNOWN');
  return toRecord(rows[0]);
}

/**
 * Checks a stored certificate before any of its keys is trusted: the FSP's
 * signature, the validity period, revocation, and that it belongs to `partyId`.
 */
export async function checkCertificate(
  fsp: FspIdentity,
  record: CertificateRecord,
  partyId: string,
  clockSkewSeconds: number,
  now: Date,
): Promise<KeyCertificate> {
  const verified = await verifyKeyCertificate(record.certificate, async () => fsp.signing.publicJwk, {
    isRevoked: () => record.revokedAt !== null,
    clockSkewSeconds,
    now: () => now.getTime(),
  });
  if (verified.subject !== partyId || record.partyId !== partyId)
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  return verified;
}

/**
 * A certificate the FSP issued, by its reference (the base64url SHA-256 of
 * its text; migration 0012 keeps each one, also after it was issued again),
 * while its key's certificate is not revoked: for a wallet that lost the one
 * a push names.
 */
export async function issuedCertificateByReference(sql: Sql, reference: string): Promise<string | undefined> {
  const { rows } = await sql.query<{ certificate: string }>(
    `SELECT i.certificate FROM issued_certificates i JOIN key_certificates k ON k.signing_kid = i.signing_kid
     WHERE i.certificate_sha256 = $1 AND k.revoked_at IS NULL`,
    [reference],
  );
  return rows[0]?.certificate;
}
