import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { CustodyContext } from '../context.ts';
import { newOpaqueId } from '../ids.ts';

/**
 * The first half of an OPAQUE registration. The credential id is chosen here,
 * fresh and random, and remembered for a limited time: nobody can make the
 * server evaluate its OPRF under a credential that already holds a PIN (that
 * would be an uncounted oracle for guesses).
 */
export async function newRegistration(
  context: CustodyContext,
  registrationRequest: string,
): Promise<{ registrationId: string; registrationResponse: string }> {
  const now = context.clock();
  const registrationId = newOpaqueId();
  const registrationResponse = context.pins.registrationResponse(registrationId, registrationRequest);
  await context.database.transaction(async (sql) => {
    await sql.query('DELETE FROM pin_registrations WHERE expires_at <= $1', [now.toISOString()]);
    const { rows } = await sql.query<{ pending: string | number }>(
      'SELECT count(*) AS pending FROM pin_registrations WHERE used_at IS NULL',
    );
    if (Number(rows[0]?.pending ?? 0) >= context.limits.pinRegistrationsPendingMax) {
      throw new MpayError('REQUEST_RATE_LIMITED', undefined, { retryAfterSeconds: 60 });
    }
    await sql.query(
      'INSERT INTO pin_registrations (registration_id, expires_at, created_at) VALUES ($1, $2, $3)',
      [
        registrationId,
        new Date(now.getTime() + context.limits.pinRegistrationLifetimeSeconds * 1000).toISOString(),
        now.toISOString(),
      ],
    );
  });
  return { registrationId, registrationResponse };
}

/** Uses a handed-out credential id once, before it expires; false when it cannot be used. */
export async function useRegistration(sql: Sql, registrationId: string, now: Date): Promise<boolean> {
  const used = await sql.query(
    `UPDATE pin_registrations SET used_at = $2
     WHERE registration_id = $1 AND used_at IS NULL AND expires_at > $2`,
    [registrationId, now.toISOString()],
  );
  return used.rowCount === 1;
}

export async function storeCredential(
  sql: Sql,
  credentialId: string,
  partyId: string,
  registrationRecord: string,
  now: Date,
): Promise<void> {
  await sql.query(
    'INSERT INTO pin_credentials (credential_id, party_id, registration_record, created_at) VALUES ($1, $2, $3, $4)',
    [credentialId, partyId, registrationRecord, now.toISOString()],
  );
}
