import {
  issueKeyCertificate,
  type KeyCertificate,
  type PublicJwk,
  verifyKeyCertificate,
} from '@mpay/envelope';
import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { FspIdentity } from '../context.ts';

export interface CertificateRecord {
  serialNumber: string;
  partyId: string;
  certificate: string;
  revokedAt: Date | null;
}

/** The FSP vouches for a party's keys: a signed certificate with a validity period, stored for lookup by kid. */
export async function certifyKeys(
  sql: Sql,
  fsp: FspIdentity,
  request: {
    partyId: string;
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
  // The same merchant registering the same key again (a retry, a restart) gets its certificate back.
  const existing = await certificateBySigningKid(sql, request.signingJwk.kid ?? '');
  if (existing === undefined || existing.partyId !== request.partyId || existing.revokedAt !== null) {
    throw new MpayError('CRYPTO_KEY_INVALID', 'key already certified');
  }
  return existing.certificate;
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
